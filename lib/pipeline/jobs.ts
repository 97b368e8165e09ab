/**
 * The jobs of a pipeline (fold × labeling × experiment × batch size), their deterministic
 * order, `--quick` and `--only` selection, and sharding (`--shard i/n`).
 *
 * @module
 */

import { RunOptionError } from "./errors.ts";
import type { Pipeline } from "./pipeline_types.ts";

/** One training + evaluation job. */
export interface Job {
  /** Stable id, also the job's folder name: `f0-partial-I-b2`. */
  id: string;
  /** Cross-validation fold (the test fold). */
  fold: number;
  /** Labeling protocol name. */
  labeling: string;
  /** Experiment name. */
  experiment: string;
  /** Batch size. */
  batchSize: number;
}

/** Selection of jobs. */
export interface JobSelection {
  /** Apply the pipeline's `quick` preset. */
  quick?: boolean;
  /** Restrict to these experiments. */
  only?: readonly string[];
  /** Number of folds to run (the first n). */
  folds?: number;
}

/**
 * Every job of a pipeline in deterministic order (fold, labeling, experiment, batch size).
 *
 * @param p The pipeline.
 * @param selection `--quick`, `--only`, `--folds`.
 * @returns The jobs.
 * @throws {RunOptionError} When `--only` names an unknown experiment, or `--folds` is out of
 *   range (of the pipeline's folds, or of the quick preset's).
 */
export function enumerateJobs(p: Pipeline, selection: JobSelection = {}): Job[] {
  const q = selection.quick ? p.quick : {};
  let folds = q.folds ?? Array.from({ length: p.evaluation.folds }, (_, i) => i);
  if (selection.folds !== undefined) {
    if (
      !Number.isInteger(selection.folds) || selection.folds < 1 ||
      selection.folds > p.evaluation.folds
    ) {
      throw new RunOptionError(
        `Invalid --folds: ${selection.folds} (the pipeline has ${p.evaluation.folds} folds)`,
      );
    }
    if (selection.folds > folds.length) {
      throw new RunOptionError(
        `Invalid --folds: ${selection.folds} with --quick (the quick preset runs ${folds.length} ` +
          `fold(s): quick.folds ${JSON.stringify(folds)})`,
      );
    }
    folds = folds.slice(0, selection.folds);
  }
  const labelings = q.labelings ?? Object.keys(p.labelings);
  let experiments = q.experiments ?? Object.keys(p.experiments);
  if (selection.only && selection.only.length > 0) {
    for (const e of selection.only) {
      if (!(e in p.experiments)) {
        throw new RunOptionError(
          `Invalid --only: unknown experiment "${e}" (have ${
            Object.keys(p.experiments).join(", ")
          })`,
        );
      }
    }
    experiments = experiments.filter((e) => selection.only!.includes(e));
    if (experiments.length === 0) experiments = [...selection.only];
  }
  const jobs: Job[] = [];
  for (const fold of folds) {
    for (const labeling of labelings) {
      for (const experiment of experiments) {
        const exp = p.experiments[experiment];
        let sizes = exp.batchSizes ?? p.training.batchSizes;
        if (q.batchSizes) sizes = sizes.filter((b) => q.batchSizes!.includes(b));
        for (const batchSize of sizes) {
          jobs.push({
            id: `f${fold}-${labeling}-${experiment}-b${batchSize}`,
            fold,
            labeling,
            experiment,
            batchSize,
          });
        }
      }
    }
  }
  return jobs;
}

/** A parsed `--shard i/n` (1 ≤ i ≤ n). */
export interface Shard {
  /** This shard, 1-based. */
  index: number;
  /** Number of shards. */
  count: number;
}

/**
 * Parse `i/n`.
 *
 * @param text E.g. `"2/8"`.
 * @returns The shard.
 * @throws {RangeError} When the text is not `i/n` with 1 ≤ i ≤ n.
 */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new RangeError(`Invalid --shard: expected i/n with 1 ≤ i ≤ n, got "${text}"`);
  }
  return { index, count };
}

/**
 * The jobs of one shard: job k (0-based, in enumeration order) belongs to shard
 * `(k mod n) + 1`, so shards get interleaved, similar-sized sets.
 *
 * @param jobs All jobs.
 * @param shard The shard.
 * @returns This shard's jobs.
 */
export function shardJobs(jobs: readonly Job[], shard: Shard): Job[] {
  return jobs.filter((_, k) => (k % shard.count) + 1 === shard.index);
}
