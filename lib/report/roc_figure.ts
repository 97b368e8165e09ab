/**
 * The ROC figure (Tilborghs, Bertels et al. 2022, Fig. 2): detecting the always-labelled group
 * (HGG, ED) from the predicted volume of the target class, one curve per labeling × experiment ×
 * batch size that is not the reference labeling, with the exact AUC and a stratified bootstrap
 * interval in the legend.
 *
 * @module
 */

import { aucBootstrap } from "../eval/bootstrap.ts";
import type { BootstrapPool } from "../eval/bootstrap_pool.ts";
import { rocCurve, type RocPoint } from "../eval/roc.ts";
import { linePlotSvg, PALETTE } from "./line_plot.ts";
import type { RunResults } from "./results.ts";

/** One ROC curve of the figure. */
export interface RocSeries {
  /** Labeling. */
  labeling: string;
  /** Experiment name. */
  experiment: string;
  /** Experiment display label. */
  experimentLabel: string;
  /** Batch size B. */
  batchSize: number;
  /** Exact AUC. */
  auc: number;
  /** Stratified bootstrap percentile interval of the AUC. */
  ci: [number, number];
  /** Cases of the group to detect (positives). */
  positives: number;
  /** Cases of the other group. */
  negatives: number;
  /** Curve points (threshold in ml). */
  points: RocPoint[];
}

/** Options of {@linkcode buildRocSeries}. */
export interface RocSeriesOptions {
  /** Labelings to draw. @default every labeling of a kind other than `"full"` */
  labelings?: string[];
  /** Bootstrap resamples of the AUC interval. @default results.statistics.resamples, else 10000 */
  resamples?: number;
  /** Seed. @default results.statistics.seed, else results.seed, else 1 */
  seed?: number;
  /** Interval level. @default 0.95 */
  level?: number;
  /** Run the bootstraps in this worker pool (identical results). */
  pool?: BootstrapPool;
}

/**
 * Compute the ROC curves of detecting `target.groups[0]` from the predicted volume.
 *
 * @param results Parsed `results.json`.
 * @param options Labelings, resamples, seed, level and an optional pool.
 * @returns One series per (labeling, experiment, batch size) with both groups present.
 * @throws {RangeError} When an option is out of range.
 */
export async function buildRocSeries(
  results: RunResults,
  options: RocSeriesOptions = {},
): Promise<RocSeries[]> {
  const { className, groups } = results.target;
  // Every labeling that removes labels (the ROC asks whether the network learned to tell the
  // groups apart from them), also when it is the run's only one; without kinds, all but the
  // reference.
  const labelings = options.labelings ??
    results.labelings.filter((l) =>
      l.kind === undefined ? l.name !== results.referenceLabeling : l.kind !== "full"
    ).map((l) => l.name);
  const resamples = options.resamples ?? results.statistics?.resamples ?? 10000;
  const seed = options.seed ?? results.statistics?.seed ?? results.seed ?? 1;
  const level = options.level ?? 0.95;
  const out: Promise<RocSeries | undefined>[] = [];
  for (const labeling of labelings) {
    const sizes = new Set<number>();
    for (const r of results.rows) if (r.job.labeling === labeling) sizes.add(r.job.batchSize);
    for (const batchSize of [...sizes].sort((a, b) => a - b)) {
      for (const e of results.experiments) {
        const rows = results.rows.filter((r) =>
          r.job.labeling === labeling && r.job.batchSize === batchSize &&
          r.job.experiment === e.name && r.className === className && groups.includes(r.group)
        ).sort((a, b) => a.caseId < b.caseId ? -1 : a.caseId > b.caseId ? 1 : 0);
        const scores = rows.map((r) => r.predVolumeMl);
        const positive = rows.map((r) => r.group === groups[0]);
        if (!positive.includes(true) || !positive.includes(false)) continue;
        out.push((async () => {
          const curve = rocCurve(scores, positive);
          const opts = { resamples, seed, level };
          const boot = options.pool
            ? await options.pool.aucBootstrap(scores, positive, opts)
            : aucBootstrap(scores, positive, opts);
          return {
            labeling,
            experiment: e.name,
            experimentLabel: e.label ?? e.name,
            batchSize,
            auc: curve.auc,
            ci: boot.ci,
            positives: curve.positives,
            negatives: curve.negatives,
            points: curve.points,
          };
        })());
      }
    }
  }
  return (await Promise.all(out)).filter((s): s is RocSeries => s !== undefined);
}

/** Options of {@linkcode rocFigureSvg}. */
export interface RocFigureOptions {
  /** Group detected (positives), for the axis label. */
  positiveGroup: string;
  /** Title. @default `Detecting ${positiveGroup} from the predicted volume` */
  title?: string;
  /** Width in px. @default 760 */
  width?: number;
  /** Height in px. @default 460 */
  height?: number;
  /** Show the labeling in legend entries (when several labelings are drawn). @default auto */
  showLabeling?: boolean;
}

/**
 * Render ROC series as an SVG: colour by experiment, dash pattern by batch size, legend
 * `I, B = 2: AUC 0.91 [0.86, 0.95]`, chance diagonal.
 *
 * @param series The curves.
 * @param options Positive group, title and size.
 * @returns SVG markup with id `roc-figure`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rocFigureSvg } from "./roc_figure.ts";
 * const svg = rocFigureSvg([{
 *   labeling: "partial", experiment: "I", experimentLabel: "I", batchSize: 2, auc: 0.75,
 *   ci: [0.5, 1], positives: 2, negatives: 2,
 *   points: [{ threshold: Infinity, fpr: 0, tpr: 0 }, { threshold: 3, fpr: 0.5, tpr: 1 },
 *     { threshold: 1, fpr: 1, tpr: 1 }],
 * }], { positiveGroup: "HGG" });
 * assert(svg.includes("AUC 0.75"));
 * ```
 */
export function rocFigureSvg(series: readonly RocSeries[], options: RocFigureOptions): string {
  const experiments = [...new Set(series.map((s) => s.experiment))];
  const sizes = [...new Set(series.map((s) => s.batchSize))].sort((a, b) => a - b);
  const dashes = ["", "7 4", "2 3", "9 3 2 3", "12 4"];
  const showLabeling = options.showLabeling ?? new Set(series.map((s) => s.labeling)).size > 1;
  return linePlotSvg(
    series.map((s) => ({
      label: `${
        showLabeling ? `${s.labeling}, ` : ""
      }${s.experimentLabel}, B = ${s.batchSize}: AUC ${s.auc.toFixed(2)} [${s.ci[0].toFixed(2)}, ${
        s.ci[1].toFixed(2)
      }]`,
      x: s.points.map((p) => p.fpr),
      y: s.points.map((p) => p.tpr),
      color: PALETTE[experiments.indexOf(s.experiment) % PALETTE.length],
      dash: dashes[sizes.indexOf(s.batchSize) % dashes.length],
    })),
    {
      id: "roc-figure",
      width: options.width ?? 760,
      height: options.height ?? 460,
      title: options.title ?? `Detecting ${options.positiveGroup} from the predicted volume`,
      xLabel: "1 − specificity",
      yLabel: `Sensitivity (${options.positiveGroup})`,
      xDomain: [0, 1],
      yDomain: [0, 1],
      diagonal: true,
    },
  );
}
