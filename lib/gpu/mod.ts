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
  type BindLimits,
  type BufferArg,
  type CompiledKernel,
  type Dispatch,
  GpuRuntime,
  packUniforms,
  STORAGE_USAGE,
} from "./runtime.ts";
export { BufferPool, type BufferPoolStats, sizeClass } from "./buffer_pool.ts";
export {
  type BindingLimits,
  channelSlice,
  layoutOf,
  numel,
  type RowChunk,
  rowChunks,
  type RowTensor,
  type RowWindow,
  type Shape5,
  type TensorView,
  view,
  type ViewLayout,
} from "./tensor.ts";
export { type Readback, StepPlan, type StepPlanOptions } from "./step_plan.ts";
export {
  dryBuffer,
  type DryLimits,
  dryRuntime,
  hostWritten,
  type MemoryAssignment,
  planMemory,
  type PlanMemoryOptions,
  runtimeLimits,
  type ScratchRecord,
} from "./memory_plan.ts";
export {
  type AdamGroup,
  adamHyper,
  type AdamOptions,
  type AdamUpdate,
  adamUpdate,
  resolveAdamOptions,
} from "./ops/adam.ts";
export {
  type DiceLossGpu,
  diceLossGpu,
  type DiceLossGpuOptions,
  type DiceLossGpuOutputs,
  type DiceTiling,
  diceTiling,
  type LabeledMask,
  subsetEpsilon,
} from "./ops/dice_loss.ts";
export {
  type GradTelemetry,
  type GradTelemetryGpu,
  gradTelemetryGpu,
  type GradTelemetryGpuOptions,
  type GradTelemetryGpuOutputs,
  parseGradTelemetry,
} from "./ops/telemetry.ts";
