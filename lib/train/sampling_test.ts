import assert from "node:assert/strict";
import { SampleSchedule } from "./sampling.ts";

Deno.test("SampleSchedule epochs are seeded permutations of the training cases", () => {
  const s = new SampleSchedule(7, { seed: 3 });
  const e0 = [...s.epoch(0)];
  assert.deepEqual([...e0].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.notDeepEqual([...s.epoch(1)], e0);
  assert.deepEqual([...new SampleSchedule(7, { seed: 3 }).epoch(0)], e0);
  assert.equal(s.caseOf(9), s.epoch(1)[2]);
  assert.equal(s.epochOf(13), 1);
});

Deno.test("SampleSchedule with an ED:ES ratio of 3:1 samples ED about three times as often", () => {
  const groups = Array.from({ length: 200 }, (_, i) => (i % 2 ? "ES" : "ED"));
  const s = new SampleSchedule(200, { seed: 1, groups, groupRatio: { ED: 3, ES: 1 } });
  let ed = 0;
  for (let e = 0; e < 10; e++) for (const c of s.epoch(e)) if (groups[c] === "ED") ed++;
  const frac = ed / 2000;
  // Binomial(2000, 0.75): sd ≈ 0.0097; allow 4 sd.
  assert.ok(Math.abs(frac - 0.75) < 0.04, `ED fraction ${frac}`);
});
