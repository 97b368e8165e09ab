/**
 * Merging a run folder: collect every job's `result.json` into `results.json`, assemble the
 * overlay examples and the gradient-telemetry figure, and write the report. Used at the end
 * of a run and by `deno task merge DIR` after sharded runs.
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../core/atomic_write.ts";
import type { CaseResult } from "../eval/case_result.ts";
import { writeReport } from "../report/report.ts";
import type { ReportFigure } from "../report/report_json.ts";
import { writeExamples } from "./_examples.ts";
import { epsilonSweepFigures, telemetryFigure } from "./figures.ts";
import { enumerateJobs, type Job } from "./jobs.ts";
import { pipelineDataset } from "./resolve.ts";
import { runProblems } from "./job_outcome.ts";
import { CorruptFileError, readJobResult, readResolvedRun } from "./run_folder.ts";
import type { JobResult, ResolvedRun } from "./run_types.ts";
import { subjectSubgroups } from "./subgroups.ts";

/** Options of {@linkcode mergeRun}. */
export interface MergeOptions {
  /** Log sink. @default console.log */
  log?: (line: string) => void;
  /** Throw when jobs are missing (the `merge` command); else return false. @default true */
  require?: boolean;
}

/** The jobs a run folder is expected to hold. */
export function expectedJobs(run: ResolvedRun): Job[] {
  return enumerateJobs(run.pipeline, {
    quick: run.quick,
    only: run.selection.only,
    folds: run.selection.folds,
  });
}

/**
 * Merge a run folder and write its report when every job is done.
 *
 * @param dir Run folder.
 * @param options Log sink and strictness.
 * @returns True when the report was written.
 * @throws {Error} With `require`, listing the missing jobs.
 */
export async function mergeRun(dir: string, options: MergeOptions = {}): Promise<boolean> {
  const log = options.log ?? ((l: string) => console.log(l));
  const run = await readResolvedRun(dir);
  const p = run.pipeline;
  const jobs = expectedJobs(run);
  const results: JobResult[] = [];
  const missing: string[] = [];
  const corrupt: string[] = [];
  for (const j of jobs) {
    try {
      results.push(await readJobResult(dir, j.id));
    } catch (err) {
      if (err instanceof CorruptFileError) corrupt.push(err.message);
      else if (err instanceof Deno.errors.NotFound) missing.push(j.id);
      else throw err;
    }
  }
  if (corrupt.length > 0) {
    const msg = `${corrupt.join("; ")} (\`deno task run … --resume --out ${dir}\` runs ` +
      `${corrupt.length > 1 ? "those jobs" : "that job"} again from ${
        corrupt.length > 1 ? "their checkpoints" : "its checkpoint"
      })`;
    if (options.require ?? true) throw new Error(`Cannot merge: ${msg}`);
    log(`Not merging: ${msg}`);
    return false;
  }
  if (missing.length > 0) {
    const msg = `${missing.length} of ${jobs.length} jobs are not finished in ${dir}: ${
      missing.slice(0, 8).join(", ")
    }${missing.length > 8 ? ", …" : ""}`;
    if (options.require ?? true) throw new Error(`Cannot merge: ${msg}`);
    log(`Not merging yet: ${msg}`);
    return false;
  }
  const rows: CaseResult[] = results.flatMap((r) => r.rows);
  const present = Object.keys(p.labelings).filter((n) => results.some((r) => r.job.labeling === n));
  const expLabel = (name: string) => p.experiments[name].label ?? name;
  const resultsJson = {
    schema: "dicelab.results/1",
    pipeline: p.name,
    dataset: p.dataset.kind,
    seed: p.seed,
    emptyDice: p.evaluation.emptyDice ?? 1,
    target: {
      className: p.evaluation.target.className,
      classIndex: p.evaluation.target.classIndex,
      groups: p.evaluation.target.groups,
    },
    // Significance marks compare with full labels; a run without them (e.g. --quick) has none.
    referenceLabeling: present.includes("full") ? "full" : present[0],
    labelings: Object.entries(p.labelings).filter(([n]) =>
      results.some((r) => r.job.labeling === n)
    )
      .map(([name, l]) => ({ name, kind: l.kind })),
    experiments: Object.keys(p.experiments).filter((n) =>
      results.some((r) => r.job.experiment === n)
    )
      .map((name) => ({ name, label: expLabel(name) })),
    statistics: {
      resamples: p.evaluation.bootstrap.resamples,
      seed: p.seed,
      alpha: p.evaluation.bootstrap.alpha,
      correction: p.evaluation.bootstrap.correction,
    },
    rows,
  };
  await writeJsonAtomic(`${dir}/results.json`, resultsJson);
  await writeJsonAtomic(
    `${dir}/jobs.json`,
    results.map((r) => ({
      ...r.job,
      epsilon: r.epsilon,
      training: r.training,
      seconds: r.seconds,
      ...(r.diverged ? { diverged: r.diverged } : {}),
      ...(r.warnings ? { warnings: r.warnings } : {}),
    })),
  );
  await writeExamples(dir, run, results.map((r) => r.job));
  const figures: ReportFigure[] = [];
  const tel = await telemetryFigure(dir, p, results.map((r) => r.job));
  if (tel) {
    figures.push(tel);
    await writeFileAtomic(`${dir}/telemetry.svg`, tel.svg);
  }
  for (const f of epsilonSweepFigures(p, results)) {
    figures.push(f);
    await writeFileAtomic(`${dir}/${f.id}.svg`, f.svg);
  }
  const subgroups = await _subgroups(run, rows.map((r) => r.subject), log);
  const { warnings } = runProblems(results);
  await writeReport(dir, {
    figures,
    subgroups,
    title: `dicelab report: ${p.name}`,
    ...(warnings.length > 0 ? { warnings } : {}),
  });
  log(`Report: ${dir}/report.html (Table 1 in ${dir}/table1.md)`);
  return true;
}

/**
 * The subjects' subgroups for the report's breakdown (the dataset's subgroup field, e.g. ACDC's
 * pathology), read from the run's dataset; undefined for a dataset without subgroups, or (with a
 * log line) when the dataset is gone or does not cover every subject.
 */
async function _subgroups(
  run: ResolvedRun,
  subjects: readonly string[],
  log: (line: string) => void,
): Promise<{ by: string; of: Record<string, string> } | undefined> {
  const key = pipelineDataset(run.pipeline).subgroup?.key;
  if (!key) return undefined;
  try {
    const map = await subjectSubgroups(run, { key });
    const missing = subjects.filter((s) => !map.has(s));
    if (missing.length > 0) {
      throw new Error(`no ${key} for ${missing.slice(0, 3).join(", ")} in ${run.root}`);
    }
    return { by: key, of: Object.fromEntries(map) };
  } catch (err) {
    log(`Report without the breakdown by ${key}: ${(err as Error).message}`);
    return undefined;
  }
}
