/**
 * Float64 reference LeakyReLU.
 *
 * @module
 */

/**
 * LeakyReLU forward in float64.
 *
 * @param x Input.
 * @param slope Negative slope.
 * @returns `x > 0 ? x : slope·x`.
 */
export function leakyReluForward(x: ArrayLike<number>, slope: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : slope * x[i];
  return y;
}

/**
 * LeakyReLU backward in float64.
 *
 * @param x Forward input.
 * @param dy Gradient of the output.
 * @param slope Negative slope.
 * @returns Gradient of the input.
 */
export function leakyReluBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  slope: number,
): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dy[i] : slope * dy[i];
  return dx;
}
