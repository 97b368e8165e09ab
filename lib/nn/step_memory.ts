/**
 * Sizing a U-Net step without a GPU: the step is recorded on a dry runtime (placeholder
 * buffers, no memory) and its scratch planned exactly as {@linkcode buildUNetPlan} plans it,
 * so the peak bytes of, e.g., the paper's BRATS network at B = 8 are known before (and
 * without) allocating them.
 *
 * @module
 */

import { BufferPool } from "../gpu/buffer_pool.ts";
import { type DryLimits, dryRuntime } from "../gpu/memory_plan.ts";
import { StepPlan } from "../gpu/step_plan.ts";
import { ParamStore } from "./param_store.ts";
import {
  buildUNetInto,
  largestStoreBuffer,
  type StepMemory,
  storeBytes,
  type UNetPlanOptions,
} from "./unet3d.ts";
import { type UNetConfig, unetParams } from "./unet_config.ts";

/** Options of {@linkcode planStepMemory}: the plan's options plus the adapter's limits. */
export interface StepMemoryOptions extends Omit<UNetPlanOptions, "adam"> {
  /**
   * The adapter limits the step is sized for (`runtimeLimits(rt)` of a real runtime; they
   * decide the ops' chunking and blockings, hence their scratch).
   * @default WebGPU's default limits, not a CPU fallback adapter
   */
  limits?: DryLimits;
}

/**
 * The GPU memory a step would hold, without allocating any: the same recording and liveness
 * plan as {@linkcode buildUNetPlan} (equal bytes for equal options and limits).
 *
 * @param cfg Network configuration.
 * @param options Batch, patch, mode, loss, memory strategy and adapter limits.
 * @returns Store, planned scratch and peak bytes, and the dispatch count.
 * @throws {RangeError} When the patch is not divisible by the pooling factors.
 * @example
 * ```ts
 * import { UNET_PRESETS } from "./unet_config.ts";
 * const m = planStepMemory(UNET_PRESETS.tiny, {
 *   batch: 2,
 *   patch: [8, 16, 16],
 *   mode: "train",
 *   loss: { phi: "BI", epsilon: 1e-7 },
 * });
 * if (!(m.scratchBytes < m.unplannedScratchBytes)) throw new Error("no reuse");
 * ```
 */
export function planStepMemory(cfg: UNetConfig, options: StepMemoryOptions): StepMemory {
  const rt = dryRuntime(options.limits);
  const { params, state } = unetParams(cfg);
  const store = new ParamStore(rt, params, state);
  const pool = new BufferPool(rt.device);
  const plan = new StepPlan(rt, pool, { bindingLimit: options.bindingLimit, record: true });
  buildUNetInto(plan, store, cfg, options);
  const unplanned = plan.scratchBytes;
  const planned = (options.memory ?? "liveness") === "static" ? undefined : plan.memoryPlan();
  const scratch = planned ? planned.peakBytes : unplanned;
  const largest = planned ? Math.max(0, ...planned.sizes) : plan.largestScratch;
  const s = storeBytes(store);
  return {
    storeBytes: s,
    scratchBytes: scratch,
    unplannedScratchBytes: unplanned,
    peakBytes: s + scratch,
    dispatches: plan.dispatches.length,
    largestBufferBytes: Math.max(largest, largestStoreBuffer(store)),
  };
}
