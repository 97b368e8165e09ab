/**
 * Merging a run folder: collect every job's `result.json` into `results.json`, assemble the
 * overlay examples and the gradient-telemetry figure, and write the report. Used at the end
 * of a run and by `deno task merge DIR` after sharded runs.
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../core/atomic_write.ts";
import { applyLabeling } from "../data/labeling.ts";
import { listDataset } from "../data/list_dataset.ts";
import { loadCase } from "../data/load_case.ts";
import type { CaseResult } from "../eval/case_result.ts";
import { epsilonSweepSvg } from "../report/epsilon_sweep.ts";
import { linePlotSvg } from "../report/line_plot.ts";
import { writeExample } from "../report/examples.ts";
import { writeReport } from "../report/report.ts";
import type { ReportFigure } from "../report/report_json.ts";
import { subjectSubgroups } from "./breakdown.ts";
import { enumerateJobs, type Job } from "./jobs.ts";
import type { JobResult, ResolvedRun } from "./run.ts";
import type { Pipeline } from "./schema.ts";
import { validatePipeline } from "./define_pipeline.ts";

/** Options of {@linkcode mergeRun}. */
export interface MergeOptions {
  /** Log sink. @default console.log */
  log?: (line: string) => void;
  /** Throw when jobs are missing (the `merge` command); else return false. @default true */
  require?: boolean;
}

/**
 * Read a run folder's resolved pipeline.
 *
 * @param dir Run folder.
 * @returns The resolved run (validated pipeline, selection, dataset).
 * @throws {Error} When `pipeline.json` is missing or invalid.
 */
export async function readResolvedRun(dir: string): Promise<ResolvedRun> {
  let raw: ResolvedRun & { schema?: string };
  try {
    raw = JSON.parse(await Deno.readTextFile(`${dir}/pipeline.json`));
  } catch (err) {
    throw new Error(
      `Cannot read run folder ${dir}: pipeline.json is missing or unreadable (${
        (err as Error).message
      })`,
    );
  }
  return { ...raw, pipeline: validatePipeline(raw.pipeline, `${dir}/pipeline.json`) };
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
  for (const j of jobs) {
    try {
      results.push(JSON.parse(await Deno.readTextFile(`${dir}/jobs/${j.id}/result.json`)));
    } catch {
      missing.push(j.id);
    }
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
    })),
  );
  await _writeExamples(dir, run, results.map((r) => r.job));
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
  const subgroups = p.dataset.kind === "acdc"
    ? await _pathologies(run, rows.map((r) => r.subject), log)
    : undefined;
  await writeReport(dir, { figures, subgroups, title: `dicelab report: ${p.name}` });
  log(`Report: ${dir}/report.html (Table 1 in ${dir}/table1.md)`);
  return true;
}

/**
 * The ACDC subjects' pathology groups for the report's breakdown, read from the run's dataset;
 * undefined (with a log line) when the dataset is gone or does not cover every subject.
 */
async function _pathologies(
  run: ResolvedRun,
  subjects: readonly string[],
  log: (line: string) => void,
): Promise<{ by: string; of: Record<string, string> } | undefined> {
  try {
    const map = await subjectSubgroups(run, { key: "pathology" });
    const missing = subjects.filter((s) => !map.has(s));
    if (missing.length > 0) {
      throw new Error(`no pathology for ${missing.slice(0, 3).join(", ")} in ${run.root}`);
    }
    return { by: "pathology", of: Object.fromEntries(map) };
  } catch (err) {
    log(`Report without the breakdown by pathology: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * The gradient-telemetry figure: per experiment (partial labeling, fold 0, largest B), the
 * ratio of mean |∂L/∂ŷ| on empty-target maps to labelled maps over training, averaged per
 * epoch — the paper's "real motor" made visible.
 *
 * @param dir Run folder.
 * @param p Pipeline.
 * @param jobs Finished jobs.
 * @returns The figure, or undefined without telemetry.
 */
export async function telemetryFigure(
  dir: string,
  p: Pipeline,
  jobs: readonly Job[],
): Promise<ReportFigure | undefined> {
  const labeling = Object.keys(p.labelings).find((l) => l !== "full") ??
    Object.keys(p.labelings)[0];
  const fold = Math.min(...jobs.map((j) => j.fold));
  const series = [];
  for (const exp of Object.keys(p.experiments)) {
    const mine = jobs.filter((j) =>
      j.experiment === exp && j.labeling === labeling && j.fold === fold
    );
    if (mine.length === 0) continue;
    const job = mine.reduce((a, b) => (b.batchSize > a.batchSize ? b : a));
    let text: string;
    try {
      text = await Deno.readTextFile(`${dir}/jobs/${job.id}/train.jsonl`);
    } catch {
      continue;
    }
    const perEpoch = new Map<number, { e: number; l: number; n: number }>();
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as {
        epoch: number;
        gradEmpty: number | null;
        gradLabelled: number | null;
      };
      if (r.gradEmpty === null || r.gradLabelled === null) continue;
      const acc = perEpoch.get(r.epoch) ?? { e: 0, l: 0, n: 0 };
      acc.e += r.gradEmpty;
      acc.l += r.gradLabelled;
      acc.n++;
      perEpoch.set(r.epoch, acc);
    }
    const xs: number[] = [], ys: number[] = [];
    for (const [epoch, a] of [...perEpoch].sort((x, y) => x[0] - y[0])) {
      if (a.l > 0 && a.e > 0) {
        xs.push(epoch + 1);
        ys.push(a.e / a.l);
      }
    }
    if (xs.length > 0) {
      series.push({
        label: `${p.experiments[exp].label ?? exp} (B=${job.batchSize})`,
        x: xs,
        y: ys,
        markers: xs.length < 30,
      });
    }
  }
  if (series.length === 0) return undefined;
  const svg = linePlotSvg(series, {
    title: "Gradient on empty vs labelled maps",
    xLabel: "epoch",
    yLabel: "mean |∂L/∂ŷ| empty / labelled",
    yScale: "log",
    id: "telemetry",
  });
  return {
    id: "telemetry",
    title: "Gradient telemetry",
    svg,
    caption: `Ratio of the mean |∂L/∂ŷ| on maps with an empty training target to labelled maps, ` +
      `per epoch (labeling "${labeling}", fold ${fold}). Configurations that learn empty maps keep a ` +
      `ratio near 1; those that ignore missing labels drop to ~0.`,
  };
}

/** Assemble overlay examples from the per-job example predictions. */
async function _writeExamples(dir: string, run: ResolvedRun, jobs: readonly Job[]): Promise<void> {
  const p = run.pipeline;
  const partial = Object.keys(p.labelings).find((l) => l !== "full");
  const fold = Math.min(...jobs.map((j) => j.fold));
  const shown = jobs.filter((j) =>
    j.fold === fold && (j.labeling === partial || (!partial && j.labeling === "full"))
  );
  if (shown.length === 0) return;
  const bMax = Math.max(...shown.map((j) => j.batchSize));
  const pick = shown.filter((j) =>
    j.batchSize === bMax || p.experiments[j.experiment].batchSizes?.length === 1
  );
  const ids = new Set<string>();
  for (const j of pick) {
    try {
      for await (const e of Deno.readDir(`${dir}/jobs/${j.id}/examples`)) {
        ids.add(e.name.replace(/\.u8$/, ""));
      }
    } catch { /* no examples */ }
  }
  if (ids.size === 0) return;
  let records;
  try {
    records = await listDataset(p.dataset.kind, run.root);
  } catch {
    return; // dataset no longer available (e.g. merged elsewhere): report without overlays
  }
  for (const id of [...ids].sort()) {
    const rec = records.find((r) => r.id === id);
    if (!rec) continue;
    const c = await loadCase(rec, run.preprocessing);
    const labeling = partial ? p.labelings[partial] : undefined;
    const train = labeling ? applyLabeling(c, labeling as never).label : undefined;
    const V = c.shape[0] * c.shape[1] * c.shape[2];
    // FLAIR (BRATS channel 0) or the cine frame (ACDC): channel 0.
    const image = c.image.subarray(0, V);
    const predictions = [];
    for (const j of pick) {
      try {
        const labels = await Deno.readFile(`${dir}/jobs/${j.id}/examples/${id}.u8`);
        predictions.push({
          label: `${p.experiments[j.experiment].label ?? j.experiment} B=${j.batchSize}`,
          labels,
        });
      } catch { /* this job has no map for the case */ }
    }
    await writeExample(`${dir}/examples`, id, {
      caseId: id,
      group: c.group,
      shape: c.shape,
      image: Float32Array.from(image),
      truth: c.label,
      truthTrain: train,
      predictions,
    } as never);
  }
}

/**
 * ε-sweep figures: when a pipeline's experiments share loss kind, Φ and classes and differ only
 * in a numeric ε (plus, optionally, one heuristic-ε experiment), plot for each labeling other
 * than full and each batch size the target class's mean DSC and mean |ΔV| per group against ε
 * on a log axis, with the heuristic ε (mean over its jobs) marked.
 *
 * @param p Pipeline.
 * @param results Job results.
 * @returns Zero, one or two figures.
 */
export function epsilonSweepFigures(p: Pipeline, results: readonly JobResult[]): ReportFigure[] {
  const exps = Object.entries(p.experiments);
  const key = (l: { kind: string; phi: string; classes?: number[] }) =>
    `${l.kind}|${l.phi}|${JSON.stringify(l.classes ?? null)}`;
  const numeric = exps.filter(([, e]) => typeof e.loss.epsilon === "number");
  if (numeric.length < 3) return [];
  const k0 = key(numeric[0][1].loss);
  if (!numeric.every(([, e]) => key(e.loss) === k0)) return [];
  const heuristic = exps.find(([, e]) => e.loss.epsilon === "heuristic" && key(e.loss) === k0);
  const target = p.evaluation.target.className;
  const [g1, g2] = p.evaluation.target.groups;
  const labeling = Object.keys(p.labelings).find((l) =>
    l !== "full" &&
    results.some((r) => r.job.labeling === l)
  ) ?? "full";
  const mine = results.filter((r) => r.job.labeling === labeling);
  const sizes = [...new Set(mine.map((r) => r.job.batchSize))].sort((a, b) => a - b);
  const dsc: { epsilon: number; value: number; series: string }[] = [];
  const dv: { epsilon: number; value: number; series: string }[] = [];
  let hEps = NaN;
  if (heuristic) {
    const hs = mine.filter((r) => r.job.experiment === heuristic[0]).map((r) => {
      const e = r.epsilon as number[] | number;
      return Array.isArray(e) ? e[0] : e;
    });
    if (hs.length) hEps = hs.reduce((a, b) => a + b, 0) / hs.length;
  }
  for (const B of sizes) {
    for (const [name, e] of numeric) {
      const rows = mine.filter((r) => r.job.experiment === name && r.job.batchSize === B)
        .flatMap((r) => r.rows).filter((x) => x.className === target);
      for (const g of [g1, g2]) {
        const xs = rows.filter((x) => x.group === g);
        if (xs.length === 0) continue;
        const series = `${g}${sizes.length > 1 ? ` B=${B}` : ""}`;
        dsc.push({
          epsilon: e.loss.epsilon as number,
          value: xs.reduce((a, x) => a + (x.dsc ?? 0), 0) / xs.length,
          series,
        });
        dv.push({
          epsilon: e.loss.epsilon as number,
          value: xs.reduce((a, x) => a + Math.abs(x.deltaVolumeMl), 0) / xs.length,
          series,
        });
      }
    }
  }
  if (dsc.length === 0) return [];
  const heuristicEpsilon = Number.isFinite(hEps) ? hEps : undefined;
  const note = heuristicEpsilon
    ? ` The dashed line marks the heuristic ε (${heuristicEpsilon.toFixed(0)}, Sect. 2.3).`
    : "";
  return [
    {
      id: "epsilon-sweep-dsc",
      title: `ε sweep: DSC of ${target}`,
      svg: epsilonSweepSvg(dsc, {
        metricLabel: `mean DSC ${target}`,
        heuristicEpsilon,
        title: `Φ = ${numeric[0][1].loss.phi}: DSC of ${target} vs ε (labeling "${labeling}")`,
        yDomain: [0, 1],
      }).replaceAll('id="epsilon-sweep"', 'id="epsilon-sweep-dsc"'),
      caption: `Mean DSC per group against ε on a log axis.${note}`,
    },
    {
      id: "epsilon-sweep-dv",
      title: `ε sweep: |ΔV| of ${target}`,
      svg: epsilonSweepSvg(dv, {
        metricLabel: `mean |ΔV| ${target} [ml]`,
        heuristicEpsilon,
        title: `Φ = ${numeric[0][1].loss.phi}: |ΔV| of ${target} vs ε (labeling "${labeling}")`,
      }).replaceAll('id="epsilon-sweep"', 'id="epsilon-sweep-dv"'),
      caption: `Mean absolute volume difference per group against ε.${note}`,
    },
  ];
}
