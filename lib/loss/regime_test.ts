import assert from "node:assert/strict";
import { analyzeRegime, regimeOf } from "./regime.ts";

// 3 labelled maps (volume 1000) for each missing one (true volume 1000, training target empty),
// as with BRATS partial labels (LGG targets replaced by empty maps).
const maps = Array.from({ length: 40 }, (_, i) => ({
  train: [i % 4 === 3 ? 0 : 1000],
  predicted: [1000],
}));

Deno.test("analyzeRegime() predicts the paper's regimes for I, I_ε, BI and leaf", () => {
  const I = analyzeRegime(maps, { phi: "I", epsilon: 1e-7, batchSize: 2 })[0];
  assert.equal(I.regime, "ignores missing labels");
  assert.equal(I.emptyMapFraction, 0.25);
  // Closed form: g0 = ε/(|Φ|(v+ε)²) vs |g1| = 0.75/(v|Φ|) → ratio ≈ 1e-7/(0.75·1000).
  assert.ok(Math.abs(I.ratio - 1e-7 / 750) / (1e-7 / 750) < 1e-3, String(I.ratio));
  const eps = 750; // heuristic: mean training volume
  const Ieps = analyzeRegime(maps, { phi: "I", epsilon: eps, batchSize: 2 })[0];
  assert.equal(Ieps.regime, "learns empty maps");
  const BI1 = analyzeRegime(maps, { phi: "BI", epsilon: 1e-7, batchSize: 1 })[0];
  assert.equal(BI1.regime, "ignores missing labels");
  const BI4 = analyzeRegime(maps, { phi: "BI", epsilon: 1e-7, batchSize: 4 })[0];
  assert.equal(BI4.regime, "learns empty maps");
  // P(all 4 maps missing) = 0.25⁴ ≈ 0.004 of the BI subsets are empty.
  assert.ok(BI4.emptySubsetFraction < 0.02);
  const leaf = analyzeRegime(maps, { phi: "I", epsilon: eps, batchSize: 2, leaf: true })[0];
  assert.equal(leaf.gradEmpty, 0);
  assert.equal(leaf.regime, "ignores missing labels");
});

Deno.test("regimeOf() thresholds", () => {
  assert.equal(regimeOf(0.2), "learns empty maps");
  assert.equal(regimeOf(1e-9), "ignores missing labels");
  assert.equal(regimeOf(0.01), "transition");
});
