/**
 * Running a pipeline: dataset (real or phantom), fold split, the jobs (fold × labeling ×
 * experiment × B: training, sliding-window evaluation, metrics), then results.json and the
 * report. Runs are resumable (finished jobs are skipped, an interrupted job resumes from its
 * checkpoint) and shardable (`--shard i/n` into a shared folder; `merge` builds the report).
 *
 * Run folder:
 * ```
 * pipeline.json  environment.json  folds.json  results.json  table1.md  report.json
 * report.html  roc.svg  overlay_*.png  telemetry.svg  examples/
 * jobs/<job>/ log.txt train.jsonl epochs.jsonl checkpoint.ckpt weights.ckpt result.json
 *             predictions/<case>.nii.gz
 * ```
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../core/atomic_write.ts";
import { ensurePhantom } from "../data/ensure_phantom.ts";
import { listDataset } from "../data/list_dataset.ts";
import { PAPER_PREPROCESSING, PHANTOM_PREPROCESSING } from "../data/preprocess.ts";
import type { PreprocessingOptions } from "../data/preprocess.ts";
import { toSourceGrid } from "../data/load_case.ts";
import type { CaseRecord, LoadedCase } from "../data/types.ts";
import { caseMetrics } from "../eval/metrics.ts";
import { type CaseResult, caseResults } from "../eval/case_result.ts";
import { type FoldSplit, foldSubjects, kFoldSplit } from "../eval/folds.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
import { type GpuContext, requestGpu } from "../gpu/device.ts";
import { GpuRuntime } from "../gpu/runtime.ts";
import type { DiceLossOptions, EpsilonInput } from "../loss/dice_options.ts";
import { heuristicEpsilonFromSums } from "../loss/heuristic_epsilon.ts";
import { writeNiftiFile } from "../nifti/write_nifti.ts";
import {
  parameterCount,
  resolveUNetConfig,
  type UNetConfig,
  type UNetOverrides,
} from "../nn/unet_config.ts";
import { CaseStore, createPatchPool, type PatchPool } from "../train/case_store.ts";
import { SlidingWindowPredictor } from "../train/inference.ts";
import { PatchStream, validationBatches } from "../train/patch_stream.ts";
import { SampleSchedule } from "../train/sampling.ts";
import { loadWeights, Trainer } from "../train/trainer.ts";
import { enumerateJobs, type Job, type Shard, shardJobs } from "./jobs.ts";
import { mergeRun } from "./merge.ts";
import type { LossConfig, Pipeline } from "./schema.ts";

/** Options of {@linkcode runPipeline}. */
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
}

/** Outcome of {@linkcode runPipeline}. */
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

/**
 * Apply `--seed` and `--quick` to a pipeline.
 *
 * @param p The pipeline.
 * @param o Seed and quick flag.
 * @returns The effective pipeline.
 */
export function effectivePipeline(
  p: Pipeline,
  o: { seed?: number; quick?: boolean; phantom?: boolean },
): Pipeline {
  const out: Pipeline = structuredClone(p);
  if (o.seed !== undefined) out.seed = o.seed;
  if (o.phantom) {
    const m = p.dataset.phantom.model ?? {};
    for (const [k, v] of Object.entries(m)) {
      if (v !== undefined) (out.model as unknown as Record<string, unknown>)[k] = v;
    }
    const t = p.dataset.phantom.training ?? {};
    const { schedule, lr, ...rest } = t;
    for (const [k, v] of Object.entries(rest)) {
      if (v !== undefined) (out.training as unknown as Record<string, unknown>)[k] = v;
    }
    if (lr !== undefined) out.training.optimizer.lr = lr;
    if (schedule) {
      for (const [k, v] of Object.entries(schedule)) {
        if (v !== undefined) (out.training.schedule as Record<string, unknown>)[k] = v;
      }
    }
  }
  if (o.quick) {
    const q = p.quick;
    if (q.epochs) out.training.epochs = q.epochs;
    if (q.phantom) out.dataset.phantom.options = { ...out.dataset.phantom.options, ...q.phantom };
    if (q.resamples) out.evaluation.bootstrap.resamples = q.resamples;
  }
  return out;
}

/**
 * The model configuration of a pipeline (preset + overrides; channels from the dataset).
 *
 * @param p The pipeline.
 * @returns The configuration.
 */
export function modelConfig(p: Pipeline): UNetConfig {
  const m = p.model;
  const io = p.dataset.kind === "brats"
    ? { inChannels: 4, outChannels: 1 }
    : { inChannels: 1, outChannels: 4 };
  const overrides: UNetOverrides = {
    inChannels: m.inChannels ?? io.inChannels,
    outChannels: m.outChannels ?? io.outChannels,
    filters: m.filters,
    norm: m.norm,
    activation: m.activation,
    upsampling: m.upsampling,
    order: m.order,
    head: m.head,
    kernels: m.kernels as UNetOverrides["kernels"],
    pools: m.pools as UNetOverrides["pools"],
  };
  return resolveUNetConfig(m.preset, overrides);
}

/**
 * Dice-loss options of an experiment (ε still possibly `"heuristic"`).
 *
 * @param loss The loss config.
 * @returns Options for the GPU loss, and whether ε is the heuristic.
 */
export function lossOptions(
  loss: LossConfig,
): { options: Omit<DiceLossOptions, "labeled" | "epsilon">; epsilon: EpsilonInput | "heuristic" } {
  const variant = loss.kind === "softDice"
    ? "plain"
    : loss.kind === "leafDice"
    ? "leaf"
    : "marginal";
  return {
    options: {
      phi: loss.phi,
      classes: loss.classes,
      variant,
      background: loss.kind === "marginalDice" ? loss.background : undefined,
    },
    epsilon: loss.epsilon as EpsilonInput | "heuristic",
  };
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
 * The ED:ES sampling ratio an experiment trains with (its own `edEsRatio`, else the
 * pipeline's), as a `SampleSchedule` group ratio; undefined: cases are drawn uniformly.
 *
 * @param p Effective pipeline.
 * @param experiment Experiment id.
 * @returns `{ ED, ES }` weights, or undefined.
 */
export function edEsGroupRatio(
  p: Pipeline,
  experiment: string,
): Readonly<Record<string, number>> | undefined {
  const ratio = p.experiments[experiment].edEsRatio ?? p.training.edEsRatio;
  return ratio ? { ED: ratio[0], ES: ratio[1] } : undefined;
}

function _timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${
    p(d.getMinutes())
  }${p(d.getSeconds())}`;
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function _latestRun(name: string): Promise<string | undefined> {
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir("runs")) {
      if (e.isDirectory && e.name.startsWith(`${name}-`)) dirs.push(`runs/${e.name}`);
    }
  } catch {
    return undefined;
  }
  return dirs.sort().pop();
}

/**
 * Resolve dataset root, preprocessing and phantom generation.
 *
 * @param p Effective pipeline.
 * @param o Run options.
 * @param log Log sink.
 * @returns Root, phantom flag and preprocessing.
 */
export async function resolveDataset(
  p: Pipeline,
  o: Pick<RunOptions, "data" | "cacheDir">,
  log: (l: string) => void,
): Promise<{ root: string; phantom: boolean; preprocessing: PreprocessingOptions }> {
  const kind = p.dataset.kind;
  const real = o.data ?? p.dataset.root;
  if (real) {
    log(`Dataset: real ${kind.toUpperCase()} data at ${real}`);
    return {
      root: real,
      phantom: false,
      preprocessing: (p.dataset.preprocessing as PreprocessingOptions) ?? PAPER_PREPROCESSING[kind],
    };
  }
  const cache = o.cacheDir ?? ".cache/phantoms";
  const t = performance.now();
  const root = await ensurePhantom(kind, cache, p.dataset.phantom.options as never);
  log(
    `Dataset: no --data given, using the phantom ${kind.toUpperCase()} dataset at ${root} ` +
      `(generated once and cached; ${((performance.now() - t) / 1000).toFixed(1)} s)`,
  );
  return {
    root,
    phantom: true,
    preprocessing: (p.dataset.phantom.preprocessing as PreprocessingOptions) ??
      PHANTOM_PREPROCESSING[kind],
  };
}

/** Everything a job needs that is shared by all jobs of a run. */
export interface RunContext {
  /** Effective pipeline. */
  pipeline: Pipeline;
  /** Run folder. */
  dir: string;
  /** Device. */
  gpu: GpuContext;
  /** Runtime. */
  rt: GpuRuntime;
  /** Buffer pool. */
  pool: BufferPool;
  /** Patch workers. */
  patchPool: PatchPool;
  /** All cases, preprocessed. */
  store: CaseStore;
  /** The fold split. */
  split: FoldSplit;
  /** Model configuration. */
  model: UNetConfig;
  /** Log sink. */
  log: (l: string) => void;
  /** Live progress. */
  progress: boolean;
  /** Example case ids (overlays). */
  exampleCases: string[];
}

/** Which weights a job evaluated (`training.evaluateWeights`). */
export type EvaluatedWeights = { kind: "final" } | { kind: "best"; epoch: number };

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
}

function _subjectsIndex(store: CaseStore, subjects: readonly string[]): number[] {
  const set = new Set(subjects);
  const out: number[] = [];
  for (let i = 0; i < store.size; i++) if (set.has(store.records[i].subject)) out.push(i);
  return out;
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
    const { train: trainSubjects, test: testSubjects } = foldSubjects(ctx.split, job.fold);
    const jobSeed = p.seed * 1000 + job.fold;
    const { train: fitSubjects, val: valSubjects } = validationSplit(
      trainSubjects,
      t.validationFraction,
      jobSeed,
    );
    const trainIdx = _subjectsIndex(ctx.store, fitSubjects);
    const valIdx = _subjectsIndex(ctx.store, valSubjects);
    const testIdx = _subjectsIndex(ctx.store, testSubjects);
    const exp = p.experiments[job.experiment];
    const labeling = p.labelings[job.labeling];
    const K = ctx.model.outChannels;
    const target = K === 1
      ? { encoding: "binary" as const }
      : { encoding: "oneHot" as const, classes: K };
    const { options: lossBase, epsilon: epsIn } = lossOptions(exp.loss);
    const groups = trainIdx.map((i) => ctx.store.records[i].group);
    const schedule = new SampleSchedule(trainIdx.length, {
      seed: jobSeed,
      groups,
      groupRatio: edEsGroupRatio(p, job.experiment),
    });
    let epsilon: EpsilonInput;
    if (epsIn === "heuristic") {
      // ε = E Σ_φ y over the training patches the loss sees (the cases of the first epoch,
      // with the sampling ratio, one patch each as in training without augmentation; empty
      // maps count as 0), per kept class.
      const epochCases = [...schedule.epoch(0)].map((k) => trainIdx[k]);
      const batches = await validationBatches(ctx.store, epochCases, {
        seed: jobSeed + 77,
        patchSize: t.patchSize,
        batchSize: 1,
        target,
        labeling,
        foregroundProbability: t.foregroundProbability,
      });
      const sums: number[] = [];
      for (const b of batches) {
        const V = b.target.length / K;
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let i = k * V; i < (k + 1) * V; i++) s += b.target[i];
          sums.push(s);
        }
      }
      const eps = heuristicEpsilonFromSums(sums, K, {
        classes: lossBase.classes,
        phi: lossBase.phi,
        batchSize: job.batchSize,
      });
      log(`${job.id}: heuristic ε = ${eps.map((e) => e.toFixed(1)).join(", ")}`);
      epsilon = eps;
    } else {
      epsilon = epsIn;
    }
    const loss = { ...lossBase, epsilon };
    const stream = new PatchStream(ctx.store, {
      cases: trainIdx,
      seed: jobSeed,
      patchSize: t.patchSize,
      batchSize: job.batchSize,
      target,
      labeling,
      schedule,
      augmentation: t.augmentation.enabled ? t.augmentation : false,
      foregroundProbability: t.foregroundProbability,
      prefetch: t.prefetch,
    });
    // Whole batches only (the validation plan has a fixed batch size): cycle the validation
    // cases to a multiple of B.
    const valCases = valIdx.length > 0
      ? Array.from(
        { length: Math.ceil(valIdx.length / job.batchSize) * job.batchSize },
        (_, k) => valIdx[k % valIdx.length],
      )
      : [];
    const validation = valCases.length > 0
      ? await validationBatches(ctx.store, valCases, {
        seed: jobSeed,
        patchSize: t.patchSize,
        batchSize: job.batchSize,
        target,
        labeling,
      })
      : [];
    const trainer = new Trainer({
      model: ctx.model,
      seed: jobSeed,
      batchSize: job.batchSize,
      patch: t.patchSize,
      loss,
      optimizer: { ...t.optimizer, lr: scaledLr(t.optimizer.lr, job.batchSize, t.lrScaling) },
      schedule: t.schedule,
      epochs: t.epochs,
      samplesPerEpoch: trainIdx.length,
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
      progress: ctx.progress,
      label: job.id,
    });
    const t0 = performance.now();
    let summary;
    try {
      summary = await trainer.run({ resume: true });
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
    const weights = await _selectWeights(trainer, t.evaluateWeights, summary.bestEpoch);
    if (weights.kind === "best") {
      log(`${job.id}: evaluating the best-validation weights (epoch ${weights.epoch})`);
    }
    const predictor = new SlidingWindowPredictor(ctx.rt, ctx.pool, trainer.store, ctx.model, {
      window: t.patchSize,
      overlap: p.evaluation.window.overlap,
      blending: p.evaluation.window.blending,
      batch: job.batchSize,
    });
    const rows: CaseResult[] = [];
    await Deno.mkdir(`${dir}/predictions`, { recursive: true });
    try {
      for (const i of testIdx) {
        const c = ctx.store.get(i);
        const pred = await predictor.predict(c.image, c.shape);
        const metrics = caseMetrics(pred.labels, c.label, {
          spacing: c.spacing,
          classes: p.evaluation.classes,
        });
        rows.push(
          ...caseResults(
            {
              experiment: job.experiment,
              labeling: job.labeling,
              batchSize: job.batchSize,
              fold: job.fold,
            },
            { caseId: c.id, subject: c.subject, group: c.group },
            metrics,
          ),
        );
        await _writePrediction(dir, c, pred.labels);
        if (ctx.exampleCases.includes(c.id)) {
          await Deno.mkdir(`${dir}/examples`, { recursive: true });
          await writeFileAtomic(`${dir}/examples/${c.id}.u8`, pred.labels);
        }
      }
    } finally {
      predictor.dispose();
      trainer.destroy();
    }
    const t2 = performance.now();
    const result: JobResult = {
      job,
      epsilon,
      training: { ...summary, evaluated: weights },
      rows,
      seconds: { train: (t1 - t0) / 1000, evaluate: (t2 - t1) / 1000 },
    };
    await writeJsonAtomic(`${dir}/result.json`, result);
    return result;
  } finally {
    logFile.close();
  }
}

/**
 * Load the weights to evaluate into the trainer's store: the best-validation ones when asked
 * for and written (a run without validation cases has none), else keep the final ones.
 */
async function _selectWeights(
  trainer: Trainer,
  which: "final" | "best" | undefined,
  bestEpoch: number,
): Promise<EvaluatedWeights> {
  if (which !== "best" || bestEpoch < 0) return { kind: "final" };
  try {
    await Deno.stat(trainer.bestWeightsPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { kind: "final" };
    throw e;
  }
  await loadWeights(trainer.store, trainer.bestWeightsPath);
  return { kind: "best", epoch: bestEpoch };
}

async function _writePrediction(dir: string, c: LoadedCase, labels: Uint8Array): Promise<void> {
  const src = toSourceGrid(labels, c);
  const [D, H, W] = c.source.shape;
  await writeNiftiFile(`${dir}/predictions/${c.id}.nii.gz`, {
    shape: [W, H, D],
    data: src,
    affine: c.source.affine,
    datatype: "uint8",
  });
}

/**
 * Run a pipeline (or one shard of it) into a run folder, then merge and report when every
 * job of the run is done.
 *
 * @param o Options.
 * @returns Summary.
 * @throws {Error} When the run folder holds a different pipeline, or a job fails.
 */
export async function runPipeline(o: RunOptions): Promise<RunSummary> {
  const log = o.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const phantom = !(o.data ?? o.pipeline.dataset.root);
  const p = effectivePipeline(o.pipeline, { ...o, phantom });
  const ds = await resolveDataset(p, o, log);
  let dir = o.out;
  if (!dir && o.resume) dir = await _latestRun(p.name);
  if (!dir) dir = `runs/${p.name}-${_timestamp()}${o.shard ? "" : ""}`;
  await Deno.mkdir(`${dir}/jobs`, { recursive: true });
  log(`Run folder: ${dir}`);

  const resolved: ResolvedRun = {
    pipeline: p,
    quick: Boolean(o.quick),
    phantom: ds.phantom,
    root: ds.root,
    preprocessing: ds.preprocessing,
    selection: { only: o.only, folds: o.folds },
  };
  const pipelineJson =
    JSON.stringify({ schema: "dicelab.pipeline/1", source: o.source, ...resolved }, null, 2) + "\n";
  if (await _exists(`${dir}/pipeline.json`)) {
    // Jobs are independent and named by id, so a run may grow or shrink its selection
    // (`--folds 2` now, all folds later) as long as everything else is the same.
    const have = await Deno.readTextFile(`${dir}/pipeline.json`);
    const unselect = (text: string) => {
      const { selection: _s, ...rest } = JSON.parse(text);
      return JSON.stringify(rest);
    };
    if (unselect(have) !== unselect(pipelineJson)) {
      throw new Error(
        `Cannot run into ${dir}: it holds a different pipeline or options (pipeline.json differs); ` +
          `use another --out or the same options`,
      );
    }
    if (have !== pipelineJson) await writeFileAtomic(`${dir}/pipeline.json`, pipelineJson);
  } else {
    await writeFileAtomic(`${dir}/pipeline.json`, pipelineJson);
  }

  const records: CaseRecord[] = await listDataset(p.dataset.kind, ds.root);
  const subjects = [...new Set(records.map((r) => r.subject))];
  const split = kFoldSplit(subjects, {
    folds: p.evaluation.folds,
    seed: p.seed,
    rule: p.evaluation.foldRule,
  });
  await writeJsonAtomic(`${dir}/folds.json`, split);

  const all = enumerateJobs(p, { quick: o.quick, only: o.only, folds: o.folds });
  const mine = o.shard ? shardJobs(all, o.shard) : all;
  let skipped = 0;
  const todo: Job[] = [];
  for (const j of mine) {
    if (await _exists(`${dir}/jobs/${j.id}/result.json`)) skipped++;
    else todo.push(j);
  }
  log(
    `Jobs: ${mine.length}${
      o.shard ? ` (shard ${o.shard.index}/${o.shard.count} of ${all.length})` : ""
    }` +
      `, ${skipped} already done`,
  );

  if (todo.length > 0) {
    const gpu = await requestGpu();
    log(`Adapter: ${gpu.adapter.description}`);
    await _writeEnvironment(dir, gpu);
    const rt = new GpuRuntime(gpu.device);
    const pool = new BufferPool(gpu.device);
    const workers = o.workers ?? (p.training.workers === "auto" ? undefined : p.training.workers);
    const patchPool = createPatchPool({ size: workers });
    try {
      const tl = performance.now();
      const store = await CaseStore.load(patchPool, records, ds.preprocessing);
      log(`Loaded ${store.size} cases in ${((performance.now() - tl) / 1000).toFixed(1)} s`);
      try {
        const model = modelConfig(p);
        log(
          `Model: ${p.model.preset} preset, filters ${JSON.stringify(model.filters)}, ` +
            `${parameterCount(model).toLocaleString("en-US")} parameters; patch ${
              JSON.stringify(p.training.patchSize)
            }, ${p.training.epochs} epochs`,
        );
        const ctx: RunContext = {
          pipeline: p,
          dir,
          gpu,
          rt,
          pool,
          patchPool,
          store,
          split,
          model,
          log,
          progress: Boolean(o.progress),
          exampleCases: exampleCases(split, records, p.evaluation.examples),
        };
        let done = 0;
        const tj = performance.now();
        for (const job of todo) {
          const r = await runJob(ctx, job);
          done++;
          const el = (performance.now() - tj) / 1000;
          const eta = (el / done) * (todo.length - done);
          log(
            `[${done}/${todo.length}] ${job.id}: ${_jobLine(r, p)} (${
              (r.seconds.train + r.seconds.evaluate).toFixed(0)
            } s; ETA ${Math.round(eta)} s)`,
          );
        }
      } finally {
        await store.close();
      }
    } finally {
      await patchPool.close();
      pool.destroy();
      gpu.device.destroy();
    }
  }
  const reported = await mergeRun(dir, { log, require: false });
  return {
    dir,
    jobs: mine.length,
    skipped,
    reported,
    seconds: (performance.now() - t0) / 1000,
  };
}

function _jobLine(r: JobResult, p: Pipeline): string {
  const target = p.evaluation.target.className;
  const [g1, g2] = p.evaluation.target.groups;
  const mean = (g: string) => {
    const xs = r.rows.filter((x) => x.className === target && x.group === g && x.dsc !== null);
    return xs.length ? (xs.reduce((s, x) => s + (x.dsc ?? 0), 0) / xs.length).toFixed(3) : "-";
  };
  return `DSC ${target} ${g1} ${mean(g1)} ${g2} ${mean(g2)}`;
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

async function _writeEnvironment(dir: string, gpu: GpuContext): Promise<void> {
  let os = "unknown";
  try {
    os = `${Deno.build.os} ${Deno.osRelease()}`;
  } catch { /* no sys permission */ }
  await writeJsonAtomic(`${dir}/environment.json`, {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os,
    arch: Deno.build.arch,
    cpus: navigator.hardwareConcurrency,
    adapter: gpu.adapter,
  });
}
