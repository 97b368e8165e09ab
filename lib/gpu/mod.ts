/**
 * The WebGPU layer: device acquisition, typed WGSL kernel specs and their runtime, buffer
 * pool, tensor views and step plans, and the ops every U-Net layer is built from.
 *
 * @module
 */

export {
  type AdapterReport,
  type GpuContext,
  GpuUnavailableError,
  requestGpu,
  type RequestGpuOptions,
} from "./device.ts";
export {
  type BindingAccess,
  type BindingDecl,
  bindingOf,
  type ElementType,
  f32Literal,
  generateWgsl,
  grid1d,
  type KernelSpec,
  uniformByteSize,
  type UniformType,
  wgsl,
  type Workgroups,
  workgroupTriple,
} from "./kernel_spec.ts";
export {
  type BufferArg,
  type CompiledKernel,
  type Dispatch,
  GpuRuntime,
  packUniforms,
  STORAGE_USAGE,
} from "./runtime.ts";
export { BufferPool, type BufferPoolStats, sizeClass } from "./buffer_pool.ts";
export {
  channelSlice,
  layoutOf,
  numel,
  type Shape5,
  type TensorView,
  view,
  type ViewLayout,
} from "./tensor.ts";
export { type Readback, StepPlan } from "./step_plan.ts";
export type { AdamGroup, AdamOptions, AdamUpdate } from "./ops/adam.ts";
export type { DiceLossGpuOptions, LabeledMask } from "./ops/dice_loss.ts";
export type { GradTelemetry } from "./ops/telemetry.ts";
