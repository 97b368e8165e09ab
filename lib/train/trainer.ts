/**
 * The training loop: patches from a {@linkcode PatchStream}, one GPU step plan per step
 * (forward, Dice loss, backward, Adam, telemetry; one submit, 36 bytes read back), the next
 * step submitted before the previous one's readback is awaited (hides the host's ~11 ms map
 * latency on llvmpipe), validation loss per epoch with reduce-on-plateau and early stopping,
 * atomic checkpoints every N steps, bit-exact resume, and a NaN/Inf guard.
 *
 * Files written into the job folder: `checkpoint.ckpt` (latest training state),
 * `weights.ckpt` (final weights), `best.ckpt` (with `keepBest`: the weights at the epoch of the
 * lowest validation loss), `train.jsonl` (one line per step: loss, LR, gradient telemetry, data
 * wait), `epochs.jsonl` (one line per epoch: validation loss, LR).
 *
 * @module
 */

import { writeFileAtomic } from "../core/atomic_write.ts";
import { progressLine } from "./progress_line.ts";
import type { BufferPool } from "../gpu/buffer_pool.ts";
import { parseGradTelemetry } from "../gpu/ops/telemetry.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import type { DiceLossOptions } from "../loss/dice_options.ts";
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "../nn/checkpoint.ts";
import { ParamStore } from "../nn/param_store.ts";
import { buildUNetPlan, type UNetPlan } from "../nn/unet3d.ts";
import { type Triple, type UNetConfig, unetParams } from "../nn/unet_config.ts";
import type { PatchBatch, PatchStream } from "./patch_stream.ts";
import { PlateauSchedule, type PlateauState } from "./plateau.ts";

/** Thrown when the loss or the weights become NaN/Inf. */
export class TrainingDivergedError extends Error {
  /** Step at which the divergence was seen. */
  readonly step: number;
  /** Last good checkpoint, if any. */
  readonly checkpoint?: string;
  /** What became non-finite (`"the loss"`, `"weight tensor …"`). */
  readonly what: string;
  /** The loss at that step (NaN/±Infinity when the loss itself diverged). */
  readonly loss?: number;
  /** The last finite loss before it, if any. */
  readonly lastFiniteLoss?: number;
  /** The learning rate of that step. */
  readonly lr?: number;
  /**
   * Create the error.
   *
   * @param step The step.
   * @param what What became non-finite.
   * @param checkpoint Path of the last good checkpoint.
   * @param details The step's loss, the last finite loss and the learning rate.
   */
  constructor(
    step: number,
    what: string,
    checkpoint?: string,
    details: { loss?: number; lastFiniteLoss?: number; lr?: number } = {},
  ) {
    const facts = [
      details.loss !== undefined ? `loss ${details.loss}` : "",
      details.lastFiniteLoss !== undefined ? `last finite loss ${details.lastFiniteLoss}` : "",
      details.lr !== undefined ? `lr ${details.lr}` : "",
    ].filter(Boolean).join(", ");
    super(
      `Training diverged at step ${step}: ${what} is not finite${
        facts ? ` (${facts})` : ""
      }; last good checkpoint: ${checkpoint ?? "none"}`,
    );
    this.name = "TrainingDivergedError";
    this.step = step;
    this.checkpoint = checkpoint;
    this.what = what;
    this.loss = details.loss;
    this.lastFiniteLoss = details.lastFiniteLoss;
    this.lr = details.lr;
  }
}

/**
 * Fault injection for tests/faults/ (inert unless set): `DICELAB_FAULT=nan-loss:<label>` makes
 * the loss of every step after the first non-finite in the trainer whose label (a job id)
 * contains `<label>`, as a divergence would.
 */
function _nanLossFault(label: string | undefined): boolean {
  let spec: string | undefined;
  try {
    spec = Deno.env.get("DICELAB_FAULT");
  } catch {
    return false;
  }
  const m = spec ? /^nan-loss:(.+)$/.exec(spec) : null;
  return Boolean(m && label?.includes(m[1]));
}

/** What to train. */
export interface TrainerConfig {
  /** Network. */
  model: UNetConfig;
  /** Seed of the initialisation (the patch stream has its own). */
  seed: number;
  /** Batch size. */
  batchSize: number;
  /** Patch size [D, H, W]. */
  patch: Triple;
  /** Dice loss (ε resolved to numbers; `labelSets` for the labelSetMarginal variant). */
  loss: Omit<DiceLossOptions, "labeled" | "mask" | "labelSetIndex">;
  /**
   * Per-voxel loss inputs that every batch carries (`batchMarks` of the patch builder):
   * `mask` binds the masked Dice kernels and uploads each batch's voxel mask; `labelSets`
   * uploads each batch's label-set index (read by the labelSetMarginal variant; the plain
   * and leaf variants need only the all-zero target rows of set-labelled voxels).
   * @default neither
   */
  voxelInputs?: { mask: boolean; labelSets: boolean };
  /** Adam settings. */
  optimizer: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  /** Reduce-on-plateau and early stopping (in epochs). */
  schedule: { factor: number; patience: number; stopPatience: number };
  /** Maximum epochs. */
  epochs: number;
  /** Samples per epoch (training cases). */
  samplesPerEpoch: number;
  /** Checkpoint interval in steps. */
  checkpointEvery: number;
  /**
   * Also keep the weights of the epoch with the lowest validation loss in `best.ckpt`
   * (written when the validation loss improves; needs validation batches). @default false
   */
  keepBest?: boolean;
  /**
   * Submit step s + 1 before awaiting step s's readback (hides the ≈ 11-ms map latency of
   * llvmpipe; with long steps two steps in flight can contend instead). `"auto"` times a few
   * steps each way at the start of the run and keeps the faster. The weights are identical
   * either way. @default "auto"
   */
  pipelining?: "auto" | "on" | "off";
}

/** Where the trainer gets data and writes files. */
export interface TrainerIO {
  /** Runtime. */
  rt: GpuRuntime;
  /** Buffer pool. */
  pool: BufferPool;
  /** Training batches (step order). */
  stream: PatchStream;
  /** Fixed validation batches (batch size = config.batchSize), or none. */
  validation?: readonly PatchBatch[];
  /** Job folder (exists). */
  dir: string;
  /** Log sink for progress lines. @default console.log */
  log?: (line: string) => void;
  /** Live progress line on a TTY. @default false */
  progress?: boolean;
  /** Label shown in progress lines. */
  label?: string;
  /** Stop after this many steps of this process without a final checkpoint (tests). */
  stopAfterSteps?: number;
}

/** Summary of a finished run. */
export interface TrainSummary {
  /** Steps done in total. */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  /** Whether early stopping ended the run. */
  earlyStopped: boolean;
  /** Final learning rate. */
  lr: number;
  /** Best validation loss (Infinity without validation). */
  bestValidationLoss: number;
  /** Epoch (0-based) of the best validation loss; -1 without validation. */
  bestEpoch: number;
  /** Mean training loss of the last epoch. */
  lastTrainLoss: number;
  /** Fraction of step time spent waiting for data (this process). */
  dataWaitFraction: number;
  /** Steps per second (this process). */
  stepsPerSecond: number;
  /** Whether steps were pipelined (at the end of this process's run). */
  pipelined: boolean;
  /** Whether this process resumed from a checkpoint. */
  resumed: boolean;
  /** True when `stopAfterSteps` interrupted the run. */
  interrupted: boolean;
}

/** One line of `train.jsonl`. */
export interface StepRecord {
  /** Step (0-based). */
  step: number;
  /** Epoch of the step's first sample. */
  epoch: number;
  /** Training loss. */
  loss: number;
  /** Learning rate used. */
  lr: number;
  /** Mean |∂L/∂ŷ| on maps with an empty target. */
  gradEmpty: number | null;
  /** Mean |∂L/∂ŷ| on labelled maps. */
  gradLabelled: number | null;
  /** Maps with an empty target in the batch. */
  emptyMaps: number;
  /** Wall ms since the previous record. */
  ms: number;
}

const CHECKPOINT = "checkpoint.ckpt";
const WEIGHTS = "weights.ckpt";
const PIPELINE_PROBE_STEPS = 6;
const BEST_WEIGHTS = "best.ckpt";

function _finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** Trains one U-Net on one patch stream. */
export class Trainer {
  /** Configuration. */
  readonly config: TrainerConfig;
  /** Parameters (after {@linkcode Trainer.run}: the trained weights). */
  readonly store: ParamStore;
  #io: TrainerIO;
  #log: (line: string) => void;

  /**
   * Create a trainer (allocates the parameters; nothing runs yet).
   *
   * @param config What to train.
   * @param io Data, device and output folder.
   */
  constructor(config: TrainerConfig, io: TrainerIO) {
    this.config = config;
    this.#io = io;
    this.#log = io.log ?? ((l) => console.log(l));
    const { params, state } = unetParams(config.model);
    this.store = new ParamStore(io.rt, params, state);
  }

  /** Steps of the whole run. */
  get totalSteps(): number {
    return Math.ceil((this.config.epochs * this.config.samplesPerEpoch) / this.config.batchSize);
  }

  /** Path of the latest training checkpoint. */
  get checkpointPath(): string {
    return `${this.#io.dir}/${CHECKPOINT}`;
  }

  /** Path of the final weights. */
  get weightsPath(): string {
    return `${this.#io.dir}/${WEIGHTS}`;
  }

  /** Path of the best-validation weights (written with `keepBest`). */
  get bestWeightsPath(): string {
    return `${this.#io.dir}/${BEST_WEIGHTS}`;
  }

  async #saveTraining(step: number, sched: PlateauSchedule, extra: Record<string, unknown>) {
    const params = await this.store.download("params");
    for (const t of params) {
      if (!t.data.every(Number.isFinite)) {
        throw new TrainingDivergedError(
          step,
          `weight tensor ${t.name}`,
          await this.#existing(this.checkpointPath),
          { lr: sched.lr },
        );
      }
    }
    const m = await this.store.download("m");
    const v = await this.store.download("v");
    const state = await this.store.download("state");
    const ckpt: Checkpoint = {
      kind: "training",
      createdAt: new Date().toISOString(),
      config: this.config.model,
      tensors: [
        ...params,
        ...m.map((t) => ({ ...t, name: `adam.m/${t.name}` })),
        ...v.map((t) => ({ ...t, name: `adam.v/${t.name}` })),
        ...state.map((t) => ({ ...t, name: `state/${t.name}` })),
      ],
      meta: { step, schedule: sched.state, ...extra },
    };
    await saveCheckpoint(this.checkpointPath, ckpt);
  }

  async #existing(path: string): Promise<string | undefined> {
    try {
      await Deno.stat(path);
      return path;
    } catch {
      return undefined;
    }
  }

  async #restore(): Promise<
    { step: number; schedule: PlateauState; meta: Record<string, unknown> }
  > {
    const ckpt = await loadCheckpoint(this.checkpointPath);
    const by = (prefix: string) =>
      ckpt.tensors.filter((t) => t.name.startsWith(prefix)).map((t) => ({
        ...t,
        name: t.name.slice(prefix.length),
      }));
    this.store.upload("params", ckpt.tensors.filter((t) => !t.name.includes("/")));
    this.store.upload("m", by("adam.m/"));
    this.store.upload("v", by("adam.v/"));
    this.store.upload("state", by("state/"));
    return {
      step: ckpt.meta.step as number,
      schedule: ckpt.meta.schedule as PlateauState,
      meta: ckpt.meta,
    };
  }

  /**
   * Run (or resume) training to the end, writing checkpoints, logs and final weights.
   *
   * @param options `resume`: continue from `checkpoint.ckpt` when it exists.
   * @returns The summary.
   * @throws {TrainingDivergedError} When the loss or the weights become NaN/Inf.
   */
  async run(options: { resume?: boolean } = {}): Promise<TrainSummary> {
    const c = this.config;
    const io = this.#io;
    const B = c.batchSize;
    const N = c.samplesPerEpoch;
    const total = this.totalSteps;
    this.store.initialize(c.seed);
    let step = 0;
    let sched = new PlateauSchedule({ lr: c.optimizer.lr, ...c.schedule });
    let resumed = false;
    let history = { lastTrainLoss: NaN, epochs: 0 };
    if (options.resume && (await this.#existing(this.checkpointPath))) {
      const r = await this.#restore();
      step = r.step;
      sched = new PlateauSchedule({ lr: c.optimizer.lr, ...c.schedule }, r.schedule);
      history = (r.meta.history as typeof history) ?? history;
      resumed = true;
      await this.#truncateLog("train.jsonl", step);
      await this.#truncateLog("epochs.jsonl", Math.floor((step * B) / N));
      this.#log(`resumed ${io.label ?? ""} from step ${step} (${this.checkpointPath})`);
    } else {
      for (const f of ["train.jsonl", "epochs.jsonl"]) {
        await Deno.remove(`${io.dir}/${f}`).catch(() => {});
      }
    }

    const loss = boundLossOptions(c);
    const train = buildUNetPlan(io.rt, io.pool, this.store, c.model, {
      batch: B,
      patch: c.patch,
      mode: "train",
      loss,
      adam: {
        lr: c.optimizer.lr,
        beta1: c.optimizer.betas[0],
        beta2: c.optimizer.betas[1],
        eps: c.optimizer.eps,
        weightDecay: c.optimizer.weightDecay,
      },
    });
    const val = io.validation && io.validation.length > 0
      ? buildUNetPlan(io.rt, io.pool, this.store, c.model, {
        batch: B,
        patch: c.patch,
        mode: "infer",
        loss,
      })
      : undefined;
    io.stream.seek(step);
    io.stream.resetStats();

    const lines: string[] = [];
    const flush = async (file: string, buf: string[]) => {
      if (buf.length === 0) return;
      await Deno.writeTextFile(`${io.dir}/${file}`, buf.join(""), { append: true });
      buf.length = 0;
    };
    const t0 = performance.now();
    let last = t0;
    let lastPrint = 0;
    let stepsThisRun = 0;
    let epochLossSum = 0;
    let epochLossN = 0;
    let earlyStopped = sched.state.stopped;
    let interrupted = false;
    // "auto": after two warm-up steps, PIPELINE_PROBE_STEPS steps run one at a time, then as
    // many pipelined, each timed; the faster way runs the rest.
    let pipelined = c.pipelining === "on";
    let probe = (c.pipelining ?? "auto") === "auto"
      ? { warm: 2, off: [] as number[], on: [] as number[] }
      : undefined;
    let pending:
      | { step: number; lr: number; p: Promise<Float32Array[]>; empty: number }
      | undefined;
    let lastFiniteLoss = history.lastTrainLoss;
    const nanLossFault = _nanLossFault(io.label); // read once, not per step
    let lastValLoss = NaN;

    const settle = async () => {
      if (!pending) return;
      const { step: s, lr, p, empty } = pending;
      pending = undefined;
      const [lossArr, telArr] = await p;
      const loss = s >= 1 && nanLossFault ? NaN : lossArr[0];
      if (!Number.isFinite(loss)) {
        throw new TrainingDivergedError(s, "the loss", await this.#existing(this.checkpointPath), {
          loss,
          lastFiniteLoss: Number.isFinite(lastFiniteLoss) ? lastFiniteLoss : undefined,
          lr,
        });
      }
      lastFiniteLoss = loss;
      const tel = parseGradTelemetry(telArr);
      const now = performance.now();
      const rec: StepRecord = {
        step: s,
        epoch: Math.floor((s * B) / N),
        loss,
        lr,
        gradEmpty: _finite(tel.meanAbsGradEmpty),
        gradLabelled: _finite(tel.meanAbsGradLabelled),
        emptyMaps: empty,
        ms: Math.round((now - last) * 100) / 100,
      };
      last = now;
      lines.push(JSON.stringify(rec) + "\n");
      epochLossSum += loss;
      epochLossN++;
    };

    try {
      while (step < total && !earlyStopped) {
        if (io.stopAfterSteps !== undefined && stepsThisRun >= io.stopAfterSteps) {
          interrupted = true;
          break;
        }
        const iterationStart = performance.now();
        const batch = await io.stream.next();
        if (batch.step !== step) {
          throw new Error(`Patch stream out of order: got step ${batch.step}, expected ${step}`);
        }
        io.rt.write(train.input, batch.image);
        io.rt.write(train.target!, batch.target);
        _writeVoxelInputs(train, batch, c);
        train.adam!.setStep(step + 1, sched.lr);
        const p = train.plan.submit([train.lossReadback!, train.telemetryReadback!]);
        await settle();
        pending = { step, lr: sched.lr, p, empty: _emptyMaps(batch) };
        if (!pipelined) await settle();
        if (probe) {
          const ms = performance.now() - iterationStart;
          if (probe.warm > 0) probe.warm--;
          else if (!pipelined) {
            probe.off.push(ms);
            if (probe.off.length === PIPELINE_PROBE_STEPS) pipelined = true;
          } else {
            probe.on.push(ms);
            if (probe.on.length === PIPELINE_PROBE_STEPS) {
              const on = _median(probe.on.slice(1)), off = _median(probe.off);
              pipelined = on <= off;
              probe = undefined;
              this.#log(
                `${io.label ?? "training"}: step pipelining ${pipelined ? "on" : "off"} ` +
                  `(${on.toFixed(1)} ms per step pipelined, ${off.toFixed(1)} ms one at a time)`,
              );
            }
          }
        }
        step++;
        stepsThisRun++;

        const epochEnd = Math.floor((step * B) / N) > Math.floor(((step - 1) * B) / N) ||
          step === total;
        const ckptDue = step % c.checkpointEvery === 0 || step === total;
        if (epochEnd || ckptDue) {
          await settle();
          await flush("train.jsonl", lines);
        }
        if (epochEnd) {
          const epoch = Math.floor(((step - 1) * B) / N);
          const valLoss = val ? await this.#validate(val, io.validation!) : NaN;
          lastValLoss = valLoss;
          const ev = val ? sched.step(valLoss) : { improved: false, reduced: false, stop: false };
          history = { lastTrainLoss: epochLossSum / Math.max(1, epochLossN), epochs: epoch + 1 };
          await Deno.writeTextFile(
            `${io.dir}/epochs.jsonl`,
            JSON.stringify({
              epoch,
              step,
              trainLoss: history.lastTrainLoss,
              valLoss: _finite(valLoss),
              lr: sched.lr,
              improved: ev.improved,
              reduced: ev.reduced,
            }) + "\n",
            { append: true },
          );
          epochLossSum = 0;
          epochLossN = 0;
          if (ev.improved && c.keepBest) {
            await this.saveWeights(this.bestWeightsPath, { step, epoch, valLoss });
          }
          if (ev.reduced) this.#log(`epoch ${epoch}: learning rate reduced to ${sched.lr}`);
          if (ev.stop) {
            earlyStopped = true;
            this.#log(`epoch ${epoch}: early stopping (no improvement)`);
          }
        }
        if (ckptDue || epochEnd && earlyStopped) {
          await this.#saveTraining(step, sched, { history });
        }
        const now = performance.now();
        if (io.progress ? now - lastPrint > 250 : io.progress !== false && epochEnd) {
          lastPrint = now;
          this.#progress(
            step,
            total,
            (now - t0) / 1000,
            stepsThisRun,
            history.lastTrainLoss,
            lastValLoss,
          );
        }
      }
      await settle();
      await flush("train.jsonl", lines);
    } finally {
      // The finite steps before a failure (e.g. a divergence) stay in the log.
      await flush("train.jsonl", lines).catch(() => {});
      train.dispose();
      val?.dispose();
    }
    if (!interrupted) {
      await this.#saveTraining(step, sched, { history, finished: true });
      await this.saveWeights(this.weightsPath, { step });
    }
    if (io.progress) await Deno.stdout.write(new TextEncoder().encode("\n"));
    const elapsed = (performance.now() - t0) / 1000;
    const stats = io.stream.stats;
    return {
      steps: step,
      epochs: history.epochs,
      earlyStopped,
      lr: sched.lr,
      bestValidationLoss: sched.state.best,
      bestEpoch: Number.isFinite(sched.state.best)
        ? history.epochs - 1 - sched.state.sinceBest
        : -1,
      lastTrainLoss: history.lastTrainLoss,
      dataWaitFraction: stats.elapsedMs > 0 ? stats.waitMs / stats.elapsedMs : 0,
      stepsPerSecond: stepsThisRun / Math.max(elapsed, 1e-9),
      pipelined,
      resumed,
      interrupted,
    };
  }

  async #validate(val: UNetPlan, batches: readonly PatchBatch[]): Promise<number> {
    let sum = 0;
    const pend: Promise<Float32Array[]>[] = [];
    for (const b of batches) {
      if (b.imageShape[0] !== this.config.batchSize) {
        throw new RangeError(
          `Cannot validate: a validation batch has ${
            b.imageShape[0]
          } patches, the plan ${this.config.batchSize}`,
        );
      }
      this.#io.rt.write(val.input, b.image);
      this.#io.rt.write(val.target!, b.target);
      _writeVoxelInputs(val, b, this.config);
      pend.push(val.plan.submit([val.lossReadback!]));
    }
    for (const p of pend) sum += (await p)[0][0];
    return sum / batches.length;
  }

  async #truncateLog(file: string, keepBelow: number): Promise<void> {
    const path = `${this.#io.dir}/${file}`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      return;
    }
    const key = file === "train.jsonl" ? "step" : "epoch";
    const kept = text.split("\n").filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as Record<string, number>)[key] < keepBelow;
      } catch {
        return false; // a line cut by the kill
      }
    });
    await writeFileAtomic(path, kept.map((l) => l + "\n").join(""));
  }

  #progress(
    step: number,
    total: number,
    elapsed: number,
    steps: number,
    loss: number,
    valLoss: number,
  ) {
    const text = progressLine({
      label: this.#io.label,
      step,
      total,
      // The epoch the last step belonged to.
      epoch: Math.max(
        0,
        Math.floor(((step - 1) * this.config.batchSize) / this.config.samplesPerEpoch),
      ),
      epochs: this.config.epochs,
      loss,
      valLoss,
      rate: steps / Math.max(elapsed, 1e-9),
    });
    if (this.#io.progress) {
      Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[K${text}`));
    } else this.#log(text);
  }

  /**
   * Write the current weights (parameters and normalisation state) as a `"weights"` checkpoint.
   *
   * @param path Target path.
   * @param meta Extra metadata.
   */
  async saveWeights(path: string, meta: Record<string, unknown> = {}): Promise<void> {
    const params = await this.store.download("params");
    const state = await this.store.download("state");
    await saveCheckpoint(path, {
      kind: "weights",
      createdAt: new Date().toISOString(),
      config: this.config.model,
      tensors: [...params, ...state.map((t) => ({ ...t, name: `state/${t.name}` }))],
      meta,
    });
  }

  /** Free the GPU buffers. */
  destroy(): void {
    this.store.destroy();
  }
}

/**
 * The loss options a trainer's plans are bound with: the config's, plus initial host arrays for
 * the per-voxel inputs (every batch replaces them). `plan` sizes the same options.
 *
 * @param c Batch size, patch, loss and voxel inputs of the trainer's config.
 * @returns The options `buildUNetPlan` receives.
 */
export function boundLossOptions(
  c: Pick<TrainerConfig, "batchSize" | "patch" | "loss" | "voxelInputs">,
): Omit<DiceLossOptions, "labeled"> {
  const v = c.voxelInputs;
  if (!v?.mask && !_readsLabelSets(c)) return c.loss;
  const n = c.batchSize * c.patch[0] * c.patch[1] * c.patch[2];
  return {
    ...c.loss,
    ...(v?.mask ? { mask: new Uint8Array(n).fill(1) } : {}),
    ...(_readsLabelSets(c) ? { labelSetIndex: new Uint8Array(n) } : {}),
  };
}

/** Whether the bound loss reads the label-set index (labelSetMarginal with label sets). */
function _readsLabelSets(c: Pick<TrainerConfig, "loss" | "voxelInputs">): boolean {
  return Boolean(c.voxelInputs?.labelSets) && c.loss.variant === "labelSetMarginal";
}

/** Upload a batch's voxel mask and label-set index into a plan's bound loss. */
function _writeVoxelInputs(plan: UNetPlan, batch: PatchBatch, c: TrainerConfig): void {
  if (c.voxelInputs?.mask) {
    if (!batch.mask) {
      throw new TypeError(
        `Cannot run batch ${batch.step}: it carries no voxel mask, and the loss was bound with one`,
      );
    }
    plan.dice!.setMask(batch.mask);
  }
  if (_readsLabelSets(c)) {
    if (!batch.labelSetIndex) {
      throw new TypeError(
        `Cannot run batch ${batch.step}: it carries no label-set index, and the loss reads one`,
      );
    }
    plan.dice!.setLabelSets(batch.labelSetIndex);
  }
}

function _emptyMaps(batch: PatchBatch): number {
  const [B, K] = batch.targetShape;
  const V = batch.target.length / (B * K);
  let empty = 0;
  for (let m = 0; m < B * K; m++) {
    let any = false;
    for (let i = m * V; i < (m + 1) * V; i++) {
      if (batch.target[i] !== 0) {
        any = true;
        break;
      }
    }
    if (!any) empty++;
  }
  return empty;
}

function _median(x: number[]): number {
  const v = [...x].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * Load a weights (or training) checkpoint into a parameter store.
 *
 * @param store The store (same configuration).
 * @param path Checkpoint path.
 * @returns The checkpoint's metadata.
 * @throws {SyntaxError} When the file is not a valid checkpoint.
 * @throws {TypeError} When the tensors do not match the store.
 */
export async function loadWeights(
  store: ParamStore,
  path: string,
): Promise<Record<string, unknown>> {
  const ckpt = await loadCheckpoint(path);
  store.upload("params", ckpt.tensors.filter((t) => !t.name.includes("/")));
  store.upload(
    "state",
    ckpt.tensors.filter((t) => t.name.startsWith("state/")).map((t) => ({
      ...t,
      name: t.name.slice(6),
    })),
  );
  return ckpt.meta;
}
