/**
 * A finished job's outcome in words: its divergence, its warnings, and the run-level list of
 * both (shown in the run's summary and the report).
 *
 * @module
 */

import type { JobDivergence, JobResult } from "./run_types.ts";

/**
 * One line about a divergence: "diverged at step s (loss …, last finite loss …, lr …)".
 *
 * @param d The divergence.
 * @returns The text.
 */
export function divergenceText(d: JobDivergence): string {
  const facts = [
    d.what !== "the loss" ? `${d.what} not finite` : "",
    d.loss !== undefined ? `loss ${d.loss}` : "",
    d.lastFiniteLoss !== undefined ? `last finite loss ${d.lastFiniteLoss.toPrecision(4)}` : "",
    d.lr !== undefined ? `lr ${d.lr}` : "",
  ].filter(Boolean).join(", ");
  return `diverged at step ${d.step}${facts ? ` (${facts})` : ""}`;
}

/**
 * The problems of a run's finished jobs: one line per diverged job and per warning.
 *
 * @param results The jobs' results.
 * @returns Diverged job ids, and every warning line (divergences first).
 */
export function runProblems(
  results: readonly JobResult[],
): { diverged: string[]; warnings: string[] } {
  const diverged = results.filter((r) => r.diverged).map((r) => r.job.id);
  const warnings = [
    ...results.filter((r) => r.diverged).map((r) =>
      `${r.job.id}: ${divergenceText(r.diverged!)} — no evaluation rows`
    ),
    ...results.flatMap((r) => r.warnings ?? []),
  ];
  return { diverged, warnings };
}
