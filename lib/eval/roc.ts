/**
 * ROC analysis of detecting a group from a score, e.g. the always-labelled group (HGG, ED) from
 * the predicted volume (Tilborghs, Bertels et al. 2022, Fig. 2). The AUC is exact with ties:
 * the Mann–Whitney statistic AUC = P(X⁺ > X⁻) + ½·P(X⁺ = X⁻), which equals the trapezoidal area
 * under the empirical curve whose tied scores form diagonal segments.
 *
 * @module
 */

/** One operating point: a case is called positive when its score ≥ threshold. */
export interface RocPoint {
  /** Threshold (`Infinity` for the (0, 0) corner). */
  threshold: number;
  /** False-positive rate 1 − specificity. */
  fpr: number;
  /** True-positive rate (sensitivity). */
  tpr: number;
}

/** An empirical ROC curve. */
export interface RocCurve {
  /** Points from (0, 0) to (1, 1), one per distinct score plus the corner. */
  points: RocPoint[];
  /** Exact AUC (Mann–Whitney, ties count ½). */
  auc: number;
  /** Number of positive cases. */
  positives: number;
  /** Number of negative cases. */
  negatives: number;
}

/**
 * Empirical ROC curve and exact AUC.
 *
 * @param scores Score per case (e.g. predicted volume in ml); higher means "more positive".
 * @param positive Whether each case belongs to the group to detect.
 * @returns The curve, its AUC and the class counts.
 * @throws {TypeError} When the lengths differ.
 * @throws {RangeError} When a score is not finite or a class is absent.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rocCurve } from "./roc.ts";
 * const roc = rocCurve([3, 2, 2, 1], [true, true, false, false]);
 * // pairs (+,−): (3,2) (3,1) (2,2)=½ (2,1) → 3.5 / 4
 * assert(roc.auc === 0.875);
 * assert(roc.points.length === 4);
 * ```
 */
export function rocCurve(scores: ArrayLike<number>, positive: ArrayLike<boolean>): RocCurve {
  const { pos, neg } = splitByClass(scores, positive);
  const order = Array.from({ length: scores.length }, (_, i) => i)
    .sort((i, j) => scores[j] - scores[i]);
  const points: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0, fp = 0;
  for (let k = 0; k < order.length;) {
    const t = scores[order[k]];
    // A group of tied scores moves in one (possibly diagonal) step.
    while (k < order.length && scores[order[k]] === t) {
      if (positive[order[k]]) tp++;
      else fp++;
      k++;
    }
    points.push({ threshold: t, fpr: fp / neg.length, tpr: tp / pos.length });
  }
  return { points, auc: aucFromSamples(pos, neg), positives: pos.length, negatives: neg.length };
}

/**
 * Exact AUC by the Mann–Whitney statistic with midranks for ties:
 * AUC = (R⁺ − n⁺(n⁺ + 1)/2) / (n⁺ n⁻), R⁺ the rank sum of the positives.
 *
 * @param scores Score per case.
 * @param positive Whether each case is positive.
 * @returns The AUC in [0, 1].
 * @throws {TypeError} When the lengths differ.
 * @throws {RangeError} When a score is not finite or a class is absent.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rocAuc } from "./roc.ts";
 * assert(rocAuc([1, 1], [true, false]) === 0.5);
 * ```
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const { pos, neg } = splitByClass(scores, positive);
  return aucFromSamples(pos, neg);
}

/**
 * Split scores into positive and negative samples.
 *
 * @param scores Score per case.
 * @param positive Class per case.
 * @returns The positive and negative scores.
 * @throws {TypeError} When the lengths differ.
 * @throws {RangeError} When a score is not finite or a class is absent.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitByClass } from "./roc.ts";
 * const { pos, neg } = splitByClass([3, 1, 2], [true, false, true]);
 * assert.deepEqual([[...pos], [...neg]], [[3, 2], [1]]);
 * ```
 */
export function splitByClass(
  scores: ArrayLike<number>,
  positive: ArrayLike<boolean>,
): { pos: Float64Array; neg: Float64Array } {
  if (scores.length !== positive.length) {
    throw new TypeError(
      `Cannot compute ROC: ${scores.length} scores but ${positive.length} labels`,
    );
  }
  let np = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new RangeError(`Cannot compute ROC: score ${i} is ${scores[i]}`);
    }
    if (positive[i]) np++;
  }
  const nn = scores.length - np;
  if (np === 0 || nn === 0) {
    throw new RangeError(`Cannot compute ROC: ${np} positive and ${nn} negative cases`);
  }
  const pos = new Float64Array(np), neg = new Float64Array(nn);
  for (let i = 0, a = 0, b = 0; i < scores.length; i++) {
    if (positive[i]) pos[a++] = scores[i];
    else neg[b++] = scores[i];
  }
  return { pos, neg };
}

/**
 * Mann–Whitney AUC of two samples: Σ over pairs of [x⁺ > x⁻] + ½[x⁺ = x⁻], divided by n⁺n⁻.
 * O((n⁺ + n⁻) log) via sorting; the inputs are not modified.
 *
 * @param pos Positive scores.
 * @param neg Negative scores.
 * @returns The AUC.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aucFromSamples } from "./roc.ts";
 * // (2 vs 2) ties → ½, (2 vs 1) wins → 1: (0.5 + 1) / 2
 * assert.equal(aucFromSamples(new Float64Array([2]), new Float64Array([2, 1])), 0.75);
 * ```
 */
export function aucFromSamples(pos: Float64Array, neg: Float64Array): number {
  const p = pos.slice().sort();
  const q = neg.slice().sort();
  let wins = 0;
  let lo = 0, hi = 0; // q[0..lo) < x, q[0..hi) ≤ x for the current x (p ascending)
  for (let i = 0; i < p.length; i++) {
    const x = p[i];
    while (lo < q.length && q[lo] < x) lo++;
    if (hi < lo) hi = lo;
    while (hi < q.length && q[hi] <= x) hi++;
    wins += lo + 0.5 * (hi - lo);
  }
  return wins / (p.length * q.length);
}
