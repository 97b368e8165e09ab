/**
 * One job of a run (internal to lib/pipeline): its data, training (or resuming) and
 * evaluation, then `result.json`.
 *
 * @module
 */

import { writeJsonAtomic } from "../core/atomic_write.ts";
import type { FoldSplit } from "../eval/folds.ts";
import type { GpuContext } from "../gpu/device.ts";
import type { CaseStore, PatchPool } from "../train/case_store.ts";
import { Trainer, TrainingDivergedError } from "../train/trainer.ts";
import { jobSeed, scaledLr } from "./_job_config.ts";
import { jobCases, jobData, jobVoxelInputs, trainingEpsilon } from "./_job_data.ts";
import { type EvaluateContext, evaluateJob, selectWeights } from "./_job_evaluate.ts";
import type { Job } from "./jobs.ts";
import { jobResultPath } from "./run_folder.ts";
import { divergenceText } from "./job_outcome.ts";
import type { JobDivergence, JobResult } from "./run_types.ts";
import { diceLossOptionsOf } from "../loss/loss_kind.ts";

/** Everything a job needs that is shared by all jobs of a run. */
export interface RunContext extends EvaluateContext {
  /** Run folder. */
  dir: string;
  /** Device. */
  gpu: GpuContext;
  /** Patch workers. */
  patchPool: PatchPool;
  /** All cases, preprocessed. */
  store: CaseStore;
  /** The fold split. */
  split: FoldSplit;
  /** Log sink. */
  log: (l: string) => void;
  /** Live progress. */
  progress: boolean;
}

/**
 * Run one job: train (or resume), evaluate the test fold with sliding windows, write the
 * predictions, example maps and `result.json`.
 *
 * @param ctx Shared run context.
 * @param job The job.
 * @returns The job result.
 */
export async function runJob(ctx: RunContext, job: Job): Promise<JobResult> {
  const p = ctx.pipeline;
  const t = p.training;
  const dir = `${ctx.dir}/jobs/${job.id}`;
  await Deno.mkdir(dir, { recursive: true });
  const logFile = await Deno.open(`${dir}/log.txt`, { append: true, create: true, write: true });
  const enc = new TextEncoder();
  const log = (l: string) => {
    logFile.writeSync(enc.encode(`${new Date().toISOString()} ${l}\n`));
    ctx.log(l);
  };
  try {
    const cases = jobCases(p, ctx.store.records, ctx.split, job.fold);
    const K = ctx.model.outChannels;
    const { options: lossBase } = diceLossOptionsOf(p.experiments[job.experiment].loss);
    const eps = await trainingEpsilon(p, ctx.store, ctx.split, job, K);
    if (eps.heuristic) {
      const list = eps.epsilon as number[];
      log(`${job.id}: heuristic ε = ${list.map((e) => e.toFixed(1)).join(", ")}`);
    }
    const voxel = jobVoxelInputs(p, job);
    const { stream, validation } = await jobData(p, ctx.store, job, cases);
    const seed = jobSeed(p, job.fold);
    const trainer = new Trainer({
      model: ctx.model,
      seed,
      batchSize: job.batchSize,
      patch: t.patchSize,
      loss: {
        ...lossBase,
        epsilon: eps.epsilon,
        ...(voxel.labelSets ? { labelSets: voxel.labelSets } : {}),
      },
      ...(voxel.voxelInputs.mask || voxel.voxelInputs.labelSets
        ? { voxelInputs: voxel.voxelInputs }
        : {}),
      optimizer: { ...t.optimizer, lr: scaledLr(t.optimizer.lr, job.batchSize, t.lrScaling) },
      schedule: t.schedule,
      epochs: t.epochs,
      samplesPerEpoch: cases.train.length,
      checkpointEvery: t.checkpointEvery,
      keepBest: t.evaluateWeights === "best",
      pipelining: t.pipelining,
    }, {
      rt: ctx.rt,
      pool: ctx.pool,
      stream,
      validation,
      dir,
      log,
      // On a terminal a line redrawn in place; in logs (no TTY) one line per epoch.
      progress: ctx.progress ? true : undefined,
      label: job.id,
    });
    const t0 = performance.now();
    let summary;
    try {
      summary = await trainer.run({ resume: true });
    } catch (err) {
      if (!(err instanceof TrainingDivergedError)) throw err;
      trainer.destroy();
      return await _diverged(ctx, job, err, eps.epsilon, (performance.now() - t0) / 1000, log);
    } finally {
      await stream.close();
    }
    const t1 = performance.now();
    log(
      `${job.id}: trained ${summary.steps} steps (${summary.epochs} epochs${
        summary.earlyStopped ? ", early stop" : ""
      }) at ${summary.stepsPerSecond.toFixed(2)} steps/s, data wait ${
        (100 * summary.dataWaitFraction).toFixed(1)
      } %`,
    );
    let evaluation;
    let weights;
    try {
      weights = await selectWeights(trainer, t.evaluateWeights, summary.bestEpoch);
      if (weights.kind === "best") {
        log(`${job.id}: evaluating the best-validation weights (epoch ${weights.epoch})`);
      }
      evaluation = await evaluateJob(ctx, job, trainer, cases.test, dir, validation);
    } finally {
      trainer.destroy();
    }
    for (const w of evaluation.warnings) log(`Warning: ${w}`);
    const t2 = performance.now();
    const result: JobResult = {
      job,
      epsilon: eps.epsilon,
      training: { ...summary, evaluated: weights },
      rows: evaluation.rows,
      seconds: { train: (t1 - t0) / 1000, evaluate: (t2 - t1) / 1000 },
      ...(evaluation.warnings.length > 0 ? { warnings: evaluation.warnings } : {}),
    };
    await writeJsonAtomic(jobResultPath(ctx.dir, job.id), result);
    return result;
  } finally {
    logFile.close();
  }
}

/** Record a diverged job: a line in its log and a `result.json` without evaluation rows. */
async function _diverged(
  ctx: RunContext,
  job: Job,
  err: TrainingDivergedError,
  epsilon: unknown,
  seconds: number,
  log: (l: string) => void,
): Promise<JobResult> {
  const diverged: JobDivergence = {
    step: err.step,
    what: err.what,
    ...(err.loss !== undefined ? { loss: String(err.loss) } : {}),
    ...(err.lastFiniteLoss !== undefined ? { lastFiniteLoss: err.lastFiniteLoss } : {}),
    ...(err.lr !== undefined ? { lr: err.lr } : {}),
    ...(err.checkpoint ? { checkpoint: err.checkpoint } : {}),
  };
  log(`${job.id}: ${divergenceText(diverged)}; the job has no evaluation, the run goes on`);
  const result: JobResult = {
    job,
    epsilon,
    training: { diverged: true },
    rows: [],
    seconds: { train: seconds, evaluate: 0 },
    diverged,
  };
  await writeJsonAtomic(jobResultPath(ctx.dir, job.id), result);
  return result;
}
