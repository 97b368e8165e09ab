/**
 * Float64 reference segmented reductions of a dense NCDHW tensor: per `(n, c)` segment
 * (`"sample"`) or per channel over the batch (`"channel"`).
 *
 * @module
 */

/** What a group is: one `(n, c)` segment, or channel `c` over the whole batch. */
export type RefGroupBy = "sample" | "channel";

/**
 * Sum of each group in float64.
 *
 * @param x Dense tensor.
 * @param shape `[N, C, D, H, W]`.
 * @param groupBy Grouping.
 * @returns One sum per group.
 */
export function segmentSum(
  x: ArrayLike<number>,
  shape: readonly number[],
  groupBy: RefGroupBy,
): Float64Array {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const out = new Float64Array(groupBy === "sample" ? n * c : c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const base = (i * c + j) * s;
      let acc = 0;
      for (let k = 0; k < s; k++) acc += x[base + k];
      out[groupBy === "sample" ? i * c + j : j] += acc;
    }
  }
  return out;
}

/**
 * Mean and biased variance of each group in float64 (two passes: mean, then squared
 * deviations).
 *
 * @param x Dense tensor.
 * @param shape `[N, C, D, H, W]`.
 * @param groupBy Grouping.
 * @returns `mean` and `variance` (Σ(x − mean)²/count) per group, and the `count`.
 */
export function segmentMeanVar(
  x: ArrayLike<number>,
  shape: readonly number[],
  groupBy: RefGroupBy,
): { mean: Float64Array; variance: Float64Array; count: number } {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const count = groupBy === "sample" ? s : n * s;
  const mean = segmentSum(x, shape, groupBy).map((v) => v / count);
  const variance = new Float64Array(mean.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const g = groupBy === "sample" ? i * c + j : j;
      const base = (i * c + j) * s;
      let acc = 0;
      for (let k = 0; k < s; k++) acc += (x[base + k] - mean[g]) ** 2;
      variance[g] += acc / count;
    }
  }
  return { mean, variance, count };
}
