/**
 * `analyze`: before any training, read a pipeline's training labels and predict, for every
 * labeling × experiment × batch size, the regime of its Dice loss (Sect. 2.2–2.3): the
 * heuristic ε, the fraction of empty maps and empty Φ-subsets, the expected per-voxel
 * gradient on empty vs labelled maps from Eq. 4, and the verdict — "ignores missing labels"
 * or "learns empty maps".
 *
 * Map volumes come from one training patch per training case of fold 0, sampled as in
 * training (foreground-centred, no augmentation) with the full labels; the training target
 * of the same patch is the labeling applied to it, and the network is assumed to predict the
 * full-label object (see `lib/loss/regime.ts`). The heuristic ε is the one the job of the
 * configuration's first fold trains with (`trainingEpsilon`, the same code path as `run`).
 *
 * @module
 */

import { removedLabelsOf } from "../data/labeling.ts";
import type { Labeling } from "../data/types.ts";
import { foldSubjects } from "../eval/folds.ts";
import type { EpsilonInput } from "../loss/dice_options.ts";
import { mapSums } from "../loss/heuristic_epsilon.ts";
import { diceLossOptionsOf } from "../loss/loss_kind.ts";
import { analyzeRegime, type ClassRegime, type MapVolumes } from "../loss/regime.ts";
import { CaseStore, createPatchPool } from "../train/case_store.ts";
import { validationBatches } from "../train/patch_stream.ts";
import { SampleSchedule } from "../train/sampling.ts";
import { lossTarget, samplingGroupRatio } from "./_job_config.ts";
import { jobLabeling, trainingEpsilon } from "./_job_data.ts";
import { describeDataset, resolveDataset } from "./dataset_root.ts";
import { enumerateJobs } from "./jobs.ts";
import { checkRecords, checkRunnable } from "./preflight.ts";
import { effectivePipeline, modelConfig, pipelineDataset, pipelineFolds } from "./resolve.ts";
import type { Pipeline } from "./pipeline_types.ts";

/** One analysed configuration. */
export interface AnalysisRow {
  /** Labeling. */
  labeling: string;
  /** Experiment. */
  experiment: string;
  /** Batch size. */
  batchSize: number;
  /** The fold whose job's ε is reported (the configuration's first fold). */
  fold: number;
  /** ε per kept class as used (heuristic resolved). */
  epsilon: number[];
  /** Per kept class: the regime analysis. */
  classes: (ClassRegime & { className: string })[];
}

/**
 * Apply a labeling to the one-hot (or binary) target of a patch of a case of `group` (with its
 * `removedLabels`: label-set or ignored voxels have no leaf label, an all-zero row).
 *
 * @param target `[K, ...]` target of one patch (full labels).
 * @param K Maps.
 * @param c The case: its group, id and class names; `regions`: the maps are a region-based
 *   dataset's regions (no background map; only `emptyGroup` relabels them: all maps empty).
 * @param labeling The labeling.
 * @returns The training target.
 */
export function labelTarget(
  target: Float32Array,
  K: number,
  c: { group: string; id: string; classes: readonly string[]; regions?: boolean },
  labeling: Labeling,
): Float32Array {
  const out = _relabelTarget(target, K, c, labeling);
  const as = removedLabelsOf(labeling);
  if (out === target || as === "relabel" || K === 1 || c.regions) return out;
  // Label sets and ignored voxels: the voxels labelled `into` carry no leaf label.
  const into = labeling.kind === "removeClass" ? labeling.into ?? 0 : 0;
  out.fill(0, into * (target.length / K), (into + 1) * (target.length / K));
  return out;
}

function _relabelTarget(
  target: Float32Array,
  K: number,
  c: { group: string; id: string; classes: readonly string[]; regions?: boolean },
  labeling: Labeling,
): Float32Array {
  if (labeling.kind === "full") return target;
  if (c.regions && labeling.kind !== "emptyGroup") {
    // The preflight refuses class-naming labelings on region-based datasets.
    throw new RangeError(`Cannot analyse labeling ${labeling.kind}: the dataset is region-based`);
  }
  const out = Float32Array.from(target);
  const V = target.length / K;
  if (labeling.kind === "annotatedClasses") {
    const named = labeling.cases?.[c.id];
    if (!named) return target;
    // Unannotated classes' voxels become background (one-hot) or empty (binary).
    for (let k = K === 1 ? 0 : 1; k < K; k++) {
      if (named.includes(c.classes[K === 1 ? 1 : k])) continue;
      for (let i = 0; i < V; i++) {
        const v = out[k * V + i];
        if (v === 0) continue;
        out[k * V + i] = 0;
        if (K > 1) out[i] += v;
      }
    }
    return out;
  }
  if (labeling.group !== c.group) return target;
  if (labeling.kind === "emptyGroup") {
    // Binary and region targets become empty; one-hot targets become all background.
    if (K === 1 || c.regions) out.fill(0);
    else for (let i = 0; i < V; i++) for (let k = 0; k < K; k++) out[k * V + i] = k === 0 ? 1 : 0;
    return out;
  }
  const from = K === 1 ? 0 : labeling.classIndex;
  const into = labeling.into ?? 0;
  for (let i = 0; i < V; i++) {
    const v = out[from * V + i];
    if (v === 0) continue;
    out[from * V + i] = 0;
    if (K > 1) out[into * V + i] += v;
  }
  return out;
}

/**
 * Analyse a pipeline's configurations.
 *
 * @param pipeline The pipeline.
 * @param options Real data root, quick preset, log sink.
 * @returns One row per labeling × experiment × batch size.
 */
export async function analyzePipeline(
  pipeline: Pipeline,
  options: { data?: string; quick?: boolean; cacheDir?: string; log?: (l: string) => void } = {},
): Promise<AnalysisRow[]> {
  const log = options.log ?? ((l: string) => console.log(l));
  const phantom = !(options.data ?? pipeline.dataset.root);
  const p0 = effectivePipeline(pipeline, { ...options, phantom });
  checkRunnable(p0, { source: p0.name, phantom });
  const ds = await resolveDataset(p0, options, log);
  const p = await describeDataset(p0, ds.root);
  if (p !== p0) checkRunnable(p, { source: p.name, phantom });
  const records = await pipelineDataset(p).list(ds.root);
  checkRecords(p, records, ds.root);
  const split = pipelineFolds(p, records);
  const train = new Set(foldSubjects(split, 0).train);
  const model = modelConfig(p);
  const K = model.outChannels;
  const target = lossTarget(p);
  const regions = target.encoding === "regions";
  const pool = createPatchPool({ size: 2 });
  const rows: AnalysisRow[] = [];
  try {
    const store = await CaseStore.load(pool, records, ds.preprocessing);
    try {
      const idx = records.map((r, i) => [r, i] as const).filter(([r]) => train.has(r.subject)).map((
        [, i],
      ) => i);
      const full = await validationBatches(store, idx, {
        seed: p.seed + 77,
        patchSize: p.training.patchSize,
        batchSize: 1,
        target,
        foregroundProbability: p.training.foregroundProbability,
      });
      const sumsOf = (t: Float32Array) => Array.from(mapSums(t, [1, K, t.length / K]));
      const jobs = enumerateJobs(p, { quick: options.quick });
      const seen = new Set<string>();
      for (const job of jobs) {
        const key = `${job.labeling}|${job.experiment}|${job.batchSize}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const labeling = jobLabeling(p, job);
        const perCase = full.map((b) => ({
          train: sumsOf(
            labelTarget(b.target, K, {
              group: b.groups[0],
              id: store.records[b.cases[0]].id,
              classes: ["background", ...p.evaluation.classes],
              regions,
            }, labeling),
          ),
          pred: sumsOf(b.target),
        }));
        // The maps an epoch draws (with the experiment's ED:ES ratio, as training does).
        const groupRatio = samplingGroupRatio(p, job.experiment);
        const maps = groupRatio
          ? [
            ...new SampleSchedule(perCase.length, {
              seed: p.seed,
              groups: full.map((b) => b.groups[0]),
              groupRatio,
            }).epoch(0),
          ].map((k) => perCase[k])
          : perCase;
        const { options: lo } = diceLossOptionsOf(p.experiments[job.experiment].loss);
        const classes = lo.classes ?? Array.from({ length: K }, (_, k) => k);
        const { epsilon } = await trainingEpsilon(p, store, split, job, K);
        const volumes: MapVolumes[] = maps.map((m) => ({
          train: classes.map((c) => m.train[c]),
          predicted: classes.map((c) => m.pred[c]),
        }));
        const analysis = analyzeRegime(volumes, {
          phi: lo.phi ?? "I",
          epsilon,
          batchSize: job.batchSize,
          leaf: lo.variant === "leaf",
          seed: p.seed,
        });
        const names = K === 1 || regions
          ? p.evaluation.classes
          : ["background", ...p.evaluation.classes];
        rows.push({
          labeling: job.labeling,
          experiment: job.experiment,
          batchSize: job.batchSize,
          fold: job.fold,
          epsilon: _epsList(epsilon),
          classes: analysis.map((a, i) => ({
            ...a,
            className: names[classes[i]] ?? `class ${classes[i]}`,
          })),
        });
      }
    } finally {
      await store.close();
    }
  } finally {
    await pool.close();
  }
  return rows;
}

function _epsList(e: EpsilonInput): number[] {
  const one = (x: number | { denominator: number }) => (typeof x === "number" ? x : x.denominator);
  return Array.isArray(e) ? e.map(one) : [one(e as number | { denominator: number })];
}

/**
 * Format the analysis for the terminal: one line per configuration and class.
 *
 * @param rows Analysis rows.
 * @param focus Only show this class (e.g. the pipeline's target class), if given.
 * @returns The table text.
 */
export function analysisTable(rows: readonly AnalysisRow[], focus?: string): string {
  const out = [[
    "labeling",
    "experiment",
    "B",
    "class",
    "ε",
    "empty maps",
    "empty subsets",
    "∂L/∂ŷ empty",
    "∂L/∂ŷ labelled",
    "ratio",
    "prediction",
  ]];
  const fmt = (
    x: number,
  ) => (x === 0
    ? "0"
    : Math.abs(x) >= 1e-2 && Math.abs(x) < 1e4
    ? x.toPrecision(3)
    : x.toExponential(1));
  for (const r of rows) {
    r.classes.forEach((c, i) => {
      if (focus && c.className !== focus) return;
      out.push([
        r.labeling,
        r.experiment,
        String(r.batchSize),
        c.className,
        fmt(r.epsilon[Math.min(i, r.epsilon.length - 1)]),
        `${(100 * c.emptyMapFraction).toFixed(0)} %`,
        `${(100 * c.emptySubsetFraction).toFixed(0)} %`,
        fmt(c.gradEmpty),
        fmt(c.gradLabelled),
        fmt(c.ratio),
        c.regime,
      ]);
    });
  }
  const w = out[0].map((_, i) => Math.max(...out.map((r) => r[i].length)));
  return out.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ")).join("\n");
}
