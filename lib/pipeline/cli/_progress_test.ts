import assert from "node:assert/strict";
import { durationText, progressLine } from "./_progress.ts";

Deno.test("progressLine() shows the bar, the count, the rate and the ETA", () => {
  // 5 of 10 cases in 6 s: 1.2 s per case, 5 left → 6 s.
  assert.equal(
    progressLine(5, 10, 6, "case07", 10),
    "[#####     ] 5/10 case07 1.2 s/case ETA 6s",
  );
  assert.equal(progressLine(0, 3, 0, "a", 4), "[    ] 0/3 a - s/case ETA ?");
  assert.equal(progressLine(3, 3, 90, "c", 4), "[####] 3/3 c 30.0 s/case ETA 0s");
});

Deno.test("durationText() writes seconds, minutes and hours", () => {
  assert.equal(durationText(42.4), "42s");
  assert.equal(durationText(185), "3m05s");
  assert.equal(durationText(3720), "1h02m");
  assert.equal(durationText(Infinity), "?");
});
