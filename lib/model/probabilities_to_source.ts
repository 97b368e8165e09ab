/**
 * Probability maps back onto a scan's source grid by trilinear interpolation — the
 * continuous counterpart of `toSourceGrid` (nearest neighbour, for label maps), with the same
 * grid map and the same support, so that labels and probabilities cover the same voxels.
 *
 * @module
 */

import type { GridMap, Vec3 } from "../data/types.ts";

/** Options of {@linkcode probabilitiesToSourceGrid}. */
export interface ProbabilitiesToSourceOptions {
  /**
   * Value of each map at source voxels outside the preprocessed field of view (one per map).
   * @default 0 for every map
   */
  outside?: readonly number[];
}

/**
 * Map probabilities `[K, D, H, W]` of a preprocessed grid onto the source grid
 * `[K, D0, H0, W0]`. Source index x sits at the continuous preprocessed coordinate
 * y = (x − offset) / scale per axis (`source = scale · index + offset`, {@linkcode GridMap});
 * the value there is the trilinear blend of the eight neighbours,
 * `Σ_{corners} Π_a (1 − |y_a − c_a|) · p[c]`, with y clamped to [0, n − 1] at the borders.
 * A source voxel is inside when round(y_a) ∈ [0, n_a) on every axis — exactly the voxels that
 * `toSourceGrid` fills — and gets `outside[k]` otherwise.
 *
 * @param probs `[K, D, H, W]` on the preprocessed grid.
 * @param shape `[D, H, W]` of the preprocessed grid.
 * @param source The source grid: `shape` `[D0, H0, W0]` and `grid` (preprocessed → source).
 * @param options Values outside the field of view.
 * @returns `[K, D0, H0, W0]` (file order of a 4-D NIfTI with the maps on the 4th axis).
 * @throws {TypeError} When `probs` is not a whole number of maps of `shape`.
 * @example
 * ```ts
 * import { probabilitiesToSourceGrid } from "./probabilities_to_source.ts";
 * // One map on 1×1×2 voxels, source grid twice as fine along W.
 * const p = probabilitiesToSourceGrid(new Float32Array([0, 1]), [1, 1, 2], {
 *   shape: [1, 1, 4],
 *   grid: { scale: [1, 1, 2], offset: [0, 0, 0.5] },
 * });
 * console.log(Array.from(p)); // [0, 0.25, 0.75, 1]
 * ```
 */
export function probabilitiesToSourceGrid(
  probs: Float32Array,
  shape: Vec3,
  source: { shape: Vec3; grid: GridMap },
  options: ProbabilitiesToSourceOptions = {},
): Float32Array {
  const [D, H, W] = shape;
  const n = D * H * W;
  const K = probs.length / n;
  if (!Number.isInteger(K) || K < 1) {
    throw new TypeError(
      `Cannot map probabilities to the source grid: ${probs.length} values are not whole maps ` +
        `of [${shape}]`,
    );
  }
  const [D0, H0, W0] = source.shape;
  const n0 = D0 * H0 * W0;
  const axes = [0, 1, 2].map((a) => _axis(source.shape[a], shape[a], source.grid, a));
  const out = new Float32Array(K * n0);
  const outside = options.outside ?? [];
  for (let k = 0; k < K; k++) {
    const p = probs.subarray(k * n, (k + 1) * n);
    const o = out.subarray(k * n0, (k + 1) * n0);
    const fill = outside[k] ?? 0;
    let i = 0;
    for (let z = 0; z < D0; z++) {
      const az = axes[0];
      for (let y = 0; y < H0; y++) {
        const ay = axes[1];
        for (let x = 0; x < W0; x++, i++) {
          const ax = axes[2];
          if (!az.inside[z] || !ay.inside[y] || !ax.inside[x]) {
            o[i] = fill;
            continue;
          }
          const z0 = az.lo[z], z1 = az.hi[z], wz = az.w[z];
          const y0 = ay.lo[y], y1 = ay.hi[y], wy = ay.w[y];
          const x0 = ax.lo[x], x1 = ax.hi[x], wx = ax.w[x];
          const at = (zz: number, yy: number, xx: number) => p[(zz * H + yy) * W + xx];
          const c00 = at(z0, y0, x0) * (1 - wx) + at(z0, y0, x1) * wx;
          const c01 = at(z0, y1, x0) * (1 - wx) + at(z0, y1, x1) * wx;
          const c10 = at(z1, y0, x0) * (1 - wx) + at(z1, y0, x1) * wx;
          const c11 = at(z1, y1, x0) * (1 - wx) + at(z1, y1, x1) * wx;
          const c0 = c00 * (1 - wy) + c01 * wy;
          const c1 = c10 * (1 - wy) + c11 * wy;
          o[i] = c0 * (1 - wz) + c1 * wz;
        }
      }
    }
  }
  return out;
}

/** Per source index along one axis: inside flag, the two neighbours and the upper weight. */
function _axis(n0: number, n: number, grid: GridMap, a: number) {
  const inside = new Uint8Array(n0);
  const lo = new Int32Array(n0);
  const hi = new Int32Array(n0);
  const w = new Float64Array(n0);
  for (let x = 0; x < n0; x++) {
    const y = (x - grid.offset[a]) / grid.scale[a];
    const r = Math.round(y);
    if (!(r >= 0 && r < n)) continue;
    inside[x] = 1;
    const c = Math.min(Math.max(y, 0), n - 1);
    lo[x] = Math.floor(c);
    hi[x] = Math.min(lo[x] + 1, n - 1);
    w[x] = c - lo[x];
  }
  return { inside, lo, hi, w };
}
