/**
 * Per-case, per-class segmentation metrics on hard label maps: Dice similarity coefficient
 * (DSC), predicted and true volume in ml, and the volume difference ΔV = predicted − true
 * (Tilborghs, Bertels et al. 2022, Table 1).
 *
 * Empty-vs-empty convention: when both the prediction and the ground truth of a class are
 * empty, DSC = 1 by default (the prediction is exactly right, and it is the limit ε → 0 of
 * (2|P∩T| + ε)/(|P| + |T| + ε), which is what the authors' evaluation code computes with
 * ε = 1e-7). `emptyDice: "nan"` makes it undefined instead (NaN), as nnU-Net's evaluation and
 * MONAI's `DiceMetric(ignore_empty=True)` do; result rows store it as `null` and every
 * aggregate leaves such cases out and says how many it used (docs/statistics.md). An empty
 * prediction of a non-empty truth, or a non-empty prediction of an empty truth, gives DSC = 0.
 * Volumes are always defined.
 *
 * @module
 */

import { IGNORE_LABEL } from "../core/voxel_labels.ts";

/**
 * The DSC of an empty prediction of an empty truth: a number (1 by default), or `"nan"` for
 * "undefined" (NaN; nnU-Net, MONAI `ignore_empty`).
 */
export type EmptyDice = number | "nan";

/**
 * The number an empty-vs-empty convention stands for.
 *
 * @param emptyDice A number, or `"nan"`.
 * @returns The number (NaN for `"nan"`).
 * @throws {RangeError} When it is neither a number nor `"nan"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveEmptyDice } from "./metrics.ts";
 * assert(resolveEmptyDice(1) === 1 && Number.isNaN(resolveEmptyDice("nan")));
 * ```
 */
export function resolveEmptyDice(emptyDice: EmptyDice): number {
  if (emptyDice === "nan") return NaN;
  if (typeof emptyDice !== "number") {
    throw new RangeError(
      `Invalid emptyDice: expected a number or "nan", got ${JSON.stringify(emptyDice)}`,
    );
  }
  return emptyDice;
}

/** Metrics of one class (or region) in one case. */
export interface ClassMetrics {
  /** Label value (for regions: the region's number 1..R). */
  classIndex: number;
  /** Class name. */
  className: string;
  /**
   * Dice similarity coefficient 2|P∩T|/(|P| + |T|), or `emptyDice` when both are empty (NaN
   * for `"nan"`).
   */
  dsc: number;
  /** Predicted voxels |P|. */
  predVoxels: number;
  /** True voxels |T|. */
  trueVoxels: number;
  /** Overlap |P∩T|. */
  intersectionVoxels: number;
  /** Predicted volume in ml (|P| · voxel volume). */
  predVolumeMl: number;
  /** True volume in ml. */
  trueVolumeMl: number;
  /** ΔV = predicted − true volume in ml. */
  deltaVolumeMl: number;
}

/** Options of {@linkcode caseMetrics}. */
export interface CaseMetricsOptions {
  /** Voxel spacing `[sd, sh, sw]` in mm. */
  spacing: readonly [number, number, number];
  /**
   * Classes to report: names of the label values 1..K (`["LV", "MYO", "RV"]`), or a map from
   * label value to name (`{ 2: "MYO" }`).
   */
  classes: readonly string[] | Readonly<Record<number, string>>;
  /**
   * Regions instead of classes (a region-based dataset): the label values of each region, one
   * per name of `classes` (then an array); region r's mask is `label ∈ regions[r]`, in both maps.
   */
  regions?: readonly (readonly number[])[];
  /**
   * DSC reported when prediction and truth are both empty: a number, or `"nan"` (undefined;
   * left out of every aggregate).
   * @default 1
   */
  emptyDice?: EmptyDice;
}

/**
 * Volume of one voxel in ml (1 ml = 1000 mm³).
 *
 * @param spacing Voxel spacing in mm, any order.
 * @returns sd · sh · sw / 1000.
 * @throws {RangeError} When a spacing is not a positive finite number.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { voxelVolumeMl } from "./metrics.ts";
 * assert(voxelVolumeMl([2, 2, 2]) === 0.008);
 * ```
 */
export function voxelVolumeMl(spacing: readonly number[]): number {
  if (spacing.length !== 3 || !spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new RangeError(`Cannot compute voxel volume: spacing is [${spacing.join(", ")}]`);
  }
  return (spacing[0] * spacing[1] * spacing[2]) / 1000;
}

/**
 * Dice similarity coefficient of two binary masks (non-zero = foreground):
 * DSC = 2|P∩T| / (|P| + |T|), and `emptyDice` when both masks are empty.
 *
 * @param prediction Predicted mask.
 * @param truth Ground-truth mask of the same length.
 * @param emptyDice Value when both are empty: a number, or `"nan"` (NaN).
 * @returns DSC in [0, 1], or the empty-vs-empty value.
 * @throws {TypeError} When the lengths differ.
 * @throws {RangeError} When `emptyDice` is neither a number nor `"nan"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { diceScore } from "./metrics.ts";
 * // |P| = 2, |T| = 3, |P∩T| = 2 → 4 / 5
 * assert(diceScore([1, 1, 0, 0], [1, 1, 1, 0]) === 0.8);
 * assert(diceScore([0, 0], [0, 0]) === 1);
 * assert(Number.isNaN(diceScore([0, 0], [0, 0], "nan")));
 * ```
 */
export function diceScore(
  prediction: ArrayLike<number>,
  truth: ArrayLike<number>,
  emptyDice: EmptyDice = 1,
): number {
  const empty = resolveEmptyDice(emptyDice);
  if (prediction.length !== truth.length) {
    throw new TypeError(
      `Cannot compute DSC: prediction has ${prediction.length} voxels, truth ${truth.length}`,
    );
  }
  let p = 0, t = 0, both = 0;
  for (let i = 0; i < truth.length; i++) {
    const a = prediction[i] !== 0, b = truth[i] !== 0;
    if (a) p++;
    if (b) t++;
    if (a && b) both++;
  }
  return p + t === 0 ? empty : (2 * both) / (p + t);
}

/**
 * DSC and volumes of every requested class of one case, from hard label maps (class indices,
 * e.g. the output of {@linkcode argmaxLabels} or {@linkcode thresholdLabels}).
 *
 * @param prediction Predicted label map `[D, H, W]`.
 * @param truth Ground-truth label map `[D, H, W]` (the full labels); voxels with the ignore
 *   label (`IGNORE_LABEL`, lib/core/voxel_labels.ts) are left out of every count, as in
 *   nnU-Net's evaluation.
 * @param options Spacing, classes and the empty-vs-empty DSC.
 * @returns One entry per class, in the order of `options.classes`; with `options.regions`, one
 *   per region (DSC and volumes of the region masks, as nnU-Net evaluates regions).
 * @throws {TypeError} When the maps differ in length, or regions and names differ in number.
 * @throws {RangeError} When the spacing, a label value (outside [0, 255]) or `emptyDice` is
 *   invalid.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { caseMetrics } from "./metrics.ts";
 * const pred = new Uint8Array([0, 1, 1, 2]);
 * const truth = new Uint8Array([0, 1, 2, 2]);
 * const [lv, myo] = caseMetrics(pred, truth, { spacing: [10, 10, 10], classes: ["LV", "MYO"] });
 * assert(lv.dsc === 2 / 3 && lv.deltaVolumeMl === 1);
 * assert(myo.dsc === 2 / 3 && myo.deltaVolumeMl === -1);
 * ```
 */
export function caseMetrics(
  prediction: ArrayLike<number>,
  truth: ArrayLike<number>,
  options: CaseMetricsOptions,
): ClassMetrics[] {
  if (prediction.length !== truth.length) {
    throw new TypeError(
      `Cannot compute case metrics: prediction has ${prediction.length} voxels, truth ${truth.length}`,
    );
  }
  const voxelMl = voxelVolumeMl(options.spacing);
  const emptyDice = resolveEmptyDice(options.emptyDice ?? 1);
  if (options.regions) return _regionMetrics(prediction, truth, options, voxelMl, emptyDice);
  const classes: [number, string][] = Array.isArray(options.classes)
    ? (options.classes as string[]).map((name, i) => [i + 1, name])
    : Object.entries(options.classes).map(([k, name]) => [Number(k), name as string]);
  for (const [k, name] of classes) {
    if (!Number.isInteger(k) || k < 0 || k > 255) {
      throw new RangeError(`Cannot compute case metrics: class "${name}" has label value ${k}`);
    }
  }
  // One pass over the voxels for all classes at once.
  const maxLabel = 256;
  const predCount = new Float64Array(maxLabel);
  const trueCount = new Float64Array(maxLabel);
  const interCount = new Float64Array(maxLabel);
  for (let i = 0; i < truth.length; i++) {
    const p = prediction[i] & 255, t = truth[i] & 255;
    if (t === IGNORE_LABEL) continue; // no truth there (nnU-Net's ignore label)
    predCount[p]++;
    trueCount[t]++;
    if (p === t) interCount[p]++;
  }
  return classes.map(([k, className]) =>
    _classMetrics(k, className, [predCount[k], trueCount[k], interCount[k]], voxelMl, emptyDice)
  );
}

/** The metrics of one class or region from its voxel counts |P|, |T|, |P ∩ T|. */
function _classMetrics(
  classIndex: number,
  className: string,
  [p, t, both]: [number, number, number],
  voxelMl: number,
  emptyDice: number,
): ClassMetrics {
  return {
    classIndex,
    className,
    dsc: p + t === 0 ? emptyDice : (2 * both) / (p + t),
    predVoxels: p,
    trueVoxels: t,
    intersectionVoxels: both,
    predVolumeMl: p * voxelMl,
    trueVolumeMl: t * voxelMl,
    deltaVolumeMl: (p - t) * voxelMl,
  };
}

function _regionMetrics(
  prediction: ArrayLike<number>,
  truth: ArrayLike<number>,
  options: CaseMetricsOptions,
  voxelMl: number,
  emptyDice: number,
): ClassMetrics[] {
  const regions = options.regions!;
  const names = options.classes;
  if (!Array.isArray(names) || names.length !== regions.length) {
    throw new TypeError(
      `Cannot compute case metrics: ${regions.length} region(s) need as many names in classes`,
    );
  }
  // Pair counts (prediction value, truth value), then each region sums the pairs it contains.
  const pairs = new Float64Array(256 * 256);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] & 255;
    if (t === IGNORE_LABEL) continue; // no truth there (nnU-Net's ignore label)
    pairs[(prediction[i] & 255) * 256 + t]++;
  }
  return regions.map((values, r) => {
    const inside = new Uint8Array(256);
    for (const v of values) inside[v & 255] = 1;
    let p = 0, t = 0, both = 0;
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        const n = pairs[a * 256 + b];
        if (n === 0) continue;
        if (inside[a]) p += n;
        if (inside[b]) t += n;
        if (inside[a] && inside[b]) both += n;
      }
    }
    return _classMetrics(r + 1, (names as readonly string[])[r], [p, t, both], voxelMl, emptyDice);
  });
}

/**
 * Hard labels from softmax (or any per-class score) maps: the index of the largest channel;
 * ties go to the lowest index.
 *
 * @param scores Channel maps `[C, D, H, W]` (channel 0 = background).
 * @param channels Number of channels C.
 * @returns Label map `[D, H, W]`.
 * @throws {TypeError} When the length is not a multiple of C, or C is not in [1, 256].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { argmaxLabels } from "./metrics.ts";
 * // two channels, two voxels: [bg, fg] = [0.7, 0.3] and [0.2, 0.8]
 * const labels = argmaxLabels(new Float32Array([0.7, 0.2, 0.3, 0.8]), 2);
 * assert(labels[0] === 0 && labels[1] === 1);
 * ```
 */
export function argmaxLabels(scores: ArrayLike<number>, channels: number): Uint8Array {
  if (!Number.isInteger(channels) || channels < 1 || channels > 256) {
    throw new TypeError(`Cannot take argmax: channels is ${channels}`);
  }
  if (scores.length % channels !== 0) {
    throw new TypeError(
      `Cannot take argmax: ${scores.length} values is not a multiple of ${channels} channels`,
    );
  }
  const n = scores.length / channels;
  const out = new Uint8Array(n);
  const best = new Float64Array(n).fill(-Infinity);
  for (let c = 0; c < channels; c++) {
    const off = c * n;
    for (let i = 0; i < n; i++) {
      const v = scores[off + i];
      if (v > best[i]) {
        best[i] = v;
        out[i] = c;
      }
    }
  }
  return out;
}

/**
 * Hard labels from a sigmoid probability map: `label` where p ≥ threshold, else 0.
 *
 * @param probabilities Probability map `[D, H, W]`.
 * @param options `threshold` (default 0.5) and `label` (default 1).
 * @returns Label map `[D, H, W]`.
 * @throws {RangeError} When `label` is not an integer in [1, 255].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { thresholdLabels } from "./metrics.ts";
 * const labels = thresholdLabels(new Float32Array([0.2, 0.5, 0.9]));
 * assert(labels.join() === "0,1,1");
 * ```
 */
export function thresholdLabels(
  probabilities: ArrayLike<number>,
  options: { threshold?: number; label?: number } = {},
): Uint8Array {
  const threshold = options.threshold ?? 0.5;
  const label = options.label ?? 1;
  if (!Number.isInteger(label) || label < 1 || label > 255) {
    throw new RangeError(`Cannot threshold probabilities: label is ${label}`);
  }
  const out = new Uint8Array(probabilities.length);
  for (let i = 0; i < out.length; i++) if (probabilities[i] >= threshold) out[i] = label;
  return out;
}
