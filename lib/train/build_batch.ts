/**
 * One training batch from loaded cases: the pure function behind the patch workers. Each
 * patch b is drawn from its own stream `new Rng(seed, samples[b])` (the global sample index),
 * so a batch depends only on the cases and the job, never on the worker that builds it.
 *
 * Per patch: apply the labeling to the case's label map (cached per label array and
 * labeling), sample a patch of the labelled case (foreground-centred with a probability),
 * augment it (on a patch enlarged by a margin so rotations and zooms do not repeat edge
 * values, then cropped back), and encode the loss target.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { IGNORE_LABEL, labelSetNumber } from "../core/voxel_labels.ts";
import { caseSpec } from "../data/datasets.ts";
import { type AugmentOptions, augmentPatch, DEFAULT_AUGMENTATION } from "../data/augment.ts";
import {
  annotatedMaps,
  applyLabeling,
  type Labeling,
  labelingName,
  makeTarget,
  removedLabelsOf,
  targetChannels,
  type TargetOptions,
} from "../data/labeling.ts";
import { samplePatch } from "../data/patch.ts";
import { extractRegion } from "../data/region.ts";
import type { LoadedCase, Vec3 } from "../data/types.ts";

/** What {@linkcode buildBatch} needs of a case (a `LoadedCase` has all of it). */
export type BatchCase = Pick<
  LoadedCase,
  | "dataset"
  | "id"
  | "group"
  | "image"
  | "label"
  | "channels"
  | "shape"
  | "spacing"
  | "classes"
  | "padValue"
  | "spec"
>;

/** One batch to build: which samples, from which cases, and how. */
export interface BatchJob {
  /** Step (or validation batch) number, echoed in the result. */
  step: number;
  /** Rng stream of each patch (the global sample index `g = step·B + j` in training). */
  samples: readonly number[];
  /** Case index (into the case list given to {@linkcode buildBatch}) of each patch. */
  cases: readonly number[];
  /** Seed of the run. */
  seed: number;
  /** Patch size `[d, h, w]`. */
  patchSize: Vec3;
  /** Training labeling applied before sampling. @default { kind: "full" } */
  labeling?: Labeling;
  /** Loss target encoding (binary: K = 1; one-hot: K = classes). */
  target: TargetOptions;
  /**
   * Augmentation; `false` (or `enabled: false`) for none. The case spacing is used when
   * `spacing` is not set, so rotations are rigid in mm.
   * @default false
   */
  augmentation?: AugmentOptions | false;
  /**
   * Extra voxels per side sampled around the patch before augmentation (cropped after).
   * `"auto"` takes the smallest margin the rotation and zoom ranges can reach.
   * @default "auto"
   */
  augmentMargin?: Vec3 | "auto";
  /** Probability that a patch is centred on foreground. @default 0.5 */
  foregroundProbability?: number;
  /** Label values that count as foreground. @default every value > 0 */
  foregroundClasses?: readonly number[];
}

/** A built batch. */
export interface BatchResult {
  /** The job's step. */
  step: number;
  /** Intensities `[B, C, d, h, w]`. */
  image: Float32Array;
  /** Loss targets `[B, K, d, h, w]`. */
  target: Float32Array;
  /** `[B, C, d, h, w]`. */
  imageShape: [number, number, number, number, number];
  /** `[B, K, d, h, w]`. */
  targetShape: [number, number, number, number, number];
  /** Case index of each patch. */
  cases: number[];
  /** Group of each patch's case. */
  groups: string[];
  /** Global sample index (Rng stream) of each patch. */
  samples: number[];
  /** Whether target map k of patch b is annotated under the labeling, `[B, K]` (1/0). */
  annotated: Uint8Array;
  /**
   * The loss's voxel mask `[B, d, h, w]` (1 counted, 0 ignored), when the labeling ignores its
   * removed labels or the dataset has an ignore label.
   */
  mask?: Uint8Array;
  /**
   * The label set of each voxel `[B, d, h, w]` (0 a leaf label, s ≥ 1 the job's set s), when
   * the labeling writes label sets.
   */
  labelSetIndex?: Uint8Array;
  /** Whether each patch was centred on foreground. */
  foreground: boolean[];
  /** Case voxel `[d, h, w]` at each patch's voxel 0 (before augmentation; may be negative). */
  origins: Vec3[];
}

type _Mat3 = number[][];

function _mul(a: _Mat3, b: _Mat3): _Mat3 {
  return [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j])
  );
}

function _linspace(lo: number, hi: number, n: number): number[] {
  if (lo === hi) return [lo];
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

/**
 * The margin `[md, mh, mw]` (voxels per side) that a patch needs so that
 * {@linkcode augmentPatch} with these options never clamps at the patch border. Output voxel
 * o samples `c + M·(o − c)`; along axis i that reaches `Σ_j |M_ij|·(p_j − 1)/2` from the
 * centre, maximised over a grid of the rotation angles (plus 0.1% for what lies between
 * grid points) and the smallest zoom (M ∝ 1/zoom).
 *
 * @param options Augmentation options (defaults filled in from `DEFAULT_AUGMENTATION`).
 * @param patchSize Patch `[d, h, w]`.
 * @param spacing Voxel spacing `[sd, sh, sw]` when `options.spacing` is not set.
 * @returns Voxels per side for each axis (0 when augmentation is disabled or the identity).
 * @throws {RangeError} When the zoom range is not positive.
 * @example
 * ```ts
 * import { augmentationMargin } from "./build_batch.ts";
 * // 10° in-plane, zoom ≥ 0.9: h reaches (cos 10° + sin 10°)·15.5 / 0.9 ≈ 19.95 → 4.45 more
 * console.log(augmentationMargin({}, [16, 32, 32], [2, 2, 2])); // [1, 5, 5]
 * ```
 */
export function augmentationMargin(
  options: AugmentOptions | false,
  patchSize: Vec3,
  spacing: Vec3 = [1, 1, 1],
): Vec3 {
  if (options === false) return [0, 0, 0];
  const o = { ...DEFAULT_AUGMENTATION, ...options };
  if (!o.enabled) return [0, 0, 0];
  const zoomMin = o.scale[0] !== 1 || o.scale[1] !== 1 ? Math.min(o.scale[0], o.scale[1]) : 1;
  if (!(zoomMin > 0)) {
    throw new RangeError(`Cannot compute augmentation margin: zoom range is [${o.scale}]`);
  }
  const sp = o.spacing ?? spacing;
  const deg = Math.PI / 180;
  const inPlane = o.rotationDegrees > 0
    ? _linspace(-o.rotationDegrees, o.rotationDegrees, 65)
    : [0];
  const outOfPlane = o.rotationDegreesOutOfPlane > 0
    ? _linspace(-o.rotationDegreesOutOfPlane, o.rotationDegreesOutOfPlane, 9)
    : [0];
  const half = patchSize.map((p) => (p - 1) / 2);
  const reach = [0, 0, 0];
  for (const t0 of inPlane) {
    const c = Math.cos(t0 * deg), s = Math.sin(t0 * deg);
    const r0: _Mat3 = [[1, 0, 0], [0, c, s], [0, -s, c]];
    for (const t1 of outOfPlane) {
      const c1 = Math.cos(t1 * deg), s1 = Math.sin(t1 * deg);
      const r1 = _mul([[c1, 0, s1], [0, 1, 0], [-s1, 0, c1]], r0);
      for (const t2 of outOfPlane) {
        const c2 = Math.cos(t2 * deg), s2 = Math.sin(t2 * deg);
        const r = _mul([[c2, s2, 0], [-s2, c2, 0], [0, 0, 1]], r1);
        for (let i = 0; i < 3; i++) {
          let sum = 0;
          for (let j = 0; j < 3; j++) sum += (Math.abs(r[i][j]) * sp[j] * half[j]) / sp[i];
          reach[i] = Math.max(reach[i], sum / zoomMin);
        }
      }
    }
  }
  // The angle grid may miss an interior maximum by < 0.1% (second-order in the grid step):
  // round up from slightly above. Trilinear reads floor(x) and floor(x) + 1.
  const slack = inPlane.length > 1 || outOfPlane.length > 1 ? 1.001 : 1;
  return reach.map((r, i) => Math.max(0, Math.ceil(r * slack - half[i] - 1e-9))) as Vec3;
}

const _marginCache = new Map<string, Vec3>();

function _autoMargin(options: AugmentOptions, patchSize: Vec3): Vec3 {
  const key = JSON.stringify([options, patchSize]);
  let hit = _marginCache.get(key);
  if (!hit) {
    if (_marginCache.size > 64) _marginCache.clear();
    _marginCache.set(key, hit = augmentationMargin(options, patchSize));
  }
  return hit;
}

const _labeledCache = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

/** The case's label map under a labeling, computed once per label array and labeling. */
function _labeledLabel(c: BatchCase, labeling: Labeling): Uint8Array {
  if (labeling.kind === "full") return c.label;
  if (labeling.kind !== "annotatedClasses" && c.group !== labeling.group) return c.label;
  // An annotatedClasses labeling acts on a case by the case's own entry.
  const key = labeling.kind === "annotatedClasses"
    ? `annotatedClasses:${JSON.stringify(labeling.cases?.[(c as LoadedCase).id] ?? null)}`
    : labelingName(labeling);
  let perLabel = _labeledCache.get(c.label);
  if (!perLabel) _labeledCache.set(c.label, perLabel = new Map());
  let out = perLabel.get(key);
  if (!out) {
    out = applyLabeling(c as LoadedCase, labeling).label;
    perLabel.set(key, out);
  }
  return out;
}

function _cropCentre<T extends Float32Array | Uint8Array>(
  data: T,
  channels: number,
  big: Vec3,
  margin: Vec3,
  size: Vec3,
): T {
  const [, BH, BW] = big;
  const [d, h, w] = size;
  const out = new (data.constructor as { new (n: number): T })(channels * d * h * w);
  let o = 0;
  for (let c = 0; c < channels; c++) {
    for (let z = 0; z < d; z++) {
      for (let y = 0; y < h; y++) {
        const src = ((c * big[0] + z + margin[0]) * BH + y + margin[1]) * BW + margin[2];
        out.set(data.subarray(src, src + w), o);
        o += w;
      }
    }
  }
  return out;
}

/**
 * Build one batch: for each patch b, `rng = new Rng(job.seed, job.samples[b])`, sample a
 * patch of case `cases[job.cases[b]]` under the labeling (one `float()` and one or three
 * `int()` draws, see `samplePatch`), augment it with the same `rng`, and encode its target.
 * The result depends only on the cases and the job (bit-identical in any worker).
 *
 * Patches are sampled from the training labels (after the labeling), so foreground-centred
 * sampling never uses annotations the labeling removed (an LGG case under `emptyGroup` has
 * no foreground and its patches are drawn uniformly).
 *
 * @param cases The cases (e.g. a store's cases, indexed by `job.cases`).
 * @param job Which samples and how.
 * @returns The batch; its arrays own fresh `ArrayBuffer`s (transferable).
 * @throws {RangeError} When a case index is out of range, `samples` and `cases` differ in
 *   length or are empty, or a label is ≥ K for one-hot.
 * @throws {TypeError} When cases differ in channel count, or the labeling's annotated maps do
 *   not match the number of target maps.
 * @example
 * ```ts
 * import { buildBatch } from "./build_batch.ts";
 * const c = {
 *   dataset: "brats" as const, id: "a", group: "HGG", channels: 1,
 *   image: new Float32Array(64), label: new Uint8Array(64).fill(1, 20, 30),
 *   shape: [4, 4, 4] as [number, number, number], spacing: [1, 1, 1] as [number, number, number],
 *   classes: ["background", "tumour"], padValue: [0],
 * };
 * const b = buildBatch([c], {
 *   step: 0, samples: [0, 1], cases: [0, 0], seed: 1, patchSize: [2, 2, 2],
 *   target: { encoding: "binary" },
 * });
 * console.log(b.imageShape, b.targetShape); // [2, 1, 2, 2, 2] [2, 1, 2, 2, 2]
 * ```
 */
export function buildBatch(cases: readonly BatchCase[], job: BatchJob): BatchResult {
  const B = job.samples.length;
  if (B < 1 || job.cases.length !== B) {
    throw new RangeError(
      `Cannot build batch ${job.step}: ${B} samples and ${job.cases.length} case indices`,
    );
  }
  for (const i of job.cases) {
    if (!Number.isInteger(i) || i < 0 || i >= cases.length) {
      throw new RangeError(
        `Cannot build batch ${job.step}: case index ${i} outside [0, ${cases.length})`,
      );
    }
  }
  const first = cases[job.cases[0]];
  const C = first.channels;
  const K = targetChannels(job.target);
  const labeling = job.labeling ?? { kind: "full" };
  const [pd, ph, pw] = job.patchSize;
  const n = pd * ph * pw;
  const image = new Float32Array(B * C * n);
  const target = new Float32Array(B * K * n);
  const marks = batchMarks(first, labeling);
  const mask = marks.mask ? new Uint8Array(B * n) : undefined;
  const labelSetIndex = marks.labelSets ? new Uint8Array(B * n) : undefined;
  const annotated = new Uint8Array(B * K);
  const groups: string[] = [];
  const foreground: boolean[] = [];
  const origins: Vec3[] = [];
  const aug = job.augmentation === false || job.augmentation === undefined ||
      job.augmentation.enabled === false
    ? false
    : job.augmentation;
  const sampleOptions = {
    foregroundProbability: job.foregroundProbability ?? 0.5,
    foregroundClasses: job.foregroundClasses,
  };

  for (let b = 0; b < B; b++) {
    const c = cases[job.cases[b]];
    if (c.channels !== C) {
      throw new TypeError(
        `Cannot build batch ${job.step}: case ${c.id} has ${c.channels} channels, ` +
          `case ${first.id} has ${C}`,
      );
    }
    const label = _labeledLabel(c, labeling);
    const flags = annotatedMaps(c as LoadedCase, labeling);
    if (flags.length !== K) {
      throw new TypeError(
        `Cannot build batch ${job.step}: case ${c.id} (${c.dataset}) has ${flags.length} ` +
          `target maps, the target encoding gives ${K}`,
      );
    }
    flags.forEach((f, k) => annotated[b * K + k] = f ? 1 : 0);
    const source = { image: c.image, label, channels: C, shape: c.shape, padValue: c.padValue };
    const rng = new Rng(job.seed, job.samples[b]);
    const patch = samplePatch(source, job.patchSize, rng, sampleOptions);
    let pImage = patch.image;
    let pLabel = patch.label;
    if (aug) {
      const augOptions = { ...aug, spacing: aug.spacing ?? c.spacing };
      const margin = job.augmentMargin === undefined || job.augmentMargin === "auto"
        ? _autoMargin(augOptions, job.patchSize)
        : job.augmentMargin;
      if (margin.every((m) => m === 0)) {
        ({ image: pImage, label: pLabel } = augmentPatch(
          pImage,
          pLabel,
          [C, pd, ph, pw],
          augOptions,
          rng,
        ));
      } else {
        const big = job.patchSize.map((p, a) => p + 2 * margin[a]) as Vec3;
        const box = {
          origin: patch.origin.map((o, a) => o - margin[a]) as Vec3,
          size: big,
        };
        const bigImage = extractRegion({ data: c.image, shape: c.shape, channels: C }, box, {
          padValue: c.padValue,
        });
        const bigLabel = extractRegion({ data: label, shape: c.shape }, box);
        // Geometry on the enlarged patch, then intensity on the crop: the draws come in the
        // same order as one augmentPatch call, and noise is drawn only for kept voxels.
        const warped = augmentPatch(bigImage, bigLabel, [C, ...big], {
          ...augOptions,
          intensityShift: 0,
          intensityScale: [1, 1],
          noiseStd: 0,
        }, rng);
        pLabel = _cropCentre(warped.label, 1, big, margin, job.patchSize);
        pImage = augmentPatch(
          _cropCentre(warped.image, C, big, margin, job.patchSize),
          pLabel,
          [C, pd, ph, pw],
          {
            ...augOptions,
            flip: false,
            rotationDegrees: 0,
            rotationDegreesOutOfPlane: 0,
            scale: [1, 1],
          },
          rng,
        ).image;
      }
    }
    image.set(pImage, b * C * n);
    target.set(makeTarget(pLabel, job.target), b * K * n);
    if (mask) { for (let i = 0; i < n; i++) mask[b * n + i] = pLabel[i] === IGNORE_LABEL ? 0 : 1; }
    if (labelSetIndex) {
      for (let i = 0; i < n; i++) labelSetIndex[b * n + i] = labelSetNumber(pLabel[i]);
    }
    groups.push(c.group);
    foreground.push(patch.foreground);
    origins.push(patch.origin);
  }
  return {
    step: job.step,
    image,
    target,
    imageShape: [B, C, pd, ph, pw],
    targetShape: [B, K, pd, ph, pw],
    cases: [...job.cases],
    groups,
    samples: [...job.samples],
    annotated,
    ...(mask ? { mask } : {}),
    ...(labelSetIndex ? { labelSetIndex } : {}),
    foreground,
    origins,
  };
}

/**
 * Which per-voxel arrays the batches of a dataset under a labeling carry: the voxel mask
 * (the labeling ignores its removed labels, or the dataset has an ignore label) and the
 * label-set index (the labeling writes label sets). The same for every batch of a job, so
 * the trainer can bind the loss's masked or label-set kernels once.
 *
 * @param c Any case of the dataset.
 * @param labeling The job's labeling.
 * @returns The flags.
 */
export function batchMarks(
  c: Pick<BatchCase, "dataset" | "spec">,
  labeling: Labeling,
): { mask: boolean; labelSets: boolean } {
  const as = removedLabelsOf(labeling);
  return {
    mask: as === "ignore" || caseSpec(c).ignoreLabel !== undefined,
    labelSets: as === "labelSet",
  };
}
