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
export { convGflopPerStep } from "../lib/nn/step_work.ts";

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
