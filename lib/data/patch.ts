/**
 * Training patches: a seeded, pure crop of a loaded case, centred on foreground with a given
 * probability, padded where the case is smaller than the patch.
 *
 * @module
 */

import type { Rng } from "../core/rng.ts";
import { isClassLabel } from "../core/voxel_labels.ts";
import { extractRegion } from "./region.ts";
import type { Vec3 } from "./types.ts";

/** What {@linkcode samplePatch} needs of a case (a `LoadedCase` has all of it). */
export interface PatchSource {
  /** Intensities `[C, D, H, W]`. */
  image: Float32Array;
  /** Class indices `[D, H, W]`. */
  label: Uint8Array;
  /** Channels C. */
  channels: number;
  /** `[D, H, W]`. */
  shape: Vec3;
  /** Per-channel pad value. @default 0 */
  padValue?: readonly number[];
}

/** Options of {@linkcode samplePatch}. */
export interface SamplePatchOptions {
  /** Probability that the patch is centred on a foreground voxel. @default 0.5 */
  foregroundProbability?: number;
  /** Label values that count as foreground. @default every class value > 0 (no marks) */
  foregroundClasses?: readonly number[];
}

/** A patch and where it came from. */
export interface Patch {
  /** Intensities `[C, d, h, w]`. */
  image: Float32Array;
  /** Class indices `[d, h, w]`. */
  label: Uint8Array;
  /** Index in the case of the patch's voxel 0 (negative where padded). */
  origin: Vec3;
  /** Whether the patch was centred on foreground. */
  foreground: boolean;
}

/** A class value > 0 (not an ignore or label-set mark). */
function _isForeground(v: number): boolean {
  return v > 0 && isClassLabel(v);
}

const _foregroundCache = new WeakMap<Uint8Array, Map<string, Int32Array>>();

function _foreground(label: Uint8Array, classes?: readonly number[]): Int32Array {
  const key = classes ? classes.join(",") : "*";
  let perLabel = _foregroundCache.get(label);
  if (!perLabel) _foregroundCache.set(label, perLabel = new Map());
  const hit = perLabel.get(key);
  if (hit) return hit;
  const set = classes ? new Set(classes) : undefined;
  let count = 0;
  for (let i = 0; i < label.length; i++) {
    if (set ? set.has(label[i]) : _isForeground(label[i])) count++;
  }
  const out = new Int32Array(count);
  let k = 0;
  for (let i = 0; i < label.length; i++) {
    if (set ? set.has(label[i]) : _isForeground(label[i])) out[k++] = i;
  }
  perLabel.set(key, out);
  return out;
}

/**
 * Sample one training patch. Along each axis the patch origin ranges over
 * `[min(0, n − p), max(0, n − p)]`: inside the volume when it is larger than the patch, and
 * with the volume somewhere inside the (padded) patch when it is smaller. With probability
 * `foregroundProbability` (and when the case has foreground) the patch is centred on a
 * uniformly drawn foreground voxel, clamped to that range; otherwise the origin is uniform.
 *
 * Random draws: one `float()` for the choice, then either one `int()` for the voxel or one
 * `int()` per axis, so a patch depends only on the case and the `rng` state.
 *
 * @param source The case.
 * @param patchSize Patch `[d, h, w]`.
 * @param rng Seeded generator (e.g. `new Rng(seed, sampleIndex)`).
 * @param options Foreground probability and classes.
 * @returns The patch.
 * @throws {RangeError} When the patch size is not positive integers or the probability is
 *   outside [0, 1].
 * @example
 * ```ts
 * import { Rng } from "../core/rng.ts";
 * import { samplePatch } from "./patch.ts";
 * const src = { image: new Float32Array(8), label: new Uint8Array(8), channels: 1, shape: [2, 2, 2] as [number, number, number] };
 * console.log(samplePatch(src, [2, 4, 4], new Rng(1)).image.length); // 32
 * ```
 */
export function samplePatch(
  source: PatchSource,
  patchSize: Vec3,
  rng: Rng,
  options: SamplePatchOptions = {},
): Patch {
  const p = options.foregroundProbability ?? 0.5;
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(`Cannot sample patch: foregroundProbability is ${p}`);
  }
  if (patchSize.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new RangeError(`Cannot sample patch: size [${patchSize}] is not positive integers`);
  }
  const shape = source.shape;
  const lo = shape.map((n, a) => Math.min(0, n - patchSize[a]));
  const hi = shape.map((n, a) => Math.max(0, n - patchSize[a]));
  const wantForeground = rng.float() < p;
  const fg = wantForeground ? _foreground(source.label, options.foregroundClasses) : undefined;
  let origin: Vec3;
  let foreground = false;
  if (fg && fg.length > 0) {
    const v = fg[rng.int(fg.length)];
    const [, H, W] = shape;
    const at = [Math.floor(v / (H * W)), Math.floor(v / W) % H, v % W];
    origin = at.map((c, a) =>
      Math.min(hi[a], Math.max(lo[a], c - Math.floor(patchSize[a] / 2)))
    ) as Vec3;
    foreground = true;
  } else {
    origin = [0, 1, 2].map((a) => lo[a] + rng.int(hi[a] - lo[a] + 1)) as Vec3;
  }
  return {
    image: extractRegion(
      { data: source.image, shape, channels: source.channels },
      { origin, size: patchSize },
      { padValue: source.padValue ?? 0 },
    ),
    label: extractRegion({ data: source.label, shape }, { origin, size: patchSize }),
    origin,
    foreground,
  };
}
