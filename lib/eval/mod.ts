/**
 * Evaluation: cross-validation folds by subject, per-case metrics (DSC, volumes, ΔV), ROC and
 * exact AUC, the paired bootstrap and sign-flip permutation tests (in process or in a worker
 * pool, identical for a seed), multiple-comparison adjustment, and their calibration.
 * Float64, seeded, no GPU. Definitions and conventions: docs/statistics.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { caseMetrics, pairedBootstrap } from "./mod.ts";
 * const [tumour] = caseMetrics([0, 1, 1, 1], [0, 1, 1, 0], {
 *   spacing: [2, 2, 2],
 *   classes: ["tumour"],
 * });
 * assert(tumour.dsc === 0.8 && tumour.deltaVolumeMl === 0.008);
 * const r = pairedBootstrap([0.8, 0.7, 0.9], [0.9, 0.85, 0.95], { resamples: 500, seed: 1 });
 * assert(r.estimate < 0);
 * ```
 *
 * @module
 */

export {
  type FoldRule,
  type FoldSplit,
  foldSubjects,
  type KFoldOptions,
  kFoldSplit,
  parseFoldSplit,
  writeFoldSplit,
} from "./folds.ts";
export {
  argmaxLabels,
  caseMetrics,
  type CaseMetricsOptions,
  type ClassMetrics,
  diceScore,
  type EmptyDice,
  resolveEmptyDice,
  thresholdLabels,
  voxelVolumeMl,
} from "./metrics.ts";
export { type CaseIdentity, type CaseResult, caseResults, type JobKey } from "./case_result.ts";
export { rocAuc, type RocCurve, rocCurve, type RocPoint } from "./roc.ts";
export type { BootstrapMethod, LocationStatistic, StatisticFn } from "./resampling.ts";
export {
  aucBootstrap,
  type AucBootstrapOptions,
  type AucBootstrapResult,
  type MissingPairs,
  pairedBootstrap,
  type PairedBootstrapOptions,
  type PairedBootstrapResult,
  permutationTest,
  type PermutationTestOptions,
  type PermutationTestResult,
  quantile,
} from "./bootstrap.ts";
export { BootstrapPool, type BootstrapPoolOptions } from "./bootstrap_pool.ts";
export {
  adjustPValues,
  benjaminiHochberg,
  holm,
  type PAdjustMethod,
} from "./multiple_comparisons.ts";
export {
  type CalibratedTest,
  rejectionRate,
  type RejectionRateOptions,
  type RejectionRateResult,
} from "./calibration.ts";
