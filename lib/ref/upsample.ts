/**
 * Float64 reference nearest-neighbour upsampling by integer factors `[fD, fH, fW]`.
 *
 * @module
 */

/**
 * Upsampling forward: `y[n, c, d, h, w] = x[n, c, ⌊d/fD⌋, ⌊h/fH⌋, ⌊w/fW⌋]`.
 *
 * @param x Dense `[N, C, D, H, W]` input.
 * @param shape The shape.
 * @param factor `[fD, fH, fW]`.
 * @returns The output `[N, C, D·fD, H·fH, W·fW]`.
 */
export function upsampleForward(
  x: ArrayLike<number>,
  shape: readonly number[],
  factor: readonly number[],
): Float64Array {
  const [n, c, d, h, w] = shape;
  const [fd, fh, fw] = factor;
  const D = d * fd;
  const H = h * fh;
  const W = w * fw;
  const y = new Float64Array(n * c * D * H * W);
  for (let nc = 0; nc < n * c; nc++) {
    for (let a = 0; a < D; a++) {
      for (let b = 0; b < H; b++) {
        for (let e = 0; e < W; e++) {
          y[((nc * D + a) * H + b) * W + e] =
            x[((nc * d + Math.floor(a / fd)) * h + Math.floor(b / fh)) * w + Math.floor(e / fw)];
        }
      }
    }
  }
  return y;
}

/**
 * Upsampling backward: `dx` sums `dy` over each `fD·fH·fW` block.
 *
 * @param dy Gradient of the output `[N, C, D·fD, H·fH, W·fW]`.
 * @param shape Input shape `[N, C, D, H, W]`.
 * @param factor `[fD, fH, fW]`.
 * @returns Gradient of the input.
 */
export function upsampleBackward(
  dy: ArrayLike<number>,
  shape: readonly number[],
  factor: readonly number[],
): Float64Array {
  const [n, c, d, h, w] = shape;
  const [fd, fh, fw] = factor;
  const D = d * fd;
  const H = h * fh;
  const W = w * fw;
  const dx = new Float64Array(n * c * d * h * w);
  for (let nc = 0; nc < n * c; nc++) {
    for (let a = 0; a < D; a++) {
      for (let b = 0; b < H; b++) {
        for (let e = 0; e < W; e++) {
          dx[((nc * d + Math.floor(a / fd)) * h + Math.floor(b / fh)) * w + Math.floor(e / fw)] +=
            dy[((nc * D + a) * H + b) * W + e];
        }
      }
    }
  }
  return dx;
}
