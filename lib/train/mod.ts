/**
 * Training: the case store and patch stream (worker pool), sample schedule, plateau schedule,
 * the trainer, and sliding-window inference.
 *
 * @module
 */

export {
  CaseStore,
  type CaseStoreOptions,
  createPatchPool,
  type PatchPool,
  type PatchPoolOptions,
} from "./case_store.ts";
export {
  type PatchBatch,
  PatchStream,
  type PatchStreamOptions,
  type PatchStreamStats,
  VALIDATION_STREAM,
  validationBatches,
  type ValidationBatchOptions,
} from "./patch_stream.ts";
export { SampleSchedule, type SampleScheduleOptions } from "./sampling.ts";
export {
  type PlateauEvent,
  type PlateauOptions,
  PlateauSchedule,
  type PlateauState,
} from "./plateau.ts";
export {
  loadWeights,
  type StepRecord,
  Trainer,
  type TrainerConfig,
  type TrainerIO,
  TrainingDivergedError,
  type TrainSummary,
} from "./trainer.ts";
export {
  axisStarts,
  extractWindow,
  importanceMap,
  WindowAccumulator,
  type WindowOptions,
  windowStarts,
} from "./sliding_window.ts";
export {
  labelsOf,
  regionLabels,
  type SlidingWindowOptions,
  SlidingWindowPredictor,
  type VolumePrediction,
} from "./inference.ts";
export type { PatchJob, PatchJobResult } from "./patch_jobs.ts";
export type { JobBarrier } from "./patch_jobs.ts";
export { type BatchCase, type BatchJob, batchMarks, type BatchResult } from "./build_batch.ts";
export { durationText, progressLine, type ProgressState } from "./progress_line.ts";
