/**
 * The network: U-Net configuration and presets, parameter storage, the GPU training/inference
 * plan, its float64 reference, and the checkpoint format.
 *
 * @module
 */

export {
  type ActivationConfig,
  type BlockSpec,
  parameterCount,
  type ParamInit,
  type ParamSpec,
  resolveUNetConfig,
  sizeDivisor,
  type StateSpec,
  type Triple,
  UNET_PRESETS,
  type UNetConfig,
  type UNetLayout,
  unetLayout,
  type UNetOverrides,
  unetParams,
  type UNetPreset,
  validateUNetConfig,
} from "./unet_config.ts";
export {
  type BufferRange,
  initialValues,
  ParamStore,
  type Slot,
  SLOT_ALIGN,
} from "./param_store.ts";
export {
  buildUNetInto,
  buildUNetPlan,
  largestStoreBuffer,
  type StepMemory,
  storeBytes,
  type UNetPlan,
  type UNetPlanOptions,
} from "./unet3d.ts";
export { planStepMemory, type StepMemoryOptions } from "./step_memory.ts";
export { convGflopPerStep } from "./step_work.ts";
export { type ReferenceStep, type TensorMap, unetReferenceStep } from "./unet3d_ref.ts";
export {
  type Checkpoint,
  CHECKPOINT_VERSION,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  type NamedTensor,
  saveCheckpoint,
} from "./checkpoint.ts";
