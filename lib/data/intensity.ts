/**
 * Intensity normalisation per channel: percentile clipping and z-scoring, over all voxels
 * or over a foreground mask (non-zero voxels of skull-stripped brains).
 *
 * @module
 */

/**
 * The p-th percentile of values with linear interpolation between order statistics (numpy's
 * default): position `p/100 · (n − 1)` in the sorted values.
 *
 * @param sorted Values sorted ascending.
 * @param p Percentile in [0, 100].
 * @returns The percentile.
 * @throws {RangeError} When there are no values or p is outside [0, 100].
 * @example
 * ```ts
 * import { percentile } from "./intensity.ts";
 * console.log(percentile([1, 2, 3, 4, 5], 10)); // 1.4
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError("Cannot compute a percentile: no values");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Cannot compute a percentile: p is ${p}`);
  const pos = (p / 100) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The union over channels of the non-zero voxels of a `[C, ...]` image.
 *
 * @param image Values `[C, N]` flattened.
 * @param channels C.
 * @returns 1 where any channel is non-zero, `[N]`.
 */
export function nonzeroMask(image: Float32Array, channels: number): Uint8Array {
  const n = image.length / channels;
  const mask = new Uint8Array(n);
  for (let c = 0; c < channels; c++) {
    const base = c * n;
    for (let i = 0; i < n; i++) if (image[base + i] !== 0) mask[i] = 1;
  }
  return mask;
}

/** Options of {@linkcode normalizeIntensities}. */
export interface NormalizeOptions {
  /** Channels C of the `[C, …]` image. @default 1 */
  channels?: number;
  /** Percentiles `[lo, hi]` to clip to; `null` to skip. @default [0.5, 99.5] */
  clipPercentiles?: readonly [number, number] | null;
  /** Subtract the mean and divide by the standard deviation (population). @default true */
  zscore?: boolean;
  /**
   * Statistics over these voxels only (1 = in); voxels outside are set to 0 after z-scoring.
   * @default every voxel
   */
  mask?: Uint8Array;
}

/**
 * Normalise each channel in place: clip to its `[lo, hi]` percentiles, then z-score
 * `(x − μ) / σ`; μ, σ (population) and the percentiles come from the masked voxels. A
 * channel with σ = 0 is only centred.
 *
 * @param image Values `[C, N]`, modified in place.
 * @param options Channels, percentiles, z-score switch, mask.
 * @returns Per channel: the statistics and the value of the clipped minimum after
 *   normalisation (the natural pad value), or 0 with a mask.
 * @throws {RangeError} When the mask selects no voxel of a channel.
 * @example
 * ```ts
 * import { normalizeIntensities } from "./intensity.ts";
 * const x = new Float32Array([1, 2, 3, 4]);
 * normalizeIntensities(x, { clipPercentiles: null });
 * console.log(Array.from(x, (v) => v.toFixed(3))); // ["-1.342", "-0.447", "0.447", "1.342"]
 * ```
 */
export function normalizeIntensities(
  image: Float32Array,
  options: NormalizeOptions = {},
): { lo: number; hi: number; mean: number; std: number; padValue: number }[] {
  const channels = options.channels ?? 1;
  const n = image.length / channels;
  const clip = options.clipPercentiles === undefined ? [0.5, 99.5] : options.clipPercentiles;
  const mask = options.mask;
  if (mask && mask.length !== n) {
    throw new TypeError(`Cannot normalise intensities: mask has ${mask.length} values, not ${n}`);
  }
  const out = [];
  for (let c = 0; c < channels; c++) {
    const ch = image.subarray(c * n, (c + 1) * n);
    let count = 0;
    for (let i = 0; i < n; i++) if (!mask || mask[i]) count++;
    if (count === 0) {
      throw new RangeError(
        `Cannot normalise intensities: the mask selects no voxel (channel ${c})`,
      );
    }
    let lo = -Infinity, hi = Infinity;
    if (clip) {
      const vals = new Float32Array(count);
      let k = 0;
      for (let i = 0; i < n; i++) if (!mask || mask[i]) vals[k++] = ch[i];
      vals.sort();
      lo = percentile(vals, clip[0]);
      hi = percentile(vals, clip[1]);
      for (let i = 0; i < n; i++) {
        if (!mask || mask[i]) ch[i] = ch[i] < lo ? lo : ch[i] > hi ? hi : ch[i];
      }
    }
    let sum = 0;
    for (let i = 0; i < n; i++) if (!mask || mask[i]) sum += ch[i];
    const mean = sum / count;
    let ss = 0;
    for (let i = 0; i < n; i++) if (!mask || mask[i]) ss += (ch[i] - mean) ** 2;
    const std = Math.sqrt(ss / count);
    let padValue = 0;
    if (options.zscore ?? true) {
      const inv = std > 0 ? 1 / std : 1;
      let min = Infinity;
      for (let i = 0; i < n; i++) {
        if (!mask || mask[i]) {
          ch[i] = (ch[i] - mean) * inv;
          if (ch[i] < min) min = ch[i];
        } else ch[i] = 0;
      }
      padValue = mask ? 0 : min;
    } else {
      let min = Infinity;
      for (let i = 0; i < n; i++) if (ch[i] < min) min = ch[i];
      padValue = mask ? 0 : min;
    }
    out.push({ lo, hi, mean, std, padValue });
  }
  return out;
}
