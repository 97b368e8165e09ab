// Calibration of the paired tests (kept fast: m = 1000 datasets × B = 399 resamples × n = 40).
//
// Tolerance: if a test's true size is exactly α = 0.05, the rejection count over m = 1000
// independent datasets is Binomial(1000, 0.05), sd = √(0.05·0.95/1000) = 0.0069; a 99.9 %
// two-sided band is 0.05 ± 3.29·0.0069 = [0.027, 0.073]. The simulation is seeded, so the
// outcome is fixed; the band says "indistinguishable from 5 % at this m". B = 399 makes
// p < 0.05 ⇔ at most 18 extreme replicates (no discreteness bias at α). Larger runs:
// docs/statistics.md.
import assert from "node:assert/strict";
import { rejectionRate } from "./calibration.ts";

const SIZE_BAND: [number, number] = [0.027, 0.073];
const BASE = { datasets: 1000, n: 40, resamples: 399, seed: 2022 } as const;

function assertSize(rate: number, what: string) {
  assert.ok(rate >= SIZE_BAND[0] && rate <= SIZE_BAND[1], `${what}: size ${rate}`);
}

Deno.test("the paired tests reject about 5 % of null datasets (normal differences)", () => {
  for (const test of ["studentized", "centred", "permutation"] as const) {
    assertSize(rejectionRate({ ...BASE, test }).rate, test);
  }
});

Deno.test("the studentized bootstrap keeps its size for skewed differences", () => {
  assertSize(rejectionRate({ ...BASE, test: "studentized", differences: "skewed" }).rate, "skewed");
});

Deno.test("the paired tests have power against a shift of half a standard deviation", () => {
  // A paired t-test at n = 40 and δ = 0.5σ has power 0.87; demand at least 0.75.
  for (const test of ["studentized", "centred", "permutation"] as const) {
    const r = rejectionRate({ ...BASE, datasets: 400, test, shift: 0.5 });
    assert.ok(r.rate >= 0.75, `${test}: power ${r.rate}`);
  }
});
