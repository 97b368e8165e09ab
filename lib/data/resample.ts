/**
 * Resampling to a target spacing with the grid centres aligned: linear for images, nearest
 * or per-class linear + argmax for labels.
 *
 * @module
 */

import { FIRST_SPECIAL_LABEL } from "../core/voxel_labels.ts";
import type { GridMap, Vec3, Volume } from "./types.ts";

/** A resampling grid: its shape and where its voxels fall in the source. */
export interface ResampleGrid extends GridMap {
  /** Output `[D, H, W]`. */
  shape: Vec3;
}

/**
 * The grid of spacing `target` whose centre coincides with the centre of the source grid.
 * Per axis: `n' = max(1, round(n·s / t))`, and output voxel x samples the source at
 * `(n − 1)/2 + (x − (n' − 1)/2)·t/s`.
 *
 * @param shape Source `[D, H, W]`.
 * @param spacing Source spacing `[sd, sh, sw]`.
 * @param target Target spacing `[sd, sh, sw]`.
 * @returns The grid (`source = scale · x + offset`).
 * @throws {RangeError} When a spacing is not positive.
 * @example
 * ```ts
 * import { alignedGrid } from "./resample.ts";
 * console.log(alignedGrid([10, 4, 4], [1, 1, 1], [2, 1, 1]).shape); // [5, 4, 4]
 * ```
 */
export function alignedGrid(shape: Vec3, spacing: Vec3, target: Vec3): ResampleGrid {
  for (const s of [...spacing, ...target]) {
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new RangeError(`Cannot resample: spacing [${spacing}] → [${target}] is not positive`);
    }
  }
  const out = shape.map((n, a) => Math.max(1, Math.round((n * spacing[a]) / target[a]))) as Vec3;
  const scale = target.map((t, a) => t / spacing[a]) as Vec3;
  const offset = shape.map((n, a) => (n - 1) / 2 - (scale[a] * (out[a] - 1)) / 2) as Vec3;
  return { shape: out, scale, offset };
}

function _isIdentity(shape: Vec3, grid: ResampleGrid): boolean {
  return [0, 1, 2].every((a) =>
    grid.shape[a] === shape[a] && grid.scale[a] === 1 && grid.offset[a] === 0
  );
}

function _weights(n: number, m: number, scale: number, offset: number) {
  const i0 = new Int32Array(m);
  const i1 = new Int32Array(m);
  const w = new Float64Array(m);
  for (let x = 0; x < m; x++) {
    const s = Math.min(n - 1, Math.max(0, scale * x + offset));
    const f = Math.floor(s);
    i0[x] = f;
    i1[x] = Math.min(f + 1, n - 1);
    w[x] = s - f;
  }
  return { i0, i1, w };
}

// One 1-D linear pass along `axis` of a [B, D, H, W] block (B stacked volumes).
function _pass(
  src: Float32Array,
  dims: [number, number, number, number],
  axis: 1 | 2 | 3,
  m: number,
  scale: number,
  offset: number,
): { data: Float32Array; dims: [number, number, number, number] } {
  const n = dims[axis];
  const { i0, i1, w } = _weights(n, m, scale, offset);
  const outDims = [...dims] as [number, number, number, number];
  outDims[axis] = m;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const out = new Float32Array(outer * m * inner);
  for (let o = 0; o < outer; o++) {
    const sBase = o * n * inner;
    const dBase = o * m * inner;
    for (let x = 0; x < m; x++) {
      const a = sBase + i0[x] * inner, b = sBase + i1[x] * inner, t = w[x];
      const d = dBase + x * inner;
      if (t === 0) {
        for (let r = 0; r < inner; r++) out[d + r] = src[a + r];
      } else {
        for (let r = 0; r < inner; r++) out[d + r] = src[a + r] + t * (src[b + r] - src[a + r]);
      }
    }
  }
  return { data: out, dims: outDims };
}

/**
 * Trilinear resampling (separable, edges clamped) of a `[C, D, H, W]` volume onto a grid.
 *
 * @param volume Values `[C, D, H, W]` with their shape and channels.
 * @param grid Target grid (e.g. from {@linkcode alignedGrid}).
 * @returns A new `[C, D', H', W']` Float32Array.
 * @throws {TypeError} When the data length does not match.
 * @example
 * ```ts
 * import { alignedGrid, resampleLinear } from "./resample.ts";
 * const data = new Float32Array([0, 10]); // [1, 1, 2] at 2 mm
 * const g = alignedGrid([1, 1, 2], [1, 1, 2], [1, 1, 1]); // 4 voxels at 1 mm
 * console.log(Array.from(resampleLinear({ data, shape: [1, 1, 2] }, g))); // [0, 2.5, 7.5, 10]
 * ```
 */
export function resampleLinear(volume: Volume<Float32Array>, grid: ResampleGrid): Float32Array {
  const { data, shape } = volume;
  const channels = volume.channels ?? 1;
  const [D, H, W] = shape;
  if (data.length !== channels * D * H * W) {
    throw new TypeError(
      `Cannot resample: volume has ${data.length} values, [${channels}, ${shape}] needs ` +
        channels * D * H * W,
    );
  }
  if (_isIdentity(shape, grid)) return data.slice();
  let cur = { data, dims: [channels, D, H, W] as [number, number, number, number] };
  // W first, then H, then D: each pass only touches what the previous one produced.
  for (const axis of [3, 2, 1] as const) {
    const a = axis - 1;
    if (grid.shape[a] === shape[a] && grid.scale[a] === 1 && grid.offset[a] === 0) continue;
    cur = _pass(cur.data, cur.dims, axis, grid.shape[a], grid.scale[a], grid.offset[a]);
  }
  return cur.data === data ? data.slice() : cur.data;
}

/**
 * Nearest-neighbour resampling of a label map (source index `round(scale·x + offset)`, ties
 * rounding up, clamped to the volume).
 *
 * @param volume Class indices `[D, H, W]` with their shape.
 * @param grid Target grid.
 * @returns A new `[D', H', W']` Uint8Array.
 * @throws {TypeError} When the label length does not match.
 */
export function resampleNearest(volume: Volume<Uint8Array>, grid: ResampleGrid): Uint8Array {
  const { data: label, shape } = volume;
  const [D, H, W] = shape;
  if (label.length !== D * H * W) {
    throw new TypeError(`Cannot resample: label has ${label.length} values, not [${shape}]`);
  }
  const idx = [0, 1, 2].map((a) => {
    const m = grid.shape[a];
    const out = new Int32Array(m);
    for (let x = 0; x < m; x++) {
      out[x] = Math.min(shape[a] - 1, Math.max(0, Math.round(grid.scale[a] * x + grid.offset[a])));
    }
    return out;
  });
  const [d2, h2, w2] = grid.shape;
  const out = new Uint8Array(d2 * h2 * w2);
  let o = 0;
  for (let z = 0; z < d2; z++) {
    const zb = idx[0][z] * H;
    for (let y = 0; y < h2; y++) {
      const yb = (zb + idx[1][y]) * W;
      for (let x = 0; x < w2; x++) out[o++] = label[yb + idx[2][x]];
    }
  }
  return out;
}

/**
 * Per-class linear resampling + argmax: each class's indicator map is resampled linearly
 * and every output voxel takes the class with the largest value (the lowest class index on
 * ties). Smoother than nearest for thin structures such as the myocardium. Ignore and
 * label-set marks (values from `FIRST_SPECIAL_LABEL` up) are resampled as further classes.
 *
 * @param volume Class indices `[D, H, W]` in 0..K−1 (or marks) with their shape.
 * @param grid Target grid.
 * @param options The number of classes K.
 * @returns A new `[D', H', W']` Uint8Array.
 * @throws {TypeError} When the label length does not match.
 */
export function resampleLabelLinear(
  volume: Volume<Uint8Array>,
  grid: ResampleGrid,
  options: { classes: number },
): Uint8Array {
  const { data: label, shape } = volume;
  const classes = options.classes;
  if (label.length !== shape[0] * shape[1] * shape[2]) {
    throw new TypeError(`Cannot resample: label has ${label.length} values, not [${shape}]`);
  }
  if (_isIdentity(shape, grid)) return label.slice();
  const n = grid.shape[0] * grid.shape[1] * grid.shape[2];
  const best = new Float32Array(n).fill(-1);
  const out = new Uint8Array(n);
  const indicator = new Float32Array(label.length);
  // The classes, then any ignore / label-set marks present (lib/core/voxel_labels.ts): a mark
  // is resampled like one more class.
  const values = Array.from({ length: classes }, (_, c) => c);
  const seen = new Uint8Array(256);
  for (let i = 0; i < label.length; i++) seen[label[i]] = 1;
  for (let v = FIRST_SPECIAL_LABEL; v < 256; v++) if (seen[v]) values.push(v);
  for (const c of values) {
    let any = false;
    for (let i = 0; i < label.length; i++) {
      const hit = label[i] === c;
      indicator[i] = hit ? 1 : 0;
      any ||= hit;
    }
    if (!any && c > 0) continue;
    const r = resampleLinear({ data: indicator, shape }, grid);
    for (let i = 0; i < n; i++) {
      if (r[i] > best[i]) {
        best[i] = r[i];
        out[i] = c;
      }
    }
  }
  return out;
}
