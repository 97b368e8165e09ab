/**
 * Message types of the worker entry points in this folder. Each worker is a thin adapter:
 * message → pure `lib/` function → result, transferring `ArrayBuffer`s.
 *
 * @module
 */

import type { ResampleJob } from "../lib/eval/resample.ts";

/** Bootstrap worker: compute the replicates of resample indices [start, end) of a job. */
export type BootstrapRequest = ResampleJob;

/** Bootstrap worker reply: one replicate per index, in index order (buffer transferred). */
export interface BootstrapReply {
  /** Replicates of [start, end). */
  replicates: Float64Array;
}
