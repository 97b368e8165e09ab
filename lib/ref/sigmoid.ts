/**
 * Float64 reference logistic sigmoid.
 *
 * @module
 */

/**
 * Sigmoid forward `1/(1 + e^(−x))`, evaluated without overflow.
 *
 * @param x Logits.
 * @returns Probabilities.
 */
export function sigmoidForward(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const e = Math.exp(-Math.abs(x[i]));
    y[i] = x[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
  }
  return y;
}

/**
 * Sigmoid backward `dx = dy·y·(1 − y)`.
 *
 * @param y Forward output.
 * @param dy Gradient w.r.t. `y`.
 * @returns Gradient w.r.t. the logits.
 */
export function sigmoidBackward(y: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
  return dx;
}
