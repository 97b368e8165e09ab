/**
 * Sliding-window inference of a trained U-Net over whole volumes: windows of the training
 * patch size, batched through one inference plan, blended with a Gaussian or uniform
 * importance map, then thresholded (sigmoid) or arg-maxed (softmax) into a label map; region
 * maps become a label map by nnU-Net's rule ({@linkcode regionLabels}).
 *
 * @module
 */

import type { BufferPool } from "../gpu/buffer_pool.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import type { ParamStore } from "../nn/param_store.ts";
import { buildUNetPlan, type UNetPlan } from "../nn/unet3d.ts";
import type { Triple, UNetConfig } from "../nn/unet_config.ts";
import { extractWindow, importanceMap, WindowAccumulator, windowStarts } from "./sliding_window.ts";

/** Options of {@linkcode SlidingWindowPredictor}. */
export interface SlidingWindowOptions {
  /** Window size [D, H, W] (divisible by the pooling factors). */
  window: Triple;
  /** Overlap fraction between neighbouring windows. @default 0.5 */
  overlap?: number;
  /** Blending of overlapping windows. @default "gaussian" */
  blending?: "gaussian" | "uniform";
  /** Windows per GPU pass. @default 1 */
  batch?: number;
  /** Sigmoid threshold. @default 0.5 */
  threshold?: number;
  /**
   * The maps are regions (a region-based dataset): the label value each writes, in order
   * ({@linkcode regionLabels}). Absent: {@linkcode labelsOf}.
   */
  regionsClassOrder?: readonly number[];
}

/** A volume's prediction. */
export interface VolumePrediction {
  /** Probabilities [K, D, H, W]. */
  probs: Float32Array;
  /** Label map [D, H, W]: argmax (softmax) or `p > threshold` → 1 (sigmoid, one class). */
  labels: Uint8Array;
}

/** Predicts whole volumes with one reusable inference plan. */
export class SlidingWindowPredictor {
  #rt: GpuRuntime;
  #plan: UNetPlan;
  #cfg: UNetConfig;
  #o: Required<Omit<SlidingWindowOptions, "regionsClassOrder">>;
  #regionsClassOrder?: readonly number[];
  #weights: Float32Array;

  /**
   * Build the inference plan.
   *
   * @param rt Runtime.
   * @param pool Buffer pool.
   * @param store Trained parameters.
   * @param cfg Network configuration.
   * @param options Window, overlap, blending, batch.
   */
  constructor(
    rt: GpuRuntime,
    pool: BufferPool,
    store: ParamStore,
    cfg: UNetConfig,
    options: SlidingWindowOptions,
  ) {
    this.#rt = rt;
    this.#cfg = cfg;
    const { regionsClassOrder, ...rest } = options;
    this.#o = { overlap: 0.5, blending: "gaussian", batch: 1, threshold: 0.5, ...rest };
    if (regionsClassOrder && regionsClassOrder.length !== cfg.outChannels) {
      throw new RangeError(
        `Cannot predict regions: regionsClassOrder has ${regionsClassOrder.length} value(s), ` +
          `the network ${cfg.outChannels} output map(s)`,
      );
    }
    this.#regionsClassOrder = regionsClassOrder;
    this.#plan = buildUNetPlan(rt, pool, store, cfg, {
      batch: this.#o.batch,
      patch: this.#o.window,
      mode: "infer",
    });
    this.#weights = importanceMap(this.#o.window, this.#o.blending);
  }

  /**
   * Predict one volume.
   *
   * @param image `[C, D, H, W]` intensities.
   * @param size `[D, H, W]`.
   * @returns Probabilities and labels.
   */
  async predict(image: Float32Array, size: Triple): Promise<VolumePrediction> {
    const C = this.#cfg.inChannels;
    const K = this.#cfg.outChannels;
    const win = this.#o.window;
    const wn = win[0] * win[1] * win[2];
    const starts = windowStarts(size, win, { overlap: this.#o.overlap });
    const acc = new WindowAccumulator(K, size);
    const Bw = this.#o.batch;
    const input = new Float32Array(Bw * C * wn);
    const one = new Float32Array(C * wn);
    const probsRange = {
      buffer: this.#plan.probs.buffer,
      offset: 0,
      size: Bw * K * wn * 4,
    };
    const pending: Promise<void>[] = [];
    for (let i = 0; i < starts.length; i += Bw) {
      const group = starts.slice(i, i + Bw);
      input.fill(0);
      group.forEach((o, j) => {
        extractWindow(image, size, C, win, o, one);
        input.set(one, j * C * wn);
      });
      this.#rt.write(this.#plan.input, input);
      pending.push(
        this.#plan.plan.submit([probsRange]).then(([p]) => {
          group.forEach((o, j) => {
            acc.add(p.subarray(j * K * wn, (j + 1) * K * wn), win, o, this.#weights);
          });
        }),
      );
    }
    await Promise.all(pending);
    const probs = acc.result();
    return {
      probs,
      labels: labelsOf(probs, K, this.#cfg.head, this.#o.threshold, this.#regionsClassOrder),
    };
  }

  /** Release the plan. */
  dispose(): void {
    this.#plan.dispose();
  }
}

/**
 * Label map from probabilities: arg-max over K maps (softmax heads), or `p > threshold` for a
 * single sigmoid map (label 1), or the first map above threshold in order of probability for
 * several sigmoid maps.
 *
 * With `regionsClassOrder` the maps are regions, and {@linkcode regionLabels} decides.
 *
 * @param probs `[K, ...spatial]`.
 * @param K Number of maps.
 * @param head `"sigmoid"` or `"softmax"`.
 * @param threshold Sigmoid threshold.
 * @param regionsClassOrder The label value each region map writes (a region-based model).
 * @returns Label per voxel (0 = background for sigmoid heads; the map index for softmax).
 */
export function labelsOf(
  probs: Float32Array,
  K: number,
  head: "sigmoid" | "softmax",
  threshold = 0.5,
  regionsClassOrder?: readonly number[],
): Uint8Array {
  if (regionsClassOrder) return regionLabels(probs, regionsClassOrder, { threshold });
  const n = probs.length / K;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (head === "softmax") {
      let best = 0;
      for (let k = 1; k < K; k++) if (probs[k * n + i] > probs[best * n + i]) best = k;
      out[i] = best;
    } else {
      let best = -1;
      let bestP = threshold;
      for (let k = 0; k < K; k++) {
        if (probs[k * n + i] > bestP) {
          bestP = probs[k * n + i];
          best = k;
        }
      }
      out[i] = best + 1;
    }
  }
  return out;
}

/**
 * The label map of region probabilities by nnU-Net v2's rule
 * (`LabelManager.convert_probabilities_to_segmentation`): start from background 0; for each
 * region r in order, every voxel with `p_r > threshold` gets the value `classOrder[r]`, so a
 * later region overwrites an earlier one (nested regions listed outermost first give the
 * innermost value).
 *
 * @param probs Region maps `[R, ...spatial]`.
 * @param classOrder The label value each region writes (`regions_class_order`), R values.
 * @param options `threshold` (default 0.5).
 * @returns Label value per voxel.
 * @throws {RangeError} When the map count is not a whole multiple of R or a value is not 0..255.
 * @example
 * ```ts
 * import { regionLabels } from "./inference.ts";
 * // whole tumour [1, 2, 3], tumour core [2, 3], enhancing 3; three voxels
 * const p = new Float32Array([0.9, 0.9, 0.2, 0.1, 0.8, 0.7, 0.0, 0.6, 0.1]);
 * console.log(Array.from(regionLabels(p, [1, 2, 3]))); // [1, 3, 2]
 * ```
 */
export function regionLabels(
  probs: Float32Array,
  classOrder: readonly number[],
  options: { threshold?: number } = {},
): Uint8Array {
  const R = classOrder.length;
  const threshold = options.threshold ?? 0.5;
  if (R < 1 || probs.length % R !== 0) {
    throw new RangeError(
      `Cannot convert regions to labels: ${probs.length} probabilities for ${R} region(s)`,
    );
  }
  for (const v of classOrder) {
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw new RangeError(`Cannot convert regions to labels: region value ${v} is not 0..255`);
    }
  }
  const n = probs.length / R;
  const out = new Uint8Array(n);
  for (let r = 0; r < R; r++) {
    const v = classOrder[r];
    const map = probs.subarray(r * n, (r + 1) * n);
    for (let i = 0; i < n; i++) if (map[i] > threshold) out[i] = v;
  }
  return out;
}
