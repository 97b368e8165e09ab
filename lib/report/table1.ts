/**
 * Table 1 of the paper: mean DSC and mean ΔV of the target class per labeling × batch size
 * (rows) and metric × group × experiment (columns), with each labeling compared against the
 * reference (full) labeling for the same experiment, B and group by a paired test over the
 * same cases (Tilborghs, Bertels et al. 2022, Table 1).
 *
 * @module
 */

import { pairedBootstrap, permutationTest } from "../eval/bootstrap.ts";
import type { BootstrapPool } from "../eval/bootstrap_pool.ts";
import { adjustPValues, type PAdjustMethod } from "../eval/multiple_comparisons.ts";
import type { RunResults, StoredCaseResult } from "./results.ts";

/** A Table 1 metric. */
export type Table1Metric = "dsc" | "deltaVolumeMl";

/** Options of {@linkcode buildTable1}. */
export interface Table1Options {
  /**
   * Resamples of each paired test.
   * @default results.statistics.resamples, else 10000
   */
  resamples?: number;
  /**
   * Seed of every test (each resample b of a test uses `new Rng(seed, b)`).
   * @default results.statistics.seed, else results.seed, else 1
   */
  seed?: number;
  /**
   * Significance level.
   * @default results.statistics.alpha, else 0.05
   */
  alpha?: number;
  /**
   * Multiple-comparison adjustment over all comparisons of the table.
   * @default results.statistics.correction, else "none"
   */
  correction?: PAdjustMethod;
  /**
   * Paired test of the mean difference: the centred (`"bootstrap"`) or studentized
   * (`"studentized"`) paired bootstrap, or the sign-flip `"permutation"` test.
   * @default "bootstrap"
   */
  test?: "bootstrap" | "studentized" | "permutation";
  /**
   * What the ΔV comparison tests: the signed ΔV (as the authors' code; inferior when the
   * partial mean is farther from 0) or the absolute error |ΔV| (inferior when larger).
   * @default "signed"
   */
  deltaVolume?: "signed" | "absolute";
  /** Run the tests in this worker pool instead of in process (identical results). */
  pool?: BootstrapPool;
}

/** A comparison of one cell with the same cell under the reference labeling. */
export interface Table1Comparison {
  /** Reference labeling. */
  reference: string;
  /** Paired cases. */
  n: number;
  /** Mean of (this − reference) over the paired cases (of |ΔV| when `deltaVolume` is absolute). */
  difference: number;
  /** Interval of the difference (bootstrap only). */
  ci: [number, number] | null;
  /** Two-sided p-value. */
  p: number;
  /** p after the multiple-comparison adjustment. */
  pAdjusted: number;
  /** Significantly worse than the reference (pAdjusted < α and in the inferior direction). */
  inferior: boolean;
}

/** One cell: a mean and its comparison. */
export interface Table1Cell {
  /** Experiment name. */
  experiment: string;
  /** Group. */
  group: string;
  /** Metric. */
  metric: Table1Metric;
  /** Mean over the group's cases (all folds), null without cases. */
  mean: number | null;
  /** Number of cases in the mean. */
  n: number;
  /**
   * Number of cases in the cell, with or without a defined value: `cases − n` DSCs were left
   * out as undefined (empty vs empty under `emptyDice: "nan"`).
   */
  cases: number;
  /** Comparison with the reference labeling; null for the reference itself or < 2 pairs. */
  comparison: Table1Comparison | null;
}

/** One row: a labeling and a batch size. */
export interface Table1Row {
  /** Labeling. */
  labeling: string;
  /** Batch size B. */
  batchSize: number;
  /** Cells in column order: metric, then group, then experiment. */
  cells: Table1Cell[];
}

/** Table 1 with its statistics settings. */
export interface Table1 {
  /** Target class and groups. */
  target: { className: string; groups: [string, string] };
  /** Reference labeling. */
  referenceLabeling: string;
  /** Experiments in column order, with display labels. */
  experiments: { name: string; label: string }[];
  /** Metrics in column order. */
  metrics: Table1Metric[];
  /** Rows: labelings in declared order, batch sizes ascending. */
  rows: Table1Row[];
  /** How the comparisons were made. */
  statistics: {
    test: "pairedBootstrap-centred" | "pairedBootstrap-studentized" | "signFlipPermutation";
    resamples: number;
    seed: number;
    alpha: number;
    correction: PAdjustMethod;
    deltaVolume: "signed" | "absolute";
    comparisons: number;
  };
}

/**
 * Build Table 1 from a run's results.
 *
 * @param results Parsed `results.json`.
 * @param options Test, resamples, seed, α, correction and an optional worker pool.
 * @returns The table.
 * @throws {RangeError} When a case appears twice in one job, or an option is out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildTable1 } from "./table1.ts";
 * const rows = [0.9, 0.8, 0.85].flatMap((dsc, i) =>
 *   ["full", "partial"].map((labeling) => ({
 *     job: { experiment: "I", labeling, batchSize: 2, fold: i },
 *     caseId: `c${i}`, subject: `c${i}`, group: "HGG", className: "tumour",
 *     dsc: labeling === "full" ? dsc : dsc - 0.1,
 *     predVolumeMl: 10, trueVolumeMl: 10, deltaVolumeMl: 0,
 *   }))
 * );
 * const table = await buildTable1({
 *   schema: "dicelab.results/1", pipeline: "demo", dataset: "brats",
 *   target: { className: "tumour", groups: ["HGG", "LGG"] }, referenceLabeling: "full",
 *   labelings: [{ name: "full" }, { name: "partial" }], experiments: [{ name: "I" }], rows,
 * }, { resamples: 99 });
 * assert(Math.abs(table.rows[1].cells[0].mean! - 0.75) < 1e-12);
 * ```
 */
export async function buildTable1(
  results: RunResults,
  options: Table1Options = {},
): Promise<Table1> {
  const stats = results.statistics ?? {};
  const resamples = options.resamples ?? stats.resamples ?? 10000;
  const seed = options.seed ?? stats.seed ?? results.seed ?? 1;
  const alpha = options.alpha ?? stats.alpha ?? 0.05;
  const correction = options.correction ?? stats.correction ?? "none";
  const test = options.test ?? "bootstrap";
  const deltaVolume = options.deltaVolume ?? "signed";
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`Cannot build Table 1: alpha is ${alpha}`);
  const { className, groups } = results.target;
  const reference = results.referenceLabeling;
  const metrics: Table1Metric[] = ["dsc", "deltaVolumeMl"];

  // job (labeling, B, experiment) → group → caseId → row of the target class
  const byJob = new Map<string, Map<string, Map<string, StoredCaseResult>>>();
  const batchSizes = new Map<string, Set<number>>();
  for (const row of results.rows) {
    if (row.className !== className || !groups.includes(row.group)) continue;
    const key = _jobKey(row.job.labeling, row.job.batchSize, row.job.experiment);
    if (!byJob.has(key)) byJob.set(key, new Map(groups.map((g) => [g, new Map()])));
    const cases = byJob.get(key)!.get(row.group)!;
    if (cases.has(row.caseId)) {
      throw new RangeError(
        `Cannot build Table 1: case ${row.caseId} appears twice in job ${
          key.replaceAll("\u0000", " / ")
        }`,
      );
    }
    cases.set(row.caseId, row);
    if (!batchSizes.has(row.job.labeling)) batchSizes.set(row.job.labeling, new Set());
    batchSizes.get(row.job.labeling)!.add(row.job.batchSize);
  }

  const pending: { cell: Table1Cell; a: number[]; b: number[]; aMean: number; bMean: number }[] =
    [];
  const rows: Table1Row[] = [];
  for (const { name: labeling } of results.labelings) {
    for (const batchSize of [...(batchSizes.get(labeling) ?? [])].sort((x, y) => x - y)) {
      const cells: Table1Cell[] = [];
      for (const metric of metrics) {
        for (const group of groups) {
          for (const { name: experiment } of results.experiments) {
            const cases = byJob.get(_jobKey(labeling, batchSize, experiment))?.get(group);
            const all = [...(cases?.values() ?? [])].map((r) => r[metric]);
            // An undefined DSC (null) is left out of the mean; `cases` keeps the count.
            const values = all.filter((v): v is number => v !== null && !Number.isNaN(v));
            const cell: Table1Cell = {
              experiment,
              group,
              metric,
              mean: values.length ? _mean(values) : null,
              n: values.length,
              cases: all.length,
              comparison: null,
            };
            cells.push(cell);
            if (labeling === reference || !cases) continue;
            const refCases = byJob.get(_jobKey(reference, batchSize, experiment))?.get(group);
            if (!refCases) continue;
            const a: number[] = [],
              b: number[] = [],
              signedA: number[] = [],
              signedB: number[] = [];
            const abs = metric === "deltaVolumeMl" && deltaVolume === "absolute";
            for (const [caseId, row] of [...cases].sort(([x], [y]) => x < y ? -1 : 1)) {
              const va = row[metric], vb = refCases.get(caseId)?.[metric];
              if (va === null || vb === null || vb === undefined) continue;
              if (Number.isNaN(va) || Number.isNaN(vb)) continue;
              signedA.push(va);
              signedB.push(vb);
              a.push(abs ? Math.abs(va) : va);
              b.push(abs ? Math.abs(vb) : vb);
            }
            if (a.length < 2) continue;
            pending.push({ cell, a, b, aMean: _mean(signedA), bMean: _mean(signedB) });
          }
        }
      }
      rows.push({ labeling, batchSize, cells });
    }
  }

  const tests = await Promise.all(
    pending.map(({ a, b }) => _compare(a, b, test, resamples, seed, options.pool)),
  );
  const adjusted = adjustPValues(tests.map((t) => t.p), correction);
  pending.forEach(({ cell, a, aMean, bMean }, i) => {
    const { difference, ci, p } = tests[i];
    const worse = cell.metric === "dsc"
      ? difference < 0
      : deltaVolume === "absolute"
      ? difference > 0
      : Math.abs(aMean) > Math.abs(bMean);
    cell.comparison = {
      reference,
      n: a.length,
      difference,
      ci,
      p,
      pAdjusted: adjusted[i],
      inferior: adjusted[i] < alpha && worse,
    };
  });

  return {
    target: { className, groups: [groups[0], groups[1]] },
    referenceLabeling: reference,
    experiments: results.experiments.map((e) => ({ name: e.name, label: e.label ?? e.name })),
    metrics,
    rows,
    statistics: {
      test: test === "bootstrap"
        ? "pairedBootstrap-centred"
        : test === "studentized"
        ? "pairedBootstrap-studentized"
        : "signFlipPermutation",
      resamples,
      seed,
      alpha,
      correction,
      deltaVolume,
      comparisons: pending.length,
    },
  };
}

async function _compare(
  a: number[],
  b: number[],
  test: "bootstrap" | "studentized" | "permutation",
  resamples: number,
  seed: number,
  pool?: BootstrapPool,
): Promise<{ difference: number; ci: [number, number] | null; p: number }> {
  if (test === "permutation") {
    const opts = { resamples, seed, exact: false };
    const r = pool ? await pool.permutationTest(a, b, opts) : permutationTest(a, b, opts);
    return { difference: r.estimate, ci: null, p: r.p };
  }
  if (test !== "bootstrap" && test !== "studentized") {
    throw new RangeError(`Cannot build Table 1: test is "${test}"`);
  }
  const opts = { resamples, seed, method: test === "bootstrap" ? "centred" as const : test };
  const r = pool ? await pool.pairedBootstrap(a, b, opts) : pairedBootstrap(a, b, opts);
  return { difference: r.estimate, ci: r.ci, p: r.p };
}

function _jobKey(labeling: string, batchSize: number, experiment: string): string {
  return `${labeling}\u0000${batchSize}\u0000${experiment}`;
}

function _mean(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}
