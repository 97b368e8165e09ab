/**
 * The per-case result row shared by evaluation, statistics and reports: one row per
 * case × class × job (docs/architecture.md, "Evaluation and reports").
 *
 * @module
 */

import type { ClassMetrics } from "./metrics.ts";

/** The training job a prediction came from. */
export interface JobKey {
  /** Experiment name (a loss configuration, e.g. `"I"`, `"BI"`, `"I_eps"`). */
  experiment: string;
  /** Labeling name of the training labels (e.g. `"full"`, `"partial"`). */
  labeling: string;
  /** Batch size B. */
  batchSize: number;
  /** Cross-validation fold whose test set holds the case. */
  fold: number;
}

/** One row of `results.json`: metrics of one class of one case predicted by one job. */
export interface CaseResult {
  /** The job. */
  job: JobKey;
  /** Case id (unique within a job; ACDC: one per frame). */
  caseId: string;
  /** Subject id (the unit of the fold split). */
  subject: string;
  /** Group of the case (`"HGG"` / `"LGG"`, `"ED"` / `"ES"`). */
  group: string;
  /** Class name. */
  className: string;
  /**
   * DSC against the full ground truth; `null` when the empty-vs-empty convention left it
   * undefined (`emptyDice: "nan"`; JSON has no NaN).
   */
  dsc: number | null;
  /** Predicted volume in ml. */
  predVolumeMl: number;
  /** True volume in ml. */
  trueVolumeMl: number;
  /** ΔV = predicted − true volume in ml. */
  deltaVolumeMl: number;
}

/** The case a set of metrics belongs to. */
export interface CaseIdentity {
  /** Case id. */
  caseId: string;
  /** Subject id. */
  subject: string;
  /** Group. */
  group: string;
}

/**
 * Turn the metrics of one case (from {@linkcode caseMetrics}) into result rows. An undefined
 * DSC (NaN, from `emptyDice: "nan"`) becomes `null`, the form `results.json` stores.
 *
 * @param job The job that predicted the case.
 * @param identity Case id, subject and group.
 * @param metrics One entry per class.
 * @returns One row per class.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { caseResults } from "./case_result.ts";
 * import { caseMetrics } from "./metrics.ts";
 * const metrics = caseMetrics([1, 1, 0], [1, 0, 0], { spacing: [1, 1, 1], classes: ["tumour"] });
 * const [row] = caseResults(
 *   { experiment: "I", labeling: "full", batchSize: 2, fold: 0 },
 *   { caseId: "c1", subject: "c1", group: "HGG" },
 *   metrics,
 * );
 * assert(row.className === "tumour" && row.deltaVolumeMl === 0.001);
 * ```
 */
export function caseResults(
  job: JobKey,
  identity: CaseIdentity,
  metrics: readonly ClassMetrics[],
): CaseResult[] {
  return metrics.map((m) => ({
    job: { ...job },
    caseId: identity.caseId,
    subject: identity.subject,
    group: identity.group,
    className: m.className,
    dsc: Number.isNaN(m.dsc) ? null : m.dsc,
    predVolumeMl: m.predVolumeMl,
    trueVolumeMl: m.trueVolumeMl,
    deltaVolumeMl: m.deltaVolumeMl,
  }));
}
