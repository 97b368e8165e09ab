/**
 * Sliding-window inference of a trained U-Net over whole volumes: windows of the training
 * patch size, batched through one inference plan, blended with a Gaussian or uniform
 * importance map, then thresholded (sigmoid) or arg-maxed (softmax) into a label map.
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
  #o: Required<SlidingWindowOptions>;
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
    this.#o = { overlap: 0.5, blending: "gaussian", batch: 1, threshold: 0.5, ...options };
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
    return { probs, labels: labelsOf(probs, K, this.#cfg.head, this.#o.threshold) };
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
 * @param probs `[K, ...spatial]`.
 * @param K Number of maps.
 * @param head `"sigmoid"` or `"softmax"`.
 * @param threshold Sigmoid threshold.
 * @returns Label per voxel (0 = background for sigmoid heads; the map index for softmax).
 */
export function labelsOf(
  probs: Float32Array,
  K: number,
  head: "sigmoid" | "softmax",
  threshold = 0.5,
): Uint8Array {
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
