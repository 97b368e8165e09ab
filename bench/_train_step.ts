/**
 * Shared pieces of the training-step benchmarks (`unet_bench.ts`, `paper_bench.ts`): the
 * median, one timed training step (Adam step set, plan run, loss read back), the convolution
 * work of a U-Net step, and the GPU bytes a built step holds.
 *
 * @module
 */

import type { BufferPool } from "../lib/gpu/buffer_pool.ts";
import type { ParamStore } from "../lib/nn/param_store.ts";
import type { UNetPlan } from "../lib/nn/unet3d.ts";
import { type Triple, type UNetConfig, unetLayout } from "../lib/nn/unet_config.ts";

/**
 * Median of a list of numbers.
 *
 * @param xs The values (not empty).
 * @returns The median (mean of the two middle values for an even count).
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * A function running one training step of a built plan: set Adam's step, run the plan (one
 * submit) and read the loss back.
 *
 * @param plan The built training plan.
 * @param lr Learning rate.
 * @returns `run()` resolving to the step's loss, and `step()` the steps run so far.
 */
export function stepRunner(
  plan: UNetPlan,
  lr = 1e-3,
): { run: () => Promise<number>; step: () => number } {
  let step = 0;
  return {
    run: async () => {
      plan.adam!.setStep(++step, lr);
      const [loss] = await plan.plan.run([plan.lossReadback!]);
      return loss[0];
    },
    step: () => step,
  };
}

/**
 * Floating-point operations of the convolutions of one training step: per conv `2·B·Cin·Cout·
 * taps·voxels` for the forward pass, the input gradient (not for the very first conv) and the
 * weight gradient, and the same for 2×2×2 transposed convs at the coarse level's voxels.
 *
 * @param cfg Network configuration.
 * @param batch Batch size.
 * @param patch Patch `[D, H, W]`.
 * @returns GFLOP per step.
 */
export function convGflopPerStep(cfg: UNetConfig, batch: number, patch: Triple): number {
  const layout = unetLayout(cfg);
  const voxels = [patch[0] * patch[1] * patch[2]];
  for (let l = 0; l < cfg.filters.length - 1; l++) {
    const p = cfg.pools[l];
    voxels.push(voxels[l] / (p[0] * p[1] * p[2]));
  }
  let flops = 0;
  const conv = (cin: number, cout: number, taps: number, v: number, first: boolean) => {
    flops += 2 * batch * cin * cout * taps * v * (first ? 2 : 3);
  };
  layout.encoder.forEach((blocks, l) =>
    blocks.forEach((b, i) =>
      conv(b.cin, b.cout, b.kernel[0] * b.kernel[1] * b.kernel[2], voxels[l], l === 0 && i === 0)
    )
  );
  layout.decoder.forEach((blocks, l) => {
    for (const b of blocks) {
      conv(b.cin, b.cout, b.kernel[0] * b.kernel[1] * b.kernel[2], voxels[l], false);
    }
    if (cfg.upsampling === "transposed") {
      conv(cfg.filters[l + 1], cfg.filters[l], 8, voxels[l + 1], false);
    }
  });
  const h = layout.head;
  conv(h.cin, h.cout, h.kernel[0] * h.kernel[1] * h.kernel[2], voxels[0], false);
  return flops / 1e9;
}

/**
 * GPU bytes a built step holds while it runs: every buffer of the plan comes from the pool
 * and stays handed out for the plan's lifetime (the liveness-planned, shared scratch
 * buffers), so the pool's bytes in use are the step's peak; plus the parameter store
 * (parameters, gradients, Adam moments, decay mask, state). Equals `plan.memory.peakBytes`
 * when the pool serves one plan only.
 *
 * @param pool The pool the plan was built from.
 * @param store The parameter store.
 * @returns Bytes.
 */
export function stepGpuBytes(pool: BufferPool, store: ParamStore): number {
  const storeBytes = [store.params, store.grads, store.m, store.v, store.decayMask, store.state]
    .reduce((s, b) => s + b.size, 0);
  return pool.stats.bytesInUse + storeBytes;
}
