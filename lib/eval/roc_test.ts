import assert from "node:assert/strict";
import { aucFromSamples, rocAuc, rocCurve } from "./roc.ts";
import { Rng } from "../core/rng.ts";

function trapezoid(points: { fpr: number; tpr: number }[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    area += (points[i].fpr - points[i - 1].fpr) * (points[i].tpr + points[i - 1].tpr) / 2;
  }
  return area;
}

Deno.test("rocCurve() handles ties with diagonal steps and the Mann–Whitney AUC", () => {
  // positives 10, 8, 8, 5; negatives 8, 5, 1
  const scores = [10, 8, 8, 5, 8, 5, 1];
  const pos = [true, true, true, true, false, false, false];
  const roc = rocCurve(scores, pos);
  // Pairs: 10 beats 3; each 8 beats 2 and ties 1 (→ 2.5 each); 5 beats 1, ties 1 (→ 1.5)
  // → (3 + 2.5 + 2.5 + 1.5) / 12 = 9.5 / 12
  assert.equal(roc.auc, 9.5 / 12);
  assert.deepEqual(roc.points.map((p) => [p.threshold, p.fpr, p.tpr]), [
    [Infinity, 0, 0],
    [10, 0, 0.25],
    [8, 1 / 3, 0.75],
    [5, 2 / 3, 1],
    [1, 1, 1],
  ]);
  assert.ok(Math.abs(trapezoid(roc.points) - roc.auc) < 1e-15);
  assert.equal(roc.positives, 4);
  assert.equal(roc.negatives, 3);
});

Deno.test("rocAuc() is 0.5 for all-tied scores and 1 / 0 for perfect separation", () => {
  assert.equal(rocAuc([3, 3, 3, 3], [true, false, true, false]), 0.5);
  assert.equal(rocAuc([4, 3, 2, 1], [true, true, false, false]), 1);
  assert.equal(rocAuc([1, 2, 3, 4], [true, true, false, false]), 0);
});

Deno.test("the exact AUC equals the trapezoidal area and the brute-force pair count", () => {
  const rng = new Rng(5, 0);
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + rng.int(40);
    // Integer scores so that ties are frequent.
    const scores = Array.from({ length: n }, () => rng.int(6));
    const positive = scores.map((s) => rng.float() < 0.3 + s / 10);
    positive[0] = true;
    positive[1] = false;
    const roc = rocCurve(scores, positive);
    let wins = 0, pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (!positive[i] || positive[j]) continue;
        pairs++;
        wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    assert.ok(Math.abs(roc.auc - wins / pairs) < 1e-12);
    assert.ok(Math.abs(trapezoid(roc.points) - roc.auc) < 1e-12);
  }
  assert.equal(aucFromSamples(new Float64Array([2]), new Float64Array([2, 1])), 0.75);
});

Deno.test("rocCurve() rejects mismatched or one-class input", () => {
  assert.throws(() => rocCurve([1, 2], [true]), TypeError);
  assert.throws(() => rocCurve([1, 2], [true, true]), /2 positive and 0 negative/);
  assert.throws(() => rocCurve([1, NaN], [true, false]), RangeError);
});
