/**
 * Training: the case store and patch stream (worker pool), sample schedule, plateau schedule,
 * the trainer, and sliding-window inference.
 *
 * @module
 */

export * from "./case_store.ts";
export * from "./patch_stream.ts";
export * from "./sampling.ts";
export * from "./plateau.ts";
export * from "./trainer.ts";
export * from "./sliding_window.ts";
export * from "./inference.ts";
export type { PatchJob, PatchJobResult } from "./patch_jobs.ts";
export type { JobBarrier } from "./patch_jobs.ts";
export type { BatchCase, BatchJob, BatchResult } from "./build_batch.ts";
