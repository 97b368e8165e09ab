/**
 * Float64 reference softmax over the channels of a dense NCDHW tensor.
 *
 * @module
 */

/**
 * Softmax over channels at every `(n, d, h, w)`: `p_c = e^(x_c − m)/Σ_k e^(x_k − m)`.
 *
 * @param x Dense `[N, C, D, H, W]` logits.
 * @param shape The shape.
 * @returns Probabilities.
 */
export function softmaxForward(x: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const p = new Float64Array(n * c * s);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < s; k++) {
      let m = -Infinity;
      for (let j = 0; j < c; j++) m = Math.max(m, x[(i * c + j) * s + k]);
      let sum = 0;
      for (let j = 0; j < c; j++) sum += Math.exp(x[(i * c + j) * s + k] - m);
      for (let j = 0; j < c; j++) {
        p[(i * c + j) * s + k] = Math.exp(x[(i * c + j) * s + k] - m) / sum;
      }
    }
  }
  return p;
}

/**
 * Softmax backward `dx_c = p_c·(dp_c − Σ_k p_k·dp_k)`.
 *
 * @param p Forward output.
 * @param dp Gradient w.r.t. `p`.
 * @param shape The shape.
 * @returns Gradient w.r.t. the logits.
 */
export function softmaxBackward(
  p: ArrayLike<number>,
  dp: ArrayLike<number>,
  shape: readonly number[],
): Float64Array {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const dx = new Float64Array(n * c * s);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < s; k++) {
      let dot = 0;
      for (let j = 0; j < c; j++) dot += p[(i * c + j) * s + k] * dp[(i * c + j) * s + k];
      for (let j = 0; j < c; j++) {
        const idx = (i * c + j) * s + k;
        dx[idx] = p[idx] * (dp[idx] - dot);
      }
    }
  }
  return dx;
}
