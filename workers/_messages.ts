/**
 * Message types of the worker entry points in this folder. Each worker is a thin adapter:
 * message → pure `lib/` function → result, transferring `ArrayBuffer`s.
 *
 * @module
 */

import type { ResampleJob } from "../lib/eval/resampling.ts";
import type { PatchJob, PatchJobResult } from "../lib/train/patch_jobs.ts";

/** Bootstrap worker: compute the replicates of resample indices [start, end) of a job. */
export type BootstrapRequest = ResampleJob;

/** Bootstrap worker reply: one replicate per index, in index order (buffer transferred). */
export interface BootstrapReply {
  /** Replicates of [start, end). */
  replicates: Float64Array;
}

/**
 * Patch worker: load a case into shared memory, (un)register a case store, or build a
 * training batch (see `lib/train/patch_jobs.ts`).
 */
export type PatchRequest = PatchJob;

/** Patch worker reply, by job kind (a batch's buffers are transferred). */
export type PatchReply = PatchJobResult;
