/**
 * Float64 reference max-pooling with window = stride `[kD, kH, kW]`, no padding, floor mode
 * (trailing planes that do not fill a window are dropped), ties → the first voxel of the
 * window in (d, h, w) order.
 *
 * @module
 */

/**
 * Max-pool forward.
 *
 * @param x Dense `[N, C, D, H, W]` input.
 * @param shape The shape.
 * @param window `[kD, kH, kW]`.
 * @returns The output `y` (`[N, C, ⌊D/kD⌋, ⌊H/kH⌋, ⌊W/kW⌋]`), its shape, and the flat input
 *   index of each output's maximum.
 */
export function maxPoolForward(
  x: ArrayLike<number>,
  shape: readonly number[],
  window: readonly number[],
): { y: Float64Array; shape: number[]; argmax: Int32Array } {
  const [n, c, d, h, w] = shape;
  const [kd, kh, kw] = window;
  const od = Math.floor(d / kd);
  const oh = Math.floor(h / kh);
  const ow = Math.floor(w / kw);
  const y = new Float64Array(n * c * od * oh * ow);
  const argmax = new Int32Array(y.length);
  let o = 0;
  for (let nc = 0; nc < n * c; nc++) {
    for (let a = 0; a < od; a++) {
      for (let b = 0; b < oh; b++) {
        for (let e = 0; e < ow; e++) {
          let best = -Infinity;
          let arg = -1;
          for (let i = 0; i < kd; i++) {
            for (let j = 0; j < kh; j++) {
              for (let k = 0; k < kw; k++) {
                const idx = ((nc * d + a * kd + i) * h + b * kh + j) * w + e * kw + k;
                if (arg < 0 || x[idx] > best) {
                  best = x[idx];
                  arg = idx;
                }
              }
            }
          }
          y[o] = best;
          argmax[o++] = arg;
        }
      }
    }
  }
  return { y, shape: [n, c, od, oh, ow], argmax };
}

/**
 * Max-pool backward: `dy` goes to each window's argmax, 0 elsewhere.
 *
 * @param x Dense forward input.
 * @param dy Gradient of the output.
 * @param shape Input shape.
 * @param window `[kD, kH, kW]`.
 * @returns Gradient of the input.
 */
export function maxPoolBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: readonly number[],
  window: readonly number[],
): Float64Array {
  const { argmax } = maxPoolForward(x, shape, window);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < argmax.length; o++) dx[argmax[o]] += dy[o];
  return dx;
}
