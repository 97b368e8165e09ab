/**
 * Sliding-window inference geometry and blending: window positions that cover a volume with a
 * given overlap, Gaussian or uniform importance maps, and the accumulation of window
 * predictions into a full-volume probability map.
 *
 * @module
 */

import type { Triple } from "../nn/unet_config.ts";

/** Options of {@linkcode windowStarts}. */
export interface WindowOptions {
  /** Fraction of the window shared by neighbours along each axis (0 ≤ overlap < 1). @default 0.5 */
  overlap?: number;
}

/**
 * Start positions along one axis so that windows of `win` cover `[0, size)` with at least the
 * requested overlap; the last window is flush with the end. A volume smaller than the window
 * gets one window at 0 (the caller pads).
 *
 * @param size Axis length.
 * @param win Window length.
 * @param overlap Overlap fraction in [0, 1).
 * @returns Sorted unique start positions.
 * @throws {RangeError} On a non-positive size/window or an overlap outside [0, 1).
 */
export function axisStarts(size: number, win: number, overlap: number): number[] {
  if (!(size >= 1) || !(win >= 1)) {
    throw new RangeError(`Invalid window: size ${size}, window ${win}`);
  }
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`Invalid overlap: ${overlap}`);
  if (size <= win) return [0];
  const stride = Math.max(1, Math.floor(win * (1 - overlap)));
  const n = Math.ceil((size - win) / stride) + 1;
  const starts: number[] = [];
  for (let i = 0; i < n; i++) starts.push(Math.min(i * stride, size - win));
  return [...new Set(starts)];
}

/**
 * All window origins covering a volume.
 *
 * @param size Volume size [D, H, W].
 * @param window Window size [D, H, W].
 * @param options Overlap.
 * @returns Window origins in raster order.
 */
export function windowStarts(size: Triple, window: Triple, options: WindowOptions = {}): Triple[] {
  const overlap = options.overlap ?? 0.5;
  const [zs, ys, xs] = [0, 1, 2].map((a) => axisStarts(size[a], window[a], overlap));
  const out: Triple[] = [];
  for (const z of zs) for (const y of ys) for (const x of xs) out.push([z, y, x]);
  return out;
}

/**
 * Importance map of a window: uniform ones, or a separable Gaussian with σ = size/8 per axis
 * (as nnU-Net), normalised to a maximum of 1 and floored at 1e-3 so borders still count.
 *
 * @param window Window size.
 * @param blending `"gaussian"` or `"uniform"`.
 * @returns Weights [D·H·W].
 */
export function importanceMap(window: Triple, blending: "gaussian" | "uniform"): Float32Array {
  const [d, h, w] = window;
  const out = new Float32Array(d * h * w);
  if (blending === "uniform") return out.fill(1);
  const axis = (n: number) => {
    const sigma = n / 8;
    const c = (n - 1) / 2;
    return Array.from({ length: n }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  };
  const gz = axis(d), gy = axis(h), gx = axis(w);
  let max = 0;
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = gz[z] * gy[y] * gx[x];
        out[(z * h + y) * w + x] = v;
        if (v > max) max = v;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i] / max, 1e-3);
  return out;
}

/** Accumulates weighted window predictions into a full volume. */
export class WindowAccumulator {
  /** Volume size. */
  readonly size: Triple;
  /** Channels. */
  readonly channels: number;
  #sum: Float32Array;
  #weight: Float32Array;

  /**
   * Create an accumulator.
   *
   * @param channels Output channels.
   * @param size Volume size [D, H, W].
   */
  constructor(channels: number, size: Triple) {
    this.size = size;
    this.channels = channels;
    const n = size[0] * size[1] * size[2];
    this.#sum = new Float32Array(channels * n);
    this.#weight = new Float32Array(n);
  }

  /**
   * Add one window's prediction (parts outside the volume, from padding, are dropped).
   *
   * @param pred Window prediction [C, wd, wh, ww].
   * @param window Window size.
   * @param origin Window origin in the volume.
   * @param weights Importance map of the window.
   */
  add(pred: Float32Array, window: Triple, origin: Triple, weights: Float32Array): void {
    const [D, H, W] = this.size;
    const [wd, wh, ww] = window;
    const wn = wd * wh * ww;
    const n = D * H * W;
    for (let z = 0; z < wd; z++) {
      const vz = origin[0] + z;
      if (vz >= D) break;
      for (let y = 0; y < wh; y++) {
        const vy = origin[1] + y;
        if (vy >= H) break;
        for (let x = 0; x < ww; x++) {
          const vx = origin[2] + x;
          if (vx >= W) break;
          const wi = (z * wh + y) * ww + x;
          const vi = (vz * H + vy) * W + vx;
          const g = weights[wi];
          this.#weight[vi] += g;
          for (let c = 0; c < this.channels; c++) this.#sum[c * n + vi] += g * pred[c * wn + wi];
        }
      }
    }
  }

  /**
   * The blended prediction.
   *
   * @returns Probabilities [C, D, H, W].
   * @throws {RangeError} When some voxel was covered by no window.
   */
  result(): Float32Array {
    const n = this.#weight.length;
    const out = new Float32Array(this.#sum.length);
    for (let i = 0; i < n; i++) {
      const w = this.#weight[i];
      if (!(w > 0)) throw new RangeError(`Cannot blend windows: voxel ${i} is not covered`);
      for (let c = 0; c < this.channels; c++) out[c * n + i] = this.#sum[c * n + i] / w;
    }
    return out;
  }
}

/**
 * Copy a window out of a volume (zero padding outside).
 *
 * @param volume Volume [C, D, H, W].
 * @param size Volume size.
 * @param channels C.
 * @param window Window size.
 * @param origin Window origin.
 * @param out Destination [C, wd, wh, ww] (written fully).
 * @returns `out`.
 */
export function extractWindow(
  volume: Float32Array,
  size: Triple,
  channels: number,
  window: Triple,
  origin: Triple,
  out: Float32Array,
): Float32Array {
  const [D, H, W] = size;
  const [wd, wh, ww] = window;
  const n = D * H * W;
  const wn = wd * wh * ww;
  out.fill(0);
  for (let c = 0; c < channels; c++) {
    for (let z = 0; z < wd; z++) {
      const vz = origin[0] + z;
      if (vz >= D) break;
      for (let y = 0; y < wh; y++) {
        const vy = origin[1] + y;
        if (vy >= H) break;
        const src = c * n + (vz * H + vy) * W + origin[2];
        const dst = c * wn + (z * wh + y) * ww;
        const len = Math.min(ww, W - origin[2]);
        out.set(volume.subarray(src, src + len), dst);
      }
    }
  }
  return out;
}
