import assert from "node:assert/strict";
import { adjustPValues, benjaminiHochberg, holm } from "./multiple_comparisons.ts";

function close(actual: number[], expected: number[]) {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) =>
    assert.ok(
      Number.isNaN(expected[i]) ? Number.isNaN(v) : Math.abs(v - expected[i]) < 1e-12,
      `[${i}] ${v} vs ${expected[i]}`,
    )
  );
}

Deno.test("holm() matches the step-down formula and R's p.adjust", () => {
  // R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.2), "holm") = 0.04 0.09 0.09 0.025 0.2
  close(holm([0.01, 0.04, 0.03, 0.005, 0.2]), [0.04, 0.09, 0.09, 0.025, 0.2]);
  // Caps at 1 and keeps monotonicity.
  close(holm([0.5, 0.6]), [1, 1]);
  // NaN entries are skipped and do not count in m.
  close(holm([0.01, NaN, 0.02]), [0.02, NaN, 0.02]);
  close(holm([]), []);
});

Deno.test("benjaminiHochberg() matches R's p.adjust", () => {
  // R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.2), "BH") = 0.025 0.05 0.05 0.025 0.2
  close(benjaminiHochberg([0.01, 0.04, 0.03, 0.005, 0.2]), [0.025, 0.05, 0.05, 0.025, 0.2]);
});

Deno.test("adjustPValues() dispatches and validates", () => {
  close(adjustPValues([0.3, 0.01], "none"), [0.3, 0.01]);
  close(adjustPValues([0.3, 0.01], "holm"), [0.3, 0.02]);
  assert.throws(() => adjustPValues([1.5], "holm"), RangeError);
  assert.throws(() => adjustPValues([0.1], "bonferroni" as "holm"), /unknown method/);
});
