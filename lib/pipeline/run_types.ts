/**
 * The records a run shares between its layers: the resolved run (`pipeline.json`), a job's
 * result (`result.json`), and the options and summary of {@linkcode runPipeline}. Types only,
 * so that every file of the folder can import them without cycles.
 *
 * @module
 */

import type { PreprocessingOptions } from "../data/preprocess.ts";
import type { CaseResult } from "../eval/case_result.ts";
import type { Job, Shard } from "./jobs.ts";
import type { Pipeline } from "./pipeline_types.ts";

/** Options of `runPipeline`. */
export interface RunOptions {
  /** The validated pipeline. */
  pipeline: Pipeline;
  /** Path of the pipeline file (recorded). */
  source: string;
  /** Real dataset root (`--data`). */
  data?: string;
  /** Run folder (`--out`). @default runs/<name>-<timestamp> */
  out?: string;
  /** Apply the quick preset. */
  quick?: boolean;
  /** Run only the first n folds. */
  folds?: number;
  /** Only these experiments. */
  only?: string[];
  /** Resume the run in `out` (finished jobs are skipped). */
  resume?: boolean;
  /** Override the master seed. */
  seed?: number;
  /** Run one shard of the jobs. */
  shard?: Shard;
  /** Phantom cache folder. @default .cache/phantoms */
  cacheDir?: string;
  /** Log sink. @default console.log */
  log?: (line: string) => void;
  /** Live progress line (TTY). */
  progress?: boolean;
  /** Patch workers (overrides the pipeline). */
  workers?: number;
  /**
   * GPU bytes a job may hold (`--memory-limit`); a job that needs more is refused before any
   * training (see `fitLimits` in plan.ts for the default).
   */
  memoryLimit?: number;
}

/** Outcome of `runPipeline`. */
export interface RunSummary {
  /** The run folder. */
  dir: string;
  /** Jobs of this run (or shard). */
  jobs: number;
  /** Jobs that were already done. */
  skipped: number;
  /** Whether the report was written (all jobs of the run are done). */
  reported: boolean;
  /** Wall seconds. */
  seconds: number;
  /** Jobs of this run (or shard) whose training diverged. */
  diverged: string[];
  /** Warnings about finished jobs (divergences, collapses), one line each. */
  warnings: string[];
}

/** The resolved, effective settings of a run (what `pipeline.json` records). */
export interface ResolvedRun {
  /** The pipeline after `--seed` and `--quick`. */
  pipeline: Pipeline;
  /** Whether the quick preset was applied. */
  quick: boolean;
  /** Phantom or real data. */
  phantom: boolean;
  /** The dataset root used. */
  root: string;
  /** Preprocessing applied. */
  preprocessing: PreprocessingOptions;
  /** The selected experiments / folds (`--only`, `--folds`). */
  selection: { only?: string[]; folds?: number };
}

/** Which weights a job evaluated (`training.evaluateWeights`). */
export type EvaluatedWeights = { kind: "final" } | { kind: "best"; epoch: number };

/** How a job's training diverged (its `result.json` then has no evaluation rows). */
export interface JobDivergence {
  /** The step whose loss (or weights) became non-finite. */
  step: number;
  /** What became non-finite. */
  what: string;
  /** The loss at that step, as text (`"NaN"`, `"Infinity"`), if it was the loss. */
  loss?: string;
  /** The last finite loss, if any. */
  lastFiniteLoss?: number;
  /** The learning rate of that step. */
  lr?: number;
  /** The last good checkpoint, if any. */
  checkpoint?: string;
}

/** What a finished job writes to `result.json`. */
export interface JobResult {
  /** The job. */
  job: Job;
  /** ε actually used (numbers per kept class, or a single number). */
  epsilon: unknown;
  /** Training summary. */
  training: Record<string, unknown>;
  /** Evaluation rows. */
  rows: CaseResult[];
  /** Seconds spent training and evaluating. */
  seconds: { train: number; evaluate: number };
  /** Set when training diverged: the job is finished, without evaluation rows. */
  diverged?: JobDivergence;
  /** Warnings about the job's result (e.g. a collapse to all-background predictions). */
  warnings?: string[];
}
