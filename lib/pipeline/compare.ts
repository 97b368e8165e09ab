/**
 * Paired comparison of experiments within a finished run: for each pair (a, b), labeling,
 * batch size, group and class, the paired bootstrap of the mean difference a − b of DSC over
 * the same held-out cases, with Holm's adjustment over all the tests of the call. This is the
 * paper's "I vs leaf vs marginal: no significant differences" test (Sect. 4), on any run.
 *
 * ```sh
 * deno task compare runs/acdc-full --pairs I:leaf,I:marginal,leaf:marginal
 * ```
 *
 * @module
 */

import { pairedBootstrap } from "../eval/bootstrap.ts";
import { holm } from "../eval/multiple_comparisons.ts";

/** One paired test. */
export interface Comparison {
  /** First experiment (the difference is a − b). */
  a: string;
  /** Second experiment. */
  b: string;
  /** Labeling. */
  labeling: string;
  /** Batch size. */
  batchSize: number;
  /** Group (e.g. ED/ES, HGG/LGG). */
  group: string;
  /** Class name. */
  className: string;
  /** Number of paired cases. */
  n: number;
  /** Mean DSC of a. */
  meanA: number;
  /** Mean DSC of b. */
  meanB: number;
  /** Mean difference a − b. */
  estimate: number;
  /** Percentile interval of the difference. */
  ci: [number, number];
  /** Two-sided p-value (centred paired bootstrap). */
  p: number;
  /** Holm-adjusted p-value over every test of the call. */
  pHolm: number;
}

/** Options of {@linkcode compareExperiments}. */
export interface CompareOptions {
  /** Experiment pairs `[a, b]`. */
  pairs: [string, string][];
  /** Bootstrap resamples. @default 10000 */
  resamples?: number;
  /** Seed. @default 1 */
  seed?: number;
  /** Confidence level of the intervals. @default 0.95 */
  level?: number;
  /** Classes to test (default: every class in the rows). */
  classes?: string[];
}

/** The part of `results.json` that the comparison reads. */
export interface CompareRows {
  /** Per-case rows: the job, the case, its group and class, and the DSC (null: undefined). */
  rows: {
    job: { experiment: string; labeling: string; batchSize: number; fold: number };
    caseId: string;
    group: string;
    className: string;
    dsc: number | null;
  }[];
}

/**
 * Run the paired tests.
 *
 * @param results A run's `results.json`.
 * @param options Pairs, resamples, seed, level, classes.
 * @returns One comparison per pair × labeling × B × group × class that both experiments have.
 * @throws {Error} When an experiment of a pair is not in the results, or no case pairs up.
 */
export function compareExperiments(results: CompareRows, options: CompareOptions): Comparison[] {
  const experiments = new Set(results.rows.map((r) => r.job.experiment));
  for (const [a, b] of options.pairs) {
    for (const e of [a, b]) {
      if (!experiments.has(e)) {
        throw new Error(
          `Unknown experiment "${e}" in --pairs: the run has ${[...experiments].join(", ")}`,
        );
      }
    }
  }
  const byKey = new Map<string, number>();
  const cells = new Set<string>();
  for (const r of results.rows) {
    if (r.dsc === null || !Number.isFinite(r.dsc)) continue;
    if (options.classes && !options.classes.includes(r.className)) continue;
    const cell = [r.job.labeling, r.job.batchSize, r.group, r.className].join("\u0000");
    cells.add(cell);
    byKey.set(`${r.job.experiment}\u0000${cell}\u0000${r.caseId}`, r.dsc);
  }
  const caseIds = [...new Set(results.rows.map((r) => r.caseId))].sort();
  const out: Omit<Comparison, "pHolm">[] = [];
  for (const [a, b] of options.pairs) {
    for (const cell of [...cells].sort()) {
      const xa: number[] = [];
      const xb: number[] = [];
      for (const id of caseIds) {
        const va = byKey.get(`${a}\u0000${cell}\u0000${id}`);
        const vb = byKey.get(`${b}\u0000${cell}\u0000${id}`);
        if (va !== undefined && vb !== undefined) {
          xa.push(va);
          xb.push(vb);
        }
      }
      if (xa.length < 2) continue;
      const [labeling, batchSize, group, className] = cell.split("\u0000");
      const t = pairedBootstrap(xa, xb, {
        resamples: options.resamples ?? 10000,
        seed: options.seed ?? 1,
        level: options.level ?? 0.95,
      });
      const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
      out.push({
        a,
        b,
        labeling,
        batchSize: Number(batchSize),
        group,
        className,
        n: xa.length,
        meanA: mean(xa),
        meanB: mean(xb),
        estimate: t.estimate,
        ci: t.ci,
        p: t.p,
      });
    }
  }
  if (out.length === 0) throw new Error("No case has a DSC under both experiments of any pair");
  const adjusted = holm(out.map((c) => c.p));
  return out.map((c, i) => ({ ...c, pHolm: adjusted[i] }));
}

/**
 * Markdown table of comparisons.
 *
 * @param comparisons From {@linkcode compareExperiments}.
 * @param alpha Significance level for the verdict column.
 * @returns The table.
 */
export function comparisonTable(comparisons: Comparison[], alpha = 0.05): string {
  const f = (x: number) => x.toFixed(3);
  const lines = [
    "| a − b | labeling | B | group | class | n | mean a | mean b | difference [95 % CI] | p | p (Holm) | |",
    "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const c of comparisons) {
    lines.push(
      `| ${c.a} − ${c.b} | ${c.labeling} | ${c.batchSize} | ${c.group} | ${c.className} | ${c.n} | ` +
        `${f(c.meanA)} | ${f(c.meanB)} | ${f(c.estimate)} [${f(c.ci[0])}, ${f(c.ci[1])}] | ` +
        `${f(c.p)} | ${f(c.pHolm)} | ${c.pHolm < alpha ? "different" : "not significant"} |`,
    );
  }
  return lines.join("\n");
}
