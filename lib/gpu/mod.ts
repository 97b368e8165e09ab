/**
 * The WebGPU layer: device acquisition, typed WGSL kernel specs and their runtime, buffer
 * pool, tensor views and step plans, and the ops every U-Net layer is built from.
 *
 * @module
 */

export * from "./device.ts";
export * from "./kernel_spec.ts";
export * from "./runtime.ts";
export * from "./buffer_pool.ts";
export * from "./tensor.ts";
export * from "./step_plan.ts";
export type { AdamGroup, AdamOptions, AdamUpdate } from "./ops/adam.ts";
export type { DiceLossGpuOptions, LabeledMask } from "./ops/dice_loss.ts";
export type { GradTelemetry } from "./ops/telemetry.ts";
