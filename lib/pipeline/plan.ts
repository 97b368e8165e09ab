/**
 * Sizing a run before it starts (`deno task plan`, and `run`'s check that every job fits):
 * per job the parameters, the GPU bytes its training holds at the peak (the parameter store,
 * the liveness-planned training step and the validation forward the Trainer keeps beside it;
 * sized by `planStepMemory` without allocating), the convolution GFLOP per step, and from a
 * short calibration on this adapter the estimated step and job times.
 *
 * The memory limit: `--memory-limit BYTES`, else `DICELAB_MEMORY_LIMIT`, else on a CPU
 * fallback adapter (llvmpipe: GPU buffers are host memory) the host's available memory
 * (`Deno.systemMemoryInfo().available`); a discrete adapter does not report its memory, so
 * there only `maxBufferSize` is checked unless a limit is given.
 *
 * @module
 */

import type { CaseRecord } from "../data/types.ts";
import type { FoldSplit } from "../eval/folds.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
import { requestGpu } from "../gpu/device.ts";
import { type DryLimits, runtimeLimits } from "../gpu/memory_plan.ts";
import { GpuRuntime } from "../gpu/runtime.ts";
import { diceLossOptionsOf } from "../loss/loss_kind.ts";
import { ParamStore } from "../nn/param_store.ts";
import { planStepMemory } from "../nn/step_memory.ts";
import { convGflopPerStep } from "../nn/step_work.ts";
import { buildUNetPlan } from "../nn/unet3d.ts";
import { parameterCount, resolveUNetConfig, unetParams } from "../nn/unet_config.ts";
import { boundLossOptions } from "../train/trainer.ts";
import { jobCases, jobVoxelInputs } from "./_job_data.ts";
import { describeDataset, resolveDataset } from "./dataset_root.ts";
import { RunOptionError } from "./errors.ts";
import { enumerateJobs, type Job } from "./jobs.ts";
import type { Pipeline } from "./pipeline_types.ts";
import { effectivePipeline, modelConfig, pipelineDataset, pipelineFolds } from "./resolve.ts";

/** The size of one job's training. */
export interface JobPlan {
  /** Job id. */
  job: string;
  /** Batch size. */
  batch: number;
  /** Network parameters. */
  parameters: number;
  /** GPU bytes at the peak: store + training step + validation forward (planned). */
  peakBytes: number;
  /** The same with one buffer per scratch (before issue 17's planner). */
  staticBytes: number;
  /** The largest single buffer, checked against `maxBufferSize`. */
  largestBufferBytes: number;
  /** Convolution GFLOP of one training step. */
  gflopPerStep: number;
  /** Training steps of the job, when its training cases are known. */
  steps?: number;
}

/** What a job must fit in. */
export interface FitLimits {
  /** The device's `maxBufferSize` in bytes. */
  maxBufferSize: number;
  /** Total GPU bytes a job may hold, when known. */
  memoryLimit?: number;
  /** Where `memoryLimit` comes from (for messages). */
  memorySource: string;
}

/**
 * The training cases of each job (its fold's training subjects less the validation split),
 * as the run counts them.
 *
 * @param p Effective pipeline.
 * @param records The dataset's cases.
 * @param split The fold split.
 * @returns Training cases per job.
 */
export function jobTrainCases(
  p: Pipeline,
  records: readonly CaseRecord[],
  split: FoldSplit,
): (job: Job) => number {
  return (job) => jobCases(p, records, split, job.fold).train.length;
}

/** What {@linkcode planPipeline} reports. */
export interface PipelinePlan {
  /** The adapter's description. */
  adapter: string;
  /** Calibrated convolution GFLOP/s of this adapter. */
  gflops: number;
  /** The limits the jobs were checked against. */
  limits: FitLimits;
  /** One plan per job. */
  jobs: JobPlan[];
}

/**
 * Plan a pipeline's jobs on this machine's adapter: list the data (the real dataset, or the
 * cached phantom, generated once), size every job, calibrate the adapter's GFLOP/s.
 *
 * @param pipeline The validated pipeline.
 * @param o `data`, `quick`, `memoryLimit` (bytes), `log`.
 * @returns The plan.
 */
export async function planPipeline(
  pipeline: Pipeline,
  o: { data?: string; quick?: boolean; memoryLimit?: number; log?: (l: string) => void },
): Promise<PipelinePlan> {
  const log = o.log ?? ((l: string) => console.error(l));
  const phantom = !(o.data ?? pipeline.dataset.root);
  const p0 = effectivePipeline(pipeline, { quick: o.quick, phantom });
  const jobs = enumerateJobs(p0, { quick: o.quick });
  const ds = await resolveDataset(p0, { data: o.data }, log);
  const p = await describeDataset(p0, ds.root);
  const records = await pipelineDataset(p).list(ds.root);
  const trainCases = jobTrainCases(p, records, pipelineFolds(p, records));
  const gpu = await requestGpu();
  try {
    const rt = new GpuRuntime(gpu.device);
    const limits = fitLimits(rt, o.memoryLimit);
    const plans = planJobs(p, jobs, runtimeLimits(rt), trainCases);
    const gflops = await calibrateGflops(rt);
    return { adapter: gpu.adapter.description, gflops, limits, jobs: plans };
  } finally {
    gpu.device.destroy();
  }
}

/**
 * Size every job of a pipeline without allocating GPU memory.
 *
 * @param p Effective pipeline.
 * @param jobs The jobs.
 * @param limits The adapter's limits (`runtimeLimits(rt)`).
 * @param trainCases Training cases of a job (steps are omitted without it).
 * @returns One plan per job.
 */
export function planJobs(
  p: Pipeline,
  jobs: readonly Job[],
  limits: DryLimits,
  trainCases?: (job: Job) => number,
): JobPlan[] {
  const cfg = modelConfig(p);
  const patch = p.training.patchSize;
  const cache = new Map<string, Omit<JobPlan, "job" | "steps">>();
  return jobs.map((job) => {
    const { options } = diceLossOptionsOf(p.experiments[job.experiment].loss);
    const { voxelInputs, labelSets } = jobVoxelInputs(p, job);
    const key = JSON.stringify([job.batchSize, options, voxelInputs, labelSets]);
    let sized = cache.get(key);
    if (!sized) {
      const loss = boundLossOptions({
        batchSize: job.batchSize,
        patch,
        loss: { ...options, epsilon: 1, ...(labelSets ? { labelSets } : {}) },
        voxelInputs,
      });
      const common = { batch: job.batchSize, patch, loss, limits };
      const train = planStepMemory(cfg, { ...common, mode: "train" });
      const trainStatic = planStepMemory(cfg, { ...common, mode: "train", memory: "static" });
      const validate = p.training.validationFraction > 0;
      const val = validate ? planStepMemory(cfg, { ...common, mode: "infer" }) : undefined;
      const valStatic = validate
        ? planStepMemory(cfg, { ...common, mode: "infer", memory: "static" })
        : undefined;
      sized = {
        batch: job.batchSize,
        parameters: parameterCount(cfg),
        peakBytes: train.peakBytes + (val?.scratchBytes ?? 0),
        staticBytes: trainStatic.peakBytes + (valStatic?.scratchBytes ?? 0),
        largestBufferBytes: Math.max(train.largestBufferBytes, val?.largestBufferBytes ?? 0),
        gflopPerStep: convGflopPerStep(cfg, job.batchSize, patch),
      };
      cache.set(key, sized);
    }
    const n = trainCases?.(job);
    const steps = n === undefined ? undefined : Math.ceil((p.training.epochs * n) / job.batchSize);
    return { job: job.id, ...sized, ...(steps === undefined ? {} : { steps }) };
  });
}

/**
 * The limits jobs must fit on a runtime's adapter (see the module doc for the memory limit).
 *
 * @param rt The runtime.
 * @param memoryLimit `--memory-limit` in bytes, if given.
 * @returns The limits.
 * @throws {RunOptionError} When `DICELAB_MEMORY_LIMIT` is not a positive number of bytes.
 */
export function fitLimits(rt: GpuRuntime, memoryLimit?: number): FitLimits {
  const maxBufferSize = runtimeLimits(rt).maxBufferSize;
  if (memoryLimit !== undefined) {
    return { maxBufferSize, memoryLimit, memorySource: "--memory-limit" };
  }
  const env = _env("DICELAB_MEMORY_LIMIT");
  if (env !== undefined) {
    const bytes = Number(env);
    if (!Number.isFinite(bytes) || bytes <= 0) {
      throw new RunOptionError(
        `Invalid DICELAB_MEMORY_LIMIT: "${env}" (expected a positive number of bytes)`,
      );
    }
    return { maxBufferSize, memoryLimit: bytes, memorySource: "DICELAB_MEMORY_LIMIT" };
  }
  if (runtimeLimits(rt).isFallbackAdapter) {
    try {
      const available = Deno.systemMemoryInfo().available;
      return {
        maxBufferSize,
        memoryLimit: available,
        memorySource: "the host's available memory (CPU adapter)",
      };
    } catch {
      // No --allow-sys=systemMemoryInfo: only maxBufferSize is checked.
    }
  }
  return { maxBufferSize, memorySource: "unknown (the adapter reports no memory size)" };
}

/**
 * Why a job cannot run within the limits, or undefined when it fits.
 *
 * @param plan The job's plan.
 * @param limits The limits.
 * @returns The reason.
 */
export function jobMisfit(plan: JobPlan, limits: FitLimits): string | undefined {
  if (limits.memoryLimit !== undefined && plan.peakBytes > limits.memoryLimit) {
    return `it needs ${plan.peakBytes} bytes of GPU memory, the limit is ${limits.memoryLimit} ` +
      `bytes (${limits.memorySource})`;
  }
  if (plan.largestBufferBytes > limits.maxBufferSize) {
    return `its largest buffer has ${plan.largestBufferBytes} bytes, the adapter's ` +
      `maxBufferSize is ${limits.maxBufferSize}`;
  }
  return undefined;
}

/**
 * Refuse a run in which a job cannot fit (before any training starts).
 *
 * @param plans The jobs' plans.
 * @param limits The limits.
 * @throws {RunOptionError} Naming the first job that does not fit, its bytes and the limit.
 */
export function checkJobsFit(plans: readonly JobPlan[], limits: FitLimits): void {
  for (const plan of plans) {
    const why = jobMisfit(plan, limits);
    if (why) {
      throw new RunOptionError(
        `Cannot run job ${plan.job}: ${why}; lower training.patchSize or the batch size, ` +
          `or give --memory-limit`,
      );
    }
  }
}

/**
 * Measure this adapter's convolution throughput: a small U-Net training step (the `tiny`
 * preset with 16…64 filters, B = 2, patch 16 × 32 × 32: about 11 GFLOP) run once to warm up
 * and then repeatedly for about `seconds`.
 *
 * @param rt The runtime.
 * @param seconds Time to measure for. @default 1.5
 * @returns GFLOP per second (convolutions of the step over its wall time).
 */
export async function calibrateGflops(rt: GpuRuntime, seconds = 1.5): Promise<number> {
  const cfg = resolveUNetConfig("tiny", { filters: [16, 32, 64] });
  const { params, state } = unetParams(cfg);
  const store = new ParamStore(rt, params, state);
  store.initialize(1);
  const pool = new BufferPool(rt.device);
  const B = 2;
  const patch: [number, number, number] = [16, 32, 32];
  const plan = buildUNetPlan(rt, pool, store, cfg, {
    batch: B,
    patch,
    mode: "train",
    loss: { phi: "BI", epsilon: 1e-7 },
    telemetry: false,
  });
  try {
    const V = patch[0] * patch[1] * patch[2];
    const x = new Float32Array(B * V);
    const y = new Float32Array(B * V);
    for (let i = 0; i < x.length; i++) {
      x[i] = ((i * 2654435761) % 1000) / 1000;
      y[i] = x[i] > 0.9 ? 1 : 0;
    }
    rt.write(plan.input, x);
    rt.write(plan.target!, y);
    let step = 0;
    const run = async () => {
      plan.adam!.setStep(++step, 1e-3);
      await plan.plan.run([plan.lossReadback!]);
    };
    await run();
    const t0 = performance.now();
    let n = 0;
    while (n < 2 || performance.now() - t0 < seconds * 1000) {
      await run();
      n++;
    }
    return (convGflopPerStep(cfg, B, patch) * n) / ((performance.now() - t0) / 1000);
  } finally {
    plan.dispose();
    pool.destroy();
    store.destroy();
  }
}

/**
 * One line of `deno task plan`.
 *
 * @param plan The job's plan.
 * @param limits The limits.
 * @param gflops The calibrated GFLOP/s.
 * @returns The line.
 */
export function formatJobPlan(plan: JobPlan, limits: FitLimits, gflops: number): string {
  const stepS = plan.gflopPerStep / gflops;
  const why = jobMisfit(plan, limits);
  return [
    plan.job,
    `${plan.parameters.toLocaleString("en-US")} params`,
    `peak ${_gb(plan.peakBytes)} (static ${_gb(plan.staticBytes)})`,
    `${plan.gflopPerStep.toFixed(1)} GFLOP/step`,
    `step ≈ ${_duration(stepS)}`,
    plan.steps === undefined
      ? "job time unknown"
      : `job ≈ ${_duration(stepS * plan.steps)} (${plan.steps} steps)`,
    why ? `DOES NOT FIT: ${why}` : "fits",
  ].join("  ");
}

function _gb(bytes: number): string {
  return bytes < 1e9 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e9).toFixed(2)} GB`;
}

function _duration(s: number): string {
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function _env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
