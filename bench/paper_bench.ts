/**
 * `deno task bench:paper`: the paper-scale training steps of shared/bench/paper-scale.md —
 * `paper-bench/brats` (No New-Net preset, patch 48×80×80, B ∈ {1, 2, 4, 8}) and
 * `paper-bench/acdc` (ACDC preset, patch 48×192×192, B = 2): soft Dice Φ = BI, ε = 1e-7, Adam
 * lr 1e-3; inputs uniform in [0, 1), targets random binary maps with about 10 % foreground
 * (ACDC: a foreground voxel gets one of the classes 1–3), fixed before timing. Warm-up 1 step,
 * then at least 2 timed steps, each reading the loss back. Tensors larger than one storage
 * binding run through the ops' chunked paths. Prints one JSON line per configuration:
 * `{"bench", "B", "median_ms", "gflop_per_step", "gflop_per_s", "peak_gpu_bytes",
 * "dispatches", "adapter", …}` (`gflop_per_step` counts the convolutions, see
 * `convGflopPerStep`; `peak_gpu_bytes` the step's planned peak, `plan.memory.peakBytes`: the
 * parameter store plus the liveness-planned scratch, which is what the pool holds for it;
 * `static_gpu_bytes` the same step with one buffer per scratch, as before issue 17's planner).
 *
 * Options: `--only brats:1,acdc:2` (configurations, default all five), `--steps N` (timed
 * steps, default 2), `--warmup N` (default 1), `--dry` (no GPU memory: print only the planned
 * and static bytes of each configuration from `planStepMemory`, sized for this adapter).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BufferPool } from "../lib/gpu/buffer_pool.ts";
import { requestGpu } from "../lib/gpu/device.ts";
import { GpuRuntime } from "../lib/gpu/runtime.ts";
import { Rng } from "../lib/core/rng.ts";
import { ParamStore } from "../lib/nn/param_store.ts";
import { runtimeLimits } from "../lib/gpu/memory_plan.ts";
import { planStepMemory } from "../lib/nn/step_memory.ts";
import { buildUNetPlan } from "../lib/nn/unet3d.ts";
import { type Triple, UNET_PRESETS, unetParams } from "../lib/nn/unet_config.ts";
import { convGflopPerStep, median, stepGpuBytes, stepRunner } from "./_train_step.ts";
import type { DiceLossOptions } from "../lib/loss/dice_options.ts";

/** One paper-bench configuration. */
interface PaperConfig {
  preset: "brats" | "acdc";
  batch: number;
}

const PATCH: Record<PaperConfig["preset"], Triple> = {
  brats: [48, 80, 80],
  acdc: [48, 192, 192],
};

const ALL: PaperConfig[] = [
  { preset: "brats", batch: 1 },
  { preset: "brats", batch: 2 },
  { preset: "brats", batch: 4 },
  { preset: "brats", batch: 8 },
  { preset: "acdc", batch: 2 },
];

/**
 * Parse `--only`: comma-separated `preset:B` items.
 *
 * @param only The option value, or undefined for every configuration.
 * @returns The configurations.
 * @throws {RangeError} For an unknown preset or a batch that is not a positive integer.
 */
export function parseOnly(only: string | undefined): PaperConfig[] {
  if (!only) return ALL;
  return only.split(",").map((item) => {
    const [preset, b] = item.trim().split(":");
    const batch = Number(b);
    if ((preset !== "brats" && preset !== "acdc") || !Number.isInteger(batch) || batch < 1) {
      throw new RangeError(`Invalid --only item "${item}": expected brats:B or acdc:B`);
    }
    return { preset, batch };
  });
}

/**
 * Random targets: each voxel foreground with probability 0.1. One map (sigmoid head), or a
 * one-hot map per class where a foreground voxel takes a class among 1 … K − 1 (softmax).
 */
function randomTargets(B: number, K: number, V: number, softmax: boolean, rng: Rng): Float32Array {
  const t = new Float32Array(B * K * V);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < V; i++) {
      const fg = rng.float() < 0.1;
      if (!softmax) t[b * V + i] = fg ? 1 : 0;
      else {
        const k = fg ? 1 + Math.floor(rng.float() * (K - 1)) : 0;
        t[(b * K + k) * V + i] = 1;
      }
    }
  }
  return t;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      dry: { type: "boolean" },
    },
  });
  const timed = Math.max(2, Number(values.steps ?? 2));
  const warmup = Number(values.warmup ?? 1);
  const configs = parseOnly(values.only);
  const gpu = await requestGpu();
  const rt = new GpuRuntime(gpu.device);
  for (const { preset, batch: B } of configs) {
    const cfg = UNET_PRESETS[preset];
    const patch = PATCH[preset];
    const softmax = cfg.head === "softmax";
    const diceOptions: DiceLossOptions = softmax
      ? { phi: "BI", epsilon: 1e-7, classes: [1, 2, 3] }
      : { phi: "BI", epsilon: 1e-7 };
    const sizing = { batch: B, patch, mode: "train", loss: diceOptions, telemetry: false } as const;
    const limits = runtimeLimits(rt);
    const staticBytes = planStepMemory(cfg, { ...sizing, memory: "static", limits }).peakBytes;
    if (values.dry) {
      const m = planStepMemory(cfg, { ...sizing, limits });
      console.log(JSON.stringify({
        bench: `paper-bench/${preset}`,
        B,
        dry_run: true,
        peak_gpu_bytes: m.peakBytes,
        static_gpu_bytes: staticBytes,
        store_bytes: m.storeBytes,
        dispatches: m.dispatches,
        gflop_per_step: Math.round(convGflopPerStep(cfg, B, patch) * 10) / 10,
        adapter: gpu.adapter.description,
        patch,
      }));
      continue;
    }
    const { params, state } = unetParams(cfg);
    const store = new ParamStore(rt, params, state);
    store.initialize(1);
    const pool = new BufferPool(gpu.device);
    const tBuild = performance.now();
    const plan = buildUNetPlan(rt, pool, store, cfg, {
      batch: B,
      patch,
      mode: "train",
      loss: diceOptions,
      adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
      telemetry: false,
    });
    const buildMs = performance.now() - tBuild;
    const V = patch[0] * patch[1] * patch[2];
    const rng = new Rng(42);
    const input = new Float32Array(B * cfg.inChannels * V);
    for (let i = 0; i < input.length; i++) input[i] = rng.float();
    rt.write(plan.input, input);
    rt.write(plan.target!, randomTargets(B, cfg.outChannels, V, softmax, rng));
    const { run } = stepRunner(plan);
    const tWarm = performance.now();
    for (let i = 0; i < warmup; i++) await run();
    const warmMs = performance.now() - tWarm;
    await rt.checkCompilation();
    const times: number[] = [];
    let loss = NaN;
    for (let i = 0; i < timed; i++) {
      const t = performance.now();
      loss = await run();
      times.push(performance.now() - t);
    }
    const med = median(times);
    const gflop = convGflopPerStep(cfg, B, patch);
    console.log(JSON.stringify({
      bench: `paper-bench/${preset}`,
      B,
      median_ms: Math.round(med),
      gflop_per_step: Math.round(gflop * 10) / 10,
      gflop_per_s: Math.round((gflop / (med / 1000)) * 10) / 10,
      peak_gpu_bytes: plan.memory.peakBytes,
      static_gpu_bytes: staticBytes,
      pool_gpu_bytes: stepGpuBytes(pool, store),
      dispatches: plan.plan.dispatches.length,
      adapter: gpu.adapter.description,
      patch,
      steps: timed,
      loss_after: Math.round(loss * 1e4) / 1e4,
      build_ms: Math.round(buildMs),
      warmup_ms: Math.round(warmMs),
    }));
    plan.dispose();
    pool.destroy();
    store.destroy();
  }
  gpu.device.destroy();
}
