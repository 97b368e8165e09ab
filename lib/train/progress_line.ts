/**
 * The live progress of a training job: one line with the epoch and step, the training loss, the
 * validation loss, steps/s and the job's ETA — redrawn in place on a terminal, one line per
 * epoch in logs (SLURM, CI).
 *
 * @module
 */

/** What a progress line shows. */
export interface ProgressState {
  /** Job label (e.g. `f0-partial-BI-b2`). */
  label?: string;
  /** Steps done. */
  step: number;
  /** Steps of the whole job. */
  total: number;
  /** Current epoch (0-based). */
  epoch: number;
  /** Epochs of the whole job. */
  epochs: number;
  /** Mean training loss of the last finished epoch (NaN before one). */
  loss: number;
  /** Validation loss of the last finished epoch (NaN without validation cases). */
  valLoss: number;
  /** Steps per second in this run. */
  rate: number;
}

/**
 * A duration as `42s`, `3m07s` or `2h05m` (`?` when unknown).
 *
 * @param s Seconds.
 * @returns The text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { durationText } from "./progress_line.ts";
 * assert.equal(durationText(187), "3m07s");
 * ```
 */
export function durationText(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The progress line of a training job.
 *
 * @param s The state.
 * @returns One line (no newline).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressLine } from "./progress_line.ts";
 * const line = progressLine({
 *   label: "f0-full-I-b2", step: 30, total: 120, epoch: 2, epochs: 8, loss: 0.41234,
 *   valLoss: 0.5, rate: 3,
 * });
 * assert.equal(
 *   line,
 *   "f0-full-I-b2 epoch 3/8 step 30/120 loss 0.4123 val 0.5000 3.00 steps/s ETA 30s",
 * );
 * ```
 */
export function progressLine(s: ProgressState): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "-");
  const eta = s.rate > 0 ? (s.total - s.step) / s.rate : Infinity;
  return `${s.label ?? "train"} epoch ${Math.min(s.epoch + 1, s.epochs)}/${s.epochs} step ` +
    `${s.step}/${s.total} loss ${f(s.loss)} val ${f(s.valLoss)} ${s.rate.toFixed(2)} steps/s ` +
    `ETA ${durationText(eta)}`;
}
