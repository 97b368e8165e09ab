/**
 * `deno task bench:unet`: the nnn-bench training step of shared/bench/unet-bench.md (3-level
 * U-Net 8/16/32, instance norm, LeakyReLU, transposed convs, sigmoid, soft Dice Φ = I with
 * ε = 1e-7, Adam lr 1e-3) for B = 1, 2, 4. Warm-up 3 steps, then 10 timed steps; the loss is
 * read back to the host at the end of every step. Prints one JSON line per B:
 *
 * - `median_ms` / `steps_per_s`: each step submitted and its loss awaited before the next
 *   (the benchmark's definition);
 * - `pipelined_median_ms`: as the trainer runs, the next step submitted before the previous
 *   loss is awaited (the loss is still read back every step, one step later);
 * - `ratio_vs_tfjs_webgpu`: tfjs-webgpu's measured median on this machine / ours;
 * - `peak_gpu_bytes`: the buffer pool's bytes in use plus the parameter store (see
 *   `_train_step.ts`).
 *
 * Options: `--steps N` (timed steps, default 10), `--batch 1,2,4`, `--long N`: also run N
 * pipelined steps and report host RSS and buffer-pool growth between step 100 and step N
 * (buffers are bound once per plan; nothing may grow).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BufferPool } from "../lib/gpu/buffer_pool.ts";
import { requestGpu } from "../lib/gpu/device.ts";
import { GpuRuntime } from "../lib/gpu/runtime.ts";
import { Rng } from "../lib/core/rng.ts";
import { ParamStore } from "../lib/nn/param_store.ts";
import { buildUNetPlan } from "../lib/nn/unet3d.ts";
import { parameterCount, UNET_PRESETS, unetParams } from "../lib/nn/unet_config.ts";
import { median, stepGpuBytes } from "./_train_step.ts";

/** Reference medians (ms per step) on this machine, from the issue. */
const TFJS_WEBGPU: Record<number, number> = { 1: 5084, 2: 9686, 4: 16054 };
const PYTORCH_CPU: Record<number, number> = { 1: 236, 2: 97, 4: 184 };

/** A random ball mask of about 10 % of the volume, per sample. */
function ballMask(B: number, n: number, rng: Rng): Float32Array {
  const t = new Float32Array(B * n * n * n);
  const r = Math.cbrt((0.1 * n * n * n * 3) / (4 * Math.PI));
  for (let b = 0; b < B; b++) {
    const c = [rng.uniform(r, n - r), rng.uniform(r, n - r), rng.uniform(r, n - r)];
    for (let z = 0; z < n; z++) {
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          const d2 = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2;
          if (d2 <= r * r) t[b * n * n * n + (z * n + y) * n + x] = 1;
        }
      }
    }
  }
  return t;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { steps: { type: "string" }, batch: { type: "string" }, long: { type: "string" } },
  });
  const timed = Number(values.steps ?? 10);
  const batches = (values.batch ?? "1,2,4").split(",").map(Number);
  const gpu = await requestGpu();
  const rt = new GpuRuntime(gpu.device);
  const cfg = UNET_PRESETS["nnn-bench"];
  const n = 32;
  for (const B of batches) {
    const { params, state } = unetParams(cfg);
    const store = new ParamStore(rt, params, state);
    store.initialize(1);
    const pool = new BufferPool(gpu.device);
    const tBuild = performance.now();
    const plan = buildUNetPlan(rt, pool, store, cfg, {
      batch: B,
      patch: [n, n, n],
      mode: "train",
      loss: { phi: "I", epsilon: 1e-7 },
      adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
      telemetry: false,
    });
    const buildMs = performance.now() - tBuild;
    const rng = new Rng(42);
    const input = new Float32Array(B * n * n * n);
    for (let i = 0; i < input.length; i++) input[i] = rng.float();
    rt.write(plan.input, input);
    rt.write(plan.target!, ballMask(B, n, rng));
    let step = 0;
    const run = async () => {
      plan.adam!.setStep(++step, 1e-3);
      const [loss] = await plan.plan.run([plan.lossReadback!]);
      return loss[0];
    };
    const tWarm = performance.now();
    for (let i = 0; i < 3; i++) await run();
    const warmMs = performance.now() - tWarm;
    const times: number[] = [];
    let loss = NaN;
    for (let i = 0; i < timed; i++) {
      const t = performance.now();
      loss = await run();
      times.push(performance.now() - t);
    }
    // Pipelined: submit step s+1, then await step s's loss.
    const ptimes: number[] = [];
    let pending: Promise<Float32Array[]> | undefined;
    let prev = performance.now();
    for (let i = 0; i < timed + 1; i++) {
      plan.adam!.setStep(++step, 1e-3);
      const p = plan.plan.submit([plan.lossReadback!]);
      if (pending) {
        await pending;
        const now = performance.now();
        ptimes.push(now - prev);
        prev = now;
      }
      pending = p;
    }
    await pending;
    let memory: Record<string, number> | undefined;
    if (values.long) {
      const total = Number(values.long);
      let rss100 = 0, created100 = 0;
      let inflight: Promise<Float32Array[]> | undefined;
      for (let i = 0; i < total; i++) {
        plan.adam!.setStep(++step, 1e-3);
        const p = plan.plan.submit([plan.lossReadback!]);
        if (inflight) await inflight;
        inflight = p;
        if (i === 99) {
          rss100 = Deno.memoryUsage().rss;
          created100 = pool.stats.created;
        }
      }
      await inflight;
      memory = {
        long_steps: total,
        rss_mb_at_100: Math.round(rss100 / 2 ** 20),
        rss_mb_at_end: Math.round(Deno.memoryUsage().rss / 2 ** 20),
        pool_buffers_at_100: created100,
        pool_buffers_at_end: pool.stats.created,
      };
    }
    const med = median(times);
    const pmed = median(ptimes);
    console.log(JSON.stringify({
      B,
      median_ms: Math.round(med * 10) / 10,
      steps_per_s: Math.round((1000 / med) * 100) / 100,
      pipelined_median_ms: Math.round(pmed * 10) / 10,
      pipelined_steps_per_s: Math.round((1000 / pmed) * 100) / 100,
      params: parameterCount(cfg),
      adapter: gpu.adapter.description,
      loss_after: Math.round(loss * 1e4) / 1e4,
      gflop_per_step: Math.round(2.3 * B * 10) / 10,
      ratio_vs_tfjs_webgpu: Math.round((TFJS_WEBGPU[B] / med) * 10) / 10,
      ratio_vs_pytorch_cpu: Math.round((PYTORCH_CPU[B] / med) * 100) / 100,
      dispatches: plan.plan.dispatches.length,
      peak_gpu_bytes: stepGpuBytes(pool, store),
      build_ms: Math.round(buildMs),
      warmup_ms: Math.round(warmMs),
      ...memory,
    }));
    plan.dispose();
    pool.destroy();
    store.destroy();
  }
  gpu.device.destroy();
}
