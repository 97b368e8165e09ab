/**
 * A job's data (internal to lib/pipeline): its cases (training, validation and test indices of
 * the fold), the sampling schedule, the heuristic ε, the training stream and the validation
 * batches. `trainingEpsilon` is the one path to the heuristic ε: `run` trains with it and
 * `analyze` reports it.
 *
 * @module
 */

import { caseSpec } from "../data/datasets.ts";
import { labelingSets, withRemovedLabels } from "../data/labeling.ts";
import type { CaseRecord, Labeling } from "../data/types.ts";
import { type FoldSplit, foldSubjects } from "../eval/folds.ts";
import type { EpsilonInput } from "../loss/dice_options.ts";
import { heuristicEpsilonFromTargets } from "../loss/heuristic_epsilon.ts";
import { DICE_LOSS_KINDS, diceLossOptionsOf } from "../loss/loss_kind.ts";
import { batchMarks } from "../train/build_batch.ts";
import type { CaseStore } from "../train/case_store.ts";
import { type PatchBatch, PatchStream, validationBatches } from "../train/patch_stream.ts";
import { SampleSchedule } from "../train/sampling.ts";
import {
  jobSeed,
  type LossTarget,
  lossTarget,
  samplingGroupRatio,
  validationSplit,
} from "./_job_config.ts";
import type { Job } from "./jobs.ts";
import type { Pipeline } from "./pipeline_types.ts";

/** The cases of a job, as store indices. */
export interface JobCases {
  /** Cases the network is fitted on. */
  train: number[];
  /** Validation cases (held-out training subjects). */
  val: number[];
  /** Test cases (the fold). */
  test: number[];
}

function _subjectsIndex(records: readonly CaseRecord[], subjects: readonly string[]): number[] {
  const set = new Set(subjects);
  const out: number[] = [];
  for (let i = 0; i < records.length; i++) if (set.has(records[i].subject)) out.push(i);
  return out;
}

/**
 * The training, validation and test cases of a job (`run` trains on them; `plan` counts them).
 *
 * @param p Effective pipeline.
 * @param records All cases, in store order (a store's `records`).
 * @param split The fold split.
 * @param fold The job's fold.
 * @returns Indices into `records`.
 */
export function jobCases(
  p: Pipeline,
  records: readonly CaseRecord[],
  split: FoldSplit,
  fold: number,
): JobCases {
  const { train, test } = foldSubjects(split, fold);
  const fit = validationSplit(train, p.training.validationFraction, jobSeed(p, fold));
  return {
    train: _subjectsIndex(records, fit.train),
    val: _subjectsIndex(records, fit.val),
    test: _subjectsIndex(records, test),
  };
}

/**
 * The job's sampling schedule over its training cases (the experiment's group ratio).
 *
 * @param p Effective pipeline.
 * @param store All cases.
 * @param job The job.
 * @param train Training case indices.
 * @returns The schedule.
 */
export function jobSchedule(
  p: Pipeline,
  store: CaseStore,
  job: Job,
  train: readonly number[],
): SampleSchedule {
  return new SampleSchedule(train.length, {
    seed: jobSeed(p, job.fold),
    groups: train.map((i) => store.records[i].group),
    groupRatio: samplingGroupRatio(p, job.experiment),
  });
}

/**
 * The ε a job trains with: the configured one, or the heuristic ε = E Σ_φ y (Sect. 2.3) over
 * the training patches the loss sees — the cases of the first epoch, drawn with the sampling
 * ratio, one patch each as in training without augmentation, with the job's labeling (empty
 * maps count as 0), per kept class.
 *
 * @param p Effective pipeline.
 * @param store All cases.
 * @param job The job.
 * @param K Output maps.
 * @returns ε, and whether it is the heuristic.
 */
export async function trainingEpsilon(
  p: Pipeline,
  store: CaseStore,
  split: FoldSplit,
  job: Job,
  K: number,
): Promise<{ epsilon: EpsilonInput; heuristic: boolean }> {
  const { options, epsilon } = diceLossOptionsOf(p.experiments[job.experiment].loss);
  if (epsilon !== "heuristic") return { epsilon, heuristic: false };
  const cases = jobCases(p, store.records, split, job.fold);
  const schedule = jobSchedule(p, store, job, cases.train);
  const epochCases = [...schedule.epoch(0)].map((k) => cases.train[k]);
  const batches = await validationBatches(store, epochCases, {
    seed: jobSeed(p, job.fold) + 77,
    patchSize: p.training.patchSize,
    batchSize: 1,
    target: lossTarget(p),
    labeling: jobLabeling(p, job),
    foregroundProbability: p.training.foregroundProbability,
  });
  const eps = heuristicEpsilonFromTargets(batches.map((b) => b.target), K, {
    classes: options.classes,
    phi: options.phi,
    batchSize: job.batchSize,
  });
  return { epsilon: eps, heuristic: true };
}

/**
 * The labeling a job trains with: the pipeline's, with the experiment's `removedLabels`.
 *
 * @param p Effective pipeline.
 * @param job The job.
 * @returns The labeling the patch builder applies.
 */
export function jobLabeling(p: Pipeline, job: Job): Labeling {
  const labeling = p.labelings[job.labeling] as Labeling;
  const removedLabels = p.experiments[job.experiment].removedLabels;
  return removedLabels === undefined ? labeling : withRemovedLabels(labeling, removedLabels);
}

/**
 * What a job's loss is bound with beyond its configuration: the per-voxel inputs its batches
 * carry (a voxel mask, a label-set index) and, for the label-set marginal Dice, the label sets.
 *
 * @param p Effective pipeline (with the dataset's spec, for datasets described by their files).
 * @param job The job.
 * @returns `voxelInputs` for the trainer, and `labelSets` when the loss merges them.
 * @throws {RangeError} When the labeling cannot write label sets for the dataset.
 */
export function jobVoxelInputs(
  p: Pipeline,
  job: Job,
): { voxelInputs: { mask: boolean; labelSets: boolean }; labelSets?: number[][] } {
  const labeling = jobLabeling(p, job);
  const dataset = { dataset: p.dataset.kind, spec: p.dataset.spec };
  const voxelInputs = batchMarks(dataset, labeling);
  const merges = DICE_LOSS_KINDS[p.experiments[job.experiment].loss.kind] === "labelSetMarginal";
  return merges && voxelInputs.labelSets
    ? { voxelInputs, labelSets: labelingSets(labeling, caseSpec(dataset)) }
    : { voxelInputs };
}

/** The training stream and validation batches of a job. */
export interface JobData {
  /** Training batches. */
  stream: PatchStream;
  /** Validation batches (whole batches of B). */
  validation: PatchBatch[];
  /** The loss target encoding. */
  target: LossTarget;
}

/**
 * Open a job's training stream and build its validation batches.
 *
 * @param p Effective pipeline.
 * @param store All cases.
 * @param job The job.
 * @param cases Its cases.
 * @returns Stream and batches; close the stream when done.
 */
export async function jobData(
  p: Pipeline,
  store: CaseStore,
  job: Job,
  cases: JobCases,
): Promise<JobData> {
  const t = p.training;
  const seed = jobSeed(p, job.fold);
  const target = lossTarget(p);
  const labeling = jobLabeling(p, job);
  const stream = new PatchStream(store, {
    cases: cases.train,
    seed,
    patchSize: t.patchSize,
    batchSize: job.batchSize,
    target,
    labeling,
    schedule: jobSchedule(p, store, job, cases.train),
    augmentation: t.augmentation.enabled ? t.augmentation : false,
    foregroundProbability: t.foregroundProbability,
    prefetch: t.prefetch,
  });
  // Whole batches only (the validation plan has a fixed batch size): cycle the validation
  // cases to a multiple of B.
  const valCases = Array.from(
    { length: Math.ceil(cases.val.length / job.batchSize) * job.batchSize },
    (_, k) => cases.val[k % cases.val.length],
  );
  const validation = valCases.length > 0
    ? await validationBatches(store, valCases, {
      seed,
      patchSize: t.patchSize,
      batchSize: job.batchSize,
      target,
      labeling,
    })
    : [];
  return { stream, validation, target };
}
