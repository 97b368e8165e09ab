/**
 * `deno task bench:train`: training throughput on the phantom presets of `pipelines/acdc.ts`
 * and `pipelines/brats.ts` (their phantom network, patch size and a batch size of each).
 * One JSON line per preset:
 *
 * - `steps_per_s`: the trainer fed by the patch worker pool (real patches: sampling,
 *   augmentation, labeling), including per-step loss/telemetry readback;
 * - `gpu_steps_per_s`: the same step plan on one resident batch (no data loading);
 * - `data_wait_fraction`: share of the trainer's wall time spent waiting for patches
 *   (after warm-up; target < 0.05);
 * - `steps_per_s_pipelined` / `steps_per_s_unpipelined`: the trainer with `pipelining: "on"` and
 *   `"off"` (medians of `--rounds` interleaved runs of `--steps` steps each), and `auto_choice`:
 *   what `pipelining: "auto"` (the default, timed on the first steps) chose.
 *
 * Options: `--steps N` (timed steps, default 60), `--rounds N` (default 3), `--workers N`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ensurePhantom } from "../lib/data/ensure_phantom.ts";
import { listDataset } from "../lib/data/list_dataset.ts";
import { DATASETS } from "../lib/data/dataset_descriptor.ts";
import { BufferPool } from "../lib/gpu/buffer_pool.ts";
import { requestGpu } from "../lib/gpu/device.ts";
import { GpuRuntime } from "../lib/gpu/runtime.ts";
import { ParamStore } from "../lib/nn/param_store.ts";
import { buildUNetPlan } from "../lib/nn/unet3d.ts";
import { unetParams } from "../lib/nn/unet_config.ts";
import { validatePipeline } from "../lib/pipeline/define_pipeline.ts";
import { diceLossOptionsOf } from "../lib/loss/loss_kind.ts";
import { effectivePipeline, modelConfig } from "../lib/pipeline/resolve.ts";
import { CaseStore, createPatchPool } from "../lib/train/case_store.ts";
import { PatchStream } from "../lib/train/patch_stream.ts";
import { SampleSchedule } from "../lib/train/sampling.ts";
import { Trainer } from "../lib/train/trainer.ts";
import acdc from "../pipelines/acdc.ts";
import brats from "../pipelines/brats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { steps: { type: "string" }, rounds: { type: "string" }, workers: { type: "string" } },
});
const STEPS = Number(values.steps ?? 60);
const ROUNDS = Number(values.rounds ?? 3);
const WARMUP = 5;

const gpu = await requestGpu();
const rt = new GpuRuntime(gpu.device);
for (const [name, def, B] of [["acdc", acdc, 2], ["brats", brats, 4]] as const) {
  const p = effectivePipeline(validatePipeline(def, name), { phantom: true });
  const kind = p.dataset.kind;
  const root = await ensurePhantom(kind, ".cache/phantoms", p.dataset.phantom.options as never);
  const records = await listDataset(kind, root);
  const pool = createPatchPool({ size: values.workers ? Number(values.workers) : undefined });
  const store = await CaseStore.load(pool, records, DATASETS[kind].preprocessing.phantom);
  const model = modelConfig(p);
  const K = model.outChannels;
  const target = K === 1
    ? { encoding: "binary" as const }
    : { encoding: "oneHot" as const, classes: K };
  const { options } = diceLossOptionsOf(p.experiments.I.loss);
  const loss = { ...options, epsilon: 1e-7 };
  const cases = Array.from({ length: store.size }, (_, i) => i);
  const stream = new PatchStream(store, {
    cases,
    seed: 1,
    patchSize: p.training.patchSize,
    batchSize: B,
    target,
    labeling: p.labelings.partial,
    schedule: new SampleSchedule(cases.length, { seed: 1 }),
    augmentation: p.training.augmentation,
    foregroundProbability: p.training.foregroundProbability,
    prefetch: p.training.prefetch,
  });
  const dir = await Deno.makeTempDir({ prefix: "dicelab-bench-" });
  const bufferPool = new BufferPool(gpu.device);
  // Warm-up run (compiles the kernels), then the timed run on a fresh trainer.
  const trainerConfig = {
    model,
    seed: 1,
    batchSize: B,
    patch: p.training.patchSize,
    loss,
    optimizer: p.training.optimizer,
    schedule: p.training.schedule,
    epochs: 1000,
    samplesPerEpoch: 1_000_000,
    checkpointEvery: 1_000_000,
  };
  const io = { rt, pool: bufferPool, stream, dir, log: () => {}, progress: false };
  const warm = new Trainer(trainerConfig, { ...io, stopAfterSteps: WARMUP });
  await warm.run();
  warm.destroy();
  const timedRun = async (pipelining: "auto" | "on" | "off") => {
    const t = new Trainer({ ...trainerConfig, pipelining }, { ...io, stopAfterSteps: STEPS });
    try {
      return await t.run();
    } finally {
      t.destroy();
    }
  };
  const summary = await timedRun("auto");
  const rates: Record<"on" | "off", number[]> = { on: [], off: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ["on", "off"] as const) {
      rates[mode].push((await timedRun(mode)).stepsPerSecond);
    }
  }
  const median = (x: number[]) => [...x].sort((a, b) => a - b)[(x.length - 1) >> 1];
  await stream.close();

  // Pure GPU steps on one resident batch.
  const { params, state } = unetParams(model);
  const ps = new ParamStore(rt, params, state);
  ps.initialize(1);
  const plan = buildUNetPlan(rt, bufferPool, ps, model, {
    batch: B,
    patch: p.training.patchSize,
    mode: "train",
    loss,
  });
  const V = p.training.patchSize.reduce((a, b) => a * b, 1);
  rt.write(plan.input, new Float32Array(B * model.inChannels * V).map((_, i) => Math.sin(i)));
  rt.write(plan.target!, new Float32Array(B * K * V).map((_, i) => (i % 9 === 0 ? 1 : 0)));
  let step = 0;
  let pending: Promise<Float32Array[]> | undefined;
  const go = async (n: number) => {
    for (let i = 0; i < n; i++) {
      plan.adam!.setStep(++step, 1e-3);
      const next = plan.plan.submit([plan.lossReadback!, plan.telemetryReadback!]);
      if (pending) await pending;
      pending = next;
    }
    await pending;
    pending = undefined;
  };
  await go(WARMUP);
  const t0 = performance.now();
  await go(STEPS);
  const gpuRate = STEPS / ((performance.now() - t0) / 1000);
  plan.dispose();
  ps.destroy();
  bufferPool.destroy();
  await store.close();
  await pool.close();
  await Deno.remove(dir, { recursive: true });
  console.log(JSON.stringify({
    preset: name,
    batch: B,
    patch: p.training.patchSize,
    filters: model.filters,
    workers: pool.size,
    steps: STEPS,
    steps_per_s: Math.round(summary.stepsPerSecond * 100) / 100,
    gpu_steps_per_s: Math.round(gpuRate * 100) / 100,
    data_wait_fraction: Math.round(summary.dataWaitFraction * 10000) / 10000,
    steps_per_s_pipelined: Math.round(median(rates.on) * 100) / 100,
    steps_per_s_unpipelined: Math.round(median(rates.off) * 100) / 100,
    auto_choice: summary.pipelined ? "on" : "off",
    samples_per_s: Math.round(summary.stepsPerSecond * B * 10) / 10,
    adapter: gpu.adapter.description,
  }));
}
gpu.device.destroy();
