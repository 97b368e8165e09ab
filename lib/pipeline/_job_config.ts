/**
 * Pure per-job settings shared by `run` and `analyze` (internal to lib/pipeline): the job's
 * seed, its validation split, the loss target, the sampling ratio over the dataset's groups,
 * the learning rate for B, and the example cases of the overlays.
 *
 * @module
 */

import { type TargetOptions, targetOptions } from "../data/labeling.ts";
import type { CaseRecord } from "../data/types.ts";
import { type FoldSplit, foldSubjects } from "../eval/folds.ts";
import { pipelineDataset } from "./resolve.ts";
import type { Pipeline } from "./pipeline_types.ts";

/** The loss target: one binary map, one-hot over the classes, or one map per region. */
export type LossTarget = TargetOptions;

/**
 * The seed of a job's data, sampling and initialisation: `seed · 1000 + fold`.
 *
 * @param p Effective pipeline.
 * @param fold The job's fold.
 * @returns The seed.
 */
export function jobSeed(p: Pipeline, fold: number): number {
  return p.seed * 1000 + fold;
}

/**
 * The target encoding of a pipeline's dataset (its maps are the network's output maps; the
 * preflight checks that `model.outChannels` agrees).
 *
 * @param p Effective pipeline (with the dataset's spec, for datasets described by their files).
 * @returns Binary, one-hot over the classes, or the regions.
 */
export function lossTarget(p: Pipeline): LossTarget {
  return targetOptions(pipelineDataset(p));
}

/**
 * The learning rate for batch size B: `lr · (B / reference)^p` with p = 0 (none), ½ (sqrt)
 * or 1 (linear); `linear-up` scales only batch sizes above the reference (`lr · max(1, B/ref)`).
 *
 * @param lr Base learning rate.
 * @param batchSize B.
 * @param scaling Kind and reference batch size.
 * @returns The scaled learning rate.
 */
export function scaledLr(
  lr: number,
  batchSize: number,
  scaling: { kind: "none" | "sqrt" | "linear" | "linear-up"; reference: number },
): number {
  if (scaling.kind === "linear-up") return lr * Math.max(1, batchSize / scaling.reference);
  const p = scaling.kind === "linear" ? 1 : scaling.kind === "sqrt" ? 0.5 : 0;
  return lr * (batchSize / scaling.reference) ** p;
}

/**
 * The group sampling ratio an experiment trains with — its own two-number ratio (`edEsRatio`),
 * else the pipeline's — as `SampleSchedule` weights of the dataset's first two groups
 * (ACDC: ED, ES); undefined: cases are drawn uniformly.
 *
 * @param p Effective pipeline.
 * @param experiment Experiment id.
 * @returns Group → weight, or undefined.
 */
export function samplingGroupRatio(
  p: Pipeline,
  experiment: string,
): Readonly<Record<string, number>> | undefined {
  const ratio = p.experiments[experiment].edEsRatio ?? p.training.edEsRatio;
  if (!ratio) return undefined;
  const [first, second] = pipelineDataset(p).groups;
  return { [first]: ratio[0], [second]: ratio[1] };
}

/**
 * Split a fold's training subjects into training and validation (seeded).
 *
 * @param subjects Training subjects of the fold.
 * @param fraction Validation fraction.
 * @param seed Seed.
 * @returns The two subject lists.
 */
export function validationSplit(
  subjects: readonly string[],
  fraction: number,
  seed: number,
): { train: string[]; val: string[] } {
  const sorted = [...subjects].sort();
  const nVal = fraction > 0 ? Math.max(1, Math.round(sorted.length * fraction)) : 0;
  // Deterministic shuffle by hashing (seed, subject).
  const key = (s: string) => {
    let h = 2166136261 ^ seed;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    return h >>> 0;
  };
  const order = sorted.map((s) => [key(s), s] as const).sort((a, b) => a[0] - b[0]);
  const val = new Set(order.slice(0, nVal).map((x) => x[1]));
  return { train: sorted.filter((s) => !val.has(s)), val: sorted.filter((s) => val.has(s)) };
}

/**
 * The example cases drawn in the overlays: the first `perGroup` cases of each group among the
 * test subjects of fold 0 (sorted by id).
 *
 * @param split Fold split.
 * @param records All records.
 * @param perGroup Cases per group.
 * @returns Case ids.
 */
export function exampleCases(
  split: FoldSplit,
  records: readonly CaseRecord[],
  perGroup: number,
): string[] {
  const test = new Set(foldSubjects(split, 0).test);
  const byGroup = new Map<string, string[]>();
  for (const r of [...records].sort((a, b) => a.id.localeCompare(b.id))) {
    if (!test.has(r.subject)) continue;
    const list = byGroup.get(r.group) ?? [];
    if (list.length < perGroup) list.push(r.id);
    byGroup.set(r.group, list);
  }
  return [...byGroup.values()].flat();
}
