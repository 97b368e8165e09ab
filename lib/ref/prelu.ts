/**
 * Float64 reference PReLU with one slope per channel on dense NCDHW tensors.
 *
 * @module
 */

/**
 * PReLU forward `y = x > 0 ? x : a_c·x`.
 *
 * @param x Dense `[N, C, D, H, W]` input.
 * @param shape The shape.
 * @param slope One slope per channel.
 * @returns The output.
 */
export function preluForward(
  x: ArrayLike<number>,
  shape: readonly number[],
  slope: ArrayLike<number>,
): Float64Array {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const y = new Float64Array(n * c * s);
  for (let i = 0; i < n * c; i++) {
    const a = slope[i % c];
    for (let k = 0; k < s; k++) {
      const v = x[i * s + k];
      y[i * s + k] = v > 0 ? v : a * v;
    }
  }
  return y;
}

/**
 * PReLU backward: `dx = dy·(x > 0 ? 1 : a_c)`, `da_c = Σ_{x ≤ 0} dy·x`.
 *
 * @param x Dense forward input.
 * @param dy Gradient of the output.
 * @param shape The shape.
 * @param slope One slope per channel.
 * @returns `dx` and `dslope`.
 */
export function preluBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: readonly number[],
  slope: ArrayLike<number>,
): { dx: Float64Array; dslope: Float64Array } {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const dx = new Float64Array(n * c * s);
  const dslope = new Float64Array(c);
  for (let i = 0; i < n * c; i++) {
    const j = i % c;
    for (let k = 0; k < s; k++) {
      const v = x[i * s + k];
      const g = dy[i * s + k];
      if (v > 0) dx[i * s + k] = g;
      else {
        dx[i * s + k] = slope[j] * g;
        dslope[j] += g * v;
      }
    }
  }
  return { dx, dslope };
}
