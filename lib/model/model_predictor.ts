/**
 * Prediction with a trained model on new scans: the training preprocessing (resampling to the
 * training spacing and size, clipping and z-scoring per channel), sliding windows of the
 * training patch size with Gaussian blending, optional mirrored test-time augmentation, the
 * mean over an ensemble's folds, and the map back onto the scan's own grid (labels by nearest
 * neighbour, probabilities trilinearly).
 *
 * @module
 */

import { toSourceGrid } from "../data/load_case.ts";
import { preprocessVolumes } from "../data/preprocess.ts";
import type { DatasetSpec } from "../data/datasets.ts";
import type { DatasetKind, LoadedCase, Vec3 } from "../data/types.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
import { type GpuContext, requestGpu } from "../gpu/device.ts";
import { GpuRuntime } from "../gpu/runtime.ts";
import type { NiftiImage } from "../nifti/read_nifti.ts";
import { ParamStore } from "../nn/param_store.ts";
import { buildUNetPlan, type UNetPlan } from "../nn/unet3d.ts";
import { type Triple, unetParams } from "../nn/unet_config.ts";
import { labelsOf } from "../train/inference.ts";
import {
  extractWindow,
  importanceMap,
  WindowAccumulator,
  windowStarts,
} from "../train/sliding_window.ts";
import type { DicelabModel, ModelMember } from "./model_types.ts";
import { probabilitiesToSourceGrid } from "./probabilities_to_source.ts";
import type { ScanVolumes } from "./prediction_inputs.ts";
import type { ScanPrediction } from "./write_prediction.ts";

/** Options of {@linkcode ModelPredictor} and {@linkcode predict}. */
export interface PredictOptions {
  /** Folds of the ensemble to use. @default every member */
  folds?: readonly number[];
  /**
   * Test-time augmentation: `"mirror"` averages each window's prediction over the 8 flips
   * along every combination of the three spatial axes (nnU-Net's mirroring, all axes).
   * @default "none"
   */
  tta?: "none" | "mirror";
  /**
   * Window step as a fraction of the window (nnU-Net's `--step_size`; overlap = 1 − step), in
   * (0, 1]. @default 1 − the run's evaluation overlap
   */
  step?: number;
  /** Also return probabilities on the scan's grid. @default false */
  probabilities?: boolean;
}

/**
 * The members of a model that a fold selection keeps.
 *
 * @param model The model.
 * @param folds Folds to keep; undefined: all.
 * @returns The members, in the model's order.
 * @throws {RangeError} When the model has no such fold.
 */
export function selectMembers(model: DicelabModel, folds?: readonly number[]): ModelMember[] {
  if (!folds) return model.members;
  const have = model.members.map((m) => m.fold);
  for (const f of folds) {
    if (!have.includes(f)) {
      throw new RangeError(
        `Cannot select fold ${f}: the model has fold(s) ${have.join(", ")}`,
      );
    }
  }
  return model.members.filter((m) => folds.includes(m.fold));
}

interface _Net {
  store: ParamStore;
  plan: UNetPlan;
}

/** Predicts scans with one model (every selected fold), reusing its GPU plans across scans. */
export class ModelPredictor {
  /** The model. */
  readonly model: DicelabModel;
  /** The folds used. */
  readonly folds: readonly number[];
  #rt: GpuRuntime;
  #nets: _Net[];
  #overlap: number;
  #flips: number[];
  #weights: Float32Array;

  /**
   * Upload the weights of the selected members and build one inference plan each.
   *
   * @param rt Runtime.
   * @param pool Buffer pool.
   * @param model The model.
   * @param options Folds, TTA and step.
   * @throws {RangeError} On an unknown fold or a step outside (0, 1].
   */
  constructor(
    rt: GpuRuntime,
    pool: BufferPool,
    model: DicelabModel,
    options: Omit<PredictOptions, "probabilities"> = {},
  ) {
    this.model = model;
    this.#rt = rt;
    const members = selectMembers(model, options.folds);
    this.folds = members.map((m) => m.fold);
    this.#overlap = stepOverlap(options.step, model.inference.overlap);
    this.#flips = options.tta === "mirror" ? [0, 1, 2, 3, 4, 5, 6, 7] : [0];
    const win = model.inference.window;
    this.#weights = importanceMap(win, model.inference.blending);
    const { params, state } = unetParams(model.network);
    this.#nets = [];
    try {
      for (const m of members) {
        const store = new ParamStore(rt, params, state);
        store.upload("params", m.tensors.filter((t) => !t.name.includes("/")));
        store.upload(
          "state",
          m.tensors.filter((t) => t.name.startsWith("state/")).map((t) => ({
            ...t,
            name: t.name.slice(6),
          })),
        );
        const plan = buildUNetPlan(rt, pool, store, model.network, {
          batch: model.inference.batch,
          patch: win,
          mode: "infer",
        });
        this.#nets.push({ store, plan });
      }
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  /**
   * Predict one scan.
   *
   * @param scan The scan on its own grid (see `readPredictionInput`).
   * @param options Whether to return probabilities too.
   * @returns Labels (and probabilities) on the scan's grid, with its header.
   * @throws {TypeError} When the scan's channel count is not the model's.
   */
  async predict(
    scan: ScanVolumes,
    options: { probabilities?: boolean } = {},
  ): Promise<ScanPrediction> {
    const m = this.model;
    if (scan.channels !== m.network.inChannels) {
      throw new TypeError(
        `Cannot predict case ${scan.id}: it has ${scan.channels} channel(s), the model needs ` +
          `${m.network.inChannels} (${m.dataset.channels.join(", ")})`,
      );
    }
    const loaded = preprocessScan(m, scan);
    const K = m.network.outChannels;
    let probs: Float32Array | undefined;
    for (const net of this.#nets) {
      const p = await this.#slide(net, loaded.image, loaded.shape);
      if (!probs) probs = p;
      else for (let i = 0; i < p.length; i++) probs[i] += p[i];
    }
    if (this.#nets.length > 1) {
      for (let i = 0; i < probs!.length; i++) probs![i] /= this.#nets.length;
    }
    // A region-based model: thresholded region maps, each writing its value in order.
    const order = m.dataset.target === "regions" ? m.dataset.regionsClassOrder : undefined;
    const labels = toSourceGrid(
      labelsOf(probs!, K, m.network.head, m.inference.threshold, order),
      loaded,
    );
    const [D0, H0, W0] = scan.shape;
    return {
      id: scan.id,
      shape: [W0, H0, D0],
      labels,
      maps: K,
      header: scan.header,
      ...(options.probabilities
        ? {
          probabilities: probabilitiesToSourceGrid(probs!, loaded.shape, loaded.source, {
            // Outside the field of view: background (softmax map 0), no foreground.
            outside: m.network.head === "softmax" ? [1] : [],
          }),
        }
        : {}),
    };
  }

  /** Blended window predictions of one network over a preprocessed volume. */
  async #slide(net: _Net, image: Float32Array, size: Vec3): Promise<Float32Array> {
    const cfg = this.model.network;
    const C = cfg.inChannels;
    const K = cfg.outChannels;
    const win = this.model.inference.window;
    const wn = win[0] * win[1] * win[2];
    const Bw = this.model.inference.batch;
    const starts = windowStarts(size, win, { overlap: this.#overlap });
    const acc = new WindowAccumulator(K, size);
    const input = new Float32Array(Bw * C * wn);
    const one = new Float32Array(C * wn);
    const flipped = new Float32Array(C * wn);
    const range = { buffer: net.plan.probs.buffer, offset: 0, size: Bw * K * wn * 4 };
    const flips = this.#flips;
    // Groups are added in order (float sums do not commute), at most a few in flight.
    const inflight: Promise<void>[] = [];
    let previous: Promise<void> = Promise.resolve();
    for (let i = 0; i < starts.length; i += Bw) {
      const group = starts.slice(i, i + Bw);
      const reads = flips.map((f) => {
        input.fill(0);
        group.forEach((o, j) => {
          extractWindow(image, size, C, win, o, one);
          input.set(f === 0 ? one : flipWindow(one, C, win, f, flipped), j * C * wn);
        });
        this.#rt.write(net.plan.input, input);
        return net.plan.plan.submit([range]);
      });
      const done = previous.then(async () => {
        const outs = (await Promise.all(reads)).map(([p]) => p);
        group.forEach((o, j) => {
          const at = (p: Float32Array) => p.subarray(j * K * wn, (j + 1) * K * wn);
          let pred = at(outs[0]);
          if (flips.length > 1) {
            const sum = new Float32Array(K * wn);
            const back = new Float32Array(K * wn);
            flips.forEach((f, t) => {
              const p = f === 0 ? at(outs[t]) : flipWindow(at(outs[t]), K, win, f, back);
              for (let v = 0; v < sum.length; v++) sum[v] += p[v];
            });
            for (let v = 0; v < sum.length; v++) sum[v] /= flips.length;
            pred = sum;
          }
          acc.add(pred, win, o, this.#weights);
        });
      });
      previous = done;
      inflight.push(done);
      if (inflight.length > 2) await inflight.shift();
    }
    await Promise.all(inflight);
    return acc.result();
  }

  /** Release the plans and weights. */
  dispose(): void {
    for (const n of this.#nets) {
      n.plan.dispose();
      n.store.destroy();
    }
    this.#nets = [];
  }
}

/**
 * Predict scans with a model from the library: requests a GPU unless one is given, predicts
 * every scan, releases what it created.
 *
 * @param model The model (`loadModel`).
 * @param scans Scans: each one {@linkcode ScanVolumes}, or its NIfTI channel images (one 4-D
 *   image or one 3-D image per channel).
 * @param options Folds, TTA, step, probabilities, and an optional GPU context.
 * @returns One prediction per scan, on its own grid (write it with `writePrediction`).
 * @throws {TypeError} When a scan does not have the model's channels.
 * @throws {GpuUnavailableError} When no GPU is given and none can be acquired.
 * @example
 * ```ts ignore
 * const model = await loadModel(await Deno.readFile("model.dicelab"));
 * const [p] = await predict(model, [[await readNiftiFile("scan.nii.gz")]], { tta: "mirror" });
 * await writePrediction("out", { ...p, id: "scan" });
 * ```
 */
export async function predict(
  model: DicelabModel,
  scans: readonly (ScanVolumes | readonly NiftiImage[])[],
  options: PredictOptions & { gpu?: GpuContext } = {},
): Promise<ScanPrediction[]> {
  const gpu = options.gpu ?? await requestGpu();
  const rt = new GpuRuntime(gpu.device);
  const pool = new BufferPool(gpu.device);
  let predictor: ModelPredictor | undefined;
  try {
    predictor = new ModelPredictor(rt, pool, model, options);
    const out: ScanPrediction[] = [];
    for (const [i, s] of scans.entries()) {
      const scan = Array.isArray(s)
        ? scanOf(s as readonly NiftiImage[], `scan${i}`)
        : s as ScanVolumes;
      out.push(await predictor.predict(scan, options));
    }
    return out;
  } finally {
    predictor?.dispose();
    pool.destroy();
    if (!options.gpu) gpu.device.destroy();
  }
}

/**
 * A scan from NIfTI images already read: one 4-D image (channels on the 4th axis) or one 3-D
 * image per channel on the same grid.
 *
 * @param images The images.
 * @param id Case id.
 * @returns The scan.
 * @throws {TypeError} When the images are not one scan's channels.
 */
export function scanOf(images: readonly NiftiImage[], id: string): ScanVolumes {
  const first = images[0];
  if (!first) throw new TypeError(`Cannot predict case ${id}: no image given`);
  const s = first.shape;
  const shape: Vec3 = [s[2] ?? 1, s[1] ?? 1, s[0]];
  const n = shape[0] * shape[1] * shape[2];
  const C = images.length === 1 ? (s[3] ?? 1) : images.length;
  const image = new Float32Array(C * n);
  if (images.length === 1) image.set(first.data.subarray(0, C * n));
  else {
    images.forEach((img, c) => {
      if (img.shape.slice(0, 3).some((v, a) => v !== s[a])) {
        throw new TypeError(
          `Cannot predict case ${id}: ${img.name} has shape ${img.shape.join("×")} but ` +
            `${first.name} has ${s.join("×")}`,
        );
      }
      image.set(img.data.subarray(0, n), c * n);
    });
  }
  return {
    id,
    image,
    channels: C,
    shape,
    spacing: [
      Math.abs(first.spacing[2] ?? 1),
      Math.abs(first.spacing[1] ?? 1),
      Math.abs(first.spacing[0]),
    ],
    affine: first.affine,
    header: first.header,
  };
}

/**
 * The training preprocessing applied to a scan (the same `preprocessVolumes` as training,
 * with the model's rules), as a loaded case whose `source` maps back to the scan's grid.
 *
 * @param model The model.
 * @param scan The scan.
 * @returns The preprocessed case (empty label map).
 */
export function preprocessScan(model: DicelabModel, scan: ScanVolumes): LoadedCase {
  const n = scan.shape[0] * scan.shape[1] * scan.shape[2];
  const pre = model.preprocessing;
  const out = preprocessVolumes(
    {
      dataset: modelDatasetSpec(model),
      image: scan.image,
      label: new Uint8Array(n),
      channels: scan.channels,
      shape: scan.shape,
      spacing: scan.spacing,
      affine: scan.affine,
    },
    {
      ...(pre.spacing ? { spacing: pre.spacing } : {}),
      ...(pre.size ? { size: pre.size } : {}),
      clipPercentiles: pre.clipPercentiles,
      zscore: pre.zscore,
      intensityMask: pre.intensityMask,
      // There is no label: the cheapest resampling of the empty map.
      labelInterpolation: "nearest",
    },
  );
  return {
    dataset: model.dataset.kind as DatasetKind,
    id: scan.id,
    subject: scan.id,
    group: "",
    image: out.image,
    label: out.label,
    channels: scan.channels,
    shape: out.shape,
    spacing: out.spacing,
    affine: out.affine,
    classes: model.dataset.classes,
    padValue: out.padValue,
    labeling: "full",
    source: { shape: scan.shape, spacing: scan.spacing, affine: scan.affine, grid: out.grid },
    meta: {},
  };
}

/**
 * The dataset spec a model implies, for `preprocessVolumes` (which reads its classes and
 * intensity mask; the other fields describe training data a model does not carry).
 *
 * @param model The model.
 * @returns The spec.
 */
export function modelDatasetSpec(model: DicelabModel): DatasetSpec {
  const d = model.dataset;
  return {
    kind: d.kind as DatasetKind,
    title: d.title,
    channels: d.channels,
    labelValues: d.classes.map((_, i) => i),
    classes: d.classes,
    classOf: Object.fromEntries(d.classes.map((_, i) => [String(i), i])),
    target: d.target,
    intensityMask: model.preprocessing.intensityMask,
    groups: [],
    displayChannel: 0,
    foldRules: {},
    labelings: {},
  };
}

/**
 * The window overlap of a step (fraction of the window between neighbouring window starts).
 *
 * @param step The step in (0, 1], or undefined.
 * @param overlap The model's overlap (used without a step).
 * @returns `1 − step`, or `overlap`.
 * @throws {RangeError} When the step is outside (0, 1].
 */
export function stepOverlap(step: number | undefined, overlap: number): number {
  if (step === undefined) return overlap;
  if (!(step > 0 && step <= 1)) {
    throw new RangeError(`Invalid step ${step}: expected a fraction of the window in (0, 1]`);
  }
  return 1 - step;
}

/**
 * Flip a window `[C, d, h, w]` along the axes in `mask` (bit 0: D, bit 1: H, bit 2: W); a flip
 * is its own inverse.
 *
 * @param src The window.
 * @param channels C.
 * @param win `[d, h, w]`.
 * @param mask Axes to flip.
 * @param out Destination (not `src`).
 * @returns `out`.
 */
export function flipWindow(
  src: Float32Array,
  channels: number,
  win: Triple,
  mask: number,
  out: Float32Array,
): Float32Array {
  const [d, h, w] = win;
  const fd = (mask & 1) !== 0, fh = (mask & 2) !== 0, fw = (mask & 4) !== 0;
  const n = d * h * w;
  for (let c = 0; c < channels; c++) {
    for (let z = 0; z < d; z++) {
      const sz = fd ? d - 1 - z : z;
      for (let y = 0; y < h; y++) {
        const sy = fh ? h - 1 - y : y;
        const o = c * n + (z * h + y) * w;
        const s = c * n + (sz * h + sy) * w;
        if (fw) { for (let x = 0; x < w; x++) out[o + x] = src[s + w - 1 - x]; }
        else out.set(src.subarray(s, s + w), o);
      }
    }
  }
  return out;
}
