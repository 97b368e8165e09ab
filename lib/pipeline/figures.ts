/**
 * The run's figures built from its job folders: gradient telemetry over training and the ε
 * sweep (DSC and |ΔV| against ε).
 *
 * @module
 */

import { epsilonSweepSvg } from "../report/epsilon_sweep.ts";
import { linePlotSvg } from "../report/line_plot.ts";
import type { ReportFigure } from "../report/report_json.ts";
import type { Job } from "./jobs.ts";
import type { JobResult } from "./run_types.ts";
import type { Pipeline } from "./pipeline_types.ts";

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
        // Undefined DSCs (empty vs empty under emptyDice "nan") are left out of the mean.
        const defined = xs.filter((x) => x.dsc !== null);
        if (defined.length > 0) {
          dsc.push({
            epsilon: e.loss.epsilon as number,
            value: defined.reduce((a, x) => a + x.dsc!, 0) / defined.length,
            series,
          });
        }
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
