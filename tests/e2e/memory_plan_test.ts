/**
 * The liveness-planned training step (issue 17): bit-identical to the unplanned one (every
 * scratch its own buffer) over two steps, with pools that poison every buffer they hand out,
 * on small odd-sized networks and with a lowered binding limit (the chunked paths); the plan
 * really reuses memory; and the dry-run sizing equals the allocated plan's peak.
 */

import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { runtimeLimits } from "../../lib/gpu/memory_plan.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import type { DiceLossOptions } from "../../lib/loss/dice_options.ts";
import { ParamStore } from "../../lib/nn/param_store.ts";
import { planStepMemory } from "../../lib/nn/step_memory.ts";
import { buildUNetPlan, type StepMemory } from "../../lib/nn/unet3d.ts";
import {
  resolveUNetConfig,
  type Triple,
  UNET_PRESETS,
  type UNetConfig,
  unetParams,
} from "../../lib/nn/unet_config.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";

interface _Case {
  name: string;
  cfg: UNetConfig;
  B: number;
  patch: Triple;
  loss: DiceLossOptions;
  bindingLimit?: number;
}

/** A No New-Net-like net (instance norm, pre-activation, sigmoid) with odd channel counts. */
const NNN = resolveUNetConfig("tiny", {
  filters: [5, 7, 9],
  inChannels: 3,
});

/** The ACDC preset's structure (batch norm, PReLU, softmax, anisotropic pools), narrow. */
const ACDC = resolveUNetConfig("acdc", { filters: [5, 7, 9] });
const ACDC_PATCH: Triple = [4, 12, 20];

const CASES: _Case[] = [
  { name: "tiny-like B=2", cfg: NNN, B: 2, patch: [4, 12, 20], loss: { phi: "BI", epsilon: 1e-7 } },
  {
    name: "acdc-like B=2, binding limit 64 KiB",
    cfg: ACDC,
    B: 2,
    patch: ACDC_PATCH,
    loss: { phi: "BI", epsilon: 1e-7, classes: [1, 2, 3] },
    bindingLimit: 65536,
  },
  {
    name: "nnn-bench-like B=1 (post-activation, transposed conv)",
    cfg: resolveUNetConfig("nnn-bench", { filters: [5, 7, 9] }),
    B: 1,
    patch: [8, 12, 20],
    loss: { phi: "I", epsilon: 1e-5 },
  },
];

interface _Run {
  losses: number[];
  params: Float32Array;
  state: Float32Array;
  telemetry: Float32Array;
  memory: StepMemory;
}

async function twoSteps(rt: GpuRuntime, c: _Case, memory: "liveness" | "static"): Promise<_Run> {
  const rng = new Rng(7);
  const { params, state } = unetParams(c.cfg);
  const store = new ParamStore(rt, params, state);
  store.initialize(3);
  const pool = new BufferPool(rt.device, { poison: true });
  const plan = buildUNetPlan(rt, pool, store, c.cfg, {
    batch: c.B,
    patch: c.patch,
    mode: "train",
    loss: c.loss,
    telemetry: true,
    bindingLimit: c.bindingLimit,
    memory,
  });
  const V = c.patch[0] * c.patch[1] * c.patch[2];
  const K = c.cfg.outChannels;
  const losses: number[] = [];
  let telemetry: Float32Array = new Float32Array(0);
  for (let step = 1; step <= 2; step++) {
    rt.write(plan.input, randomF32([c.B * c.cfg.inChannels * V], rng, 0, 1));
    const target = new Float32Array(c.B * K * V);
    for (let b = 0; b < c.B; b++) {
      for (let i = 0; i < V; i++) {
        const k = K === 1 ? 0 : Math.floor(rng.float() * K);
        if (K > 1 || rng.float() < 0.3) target[(b * K + k) * V + i] = 1;
      }
    }
    rt.write(plan.target!, target);
    plan.adam!.setStep(step, 1e-2);
    const [loss, tel] = await plan.plan.run([plan.lossReadback!, plan.telemetryReadback!]);
    losses.push(loss[0]);
    telemetry = tel;
  }
  await rt.checkCompilation();
  const out = {
    losses,
    params: await rt.read(store.params),
    state: await rt.read(store.state),
    telemetry,
    memory: plan.memory,
  };
  plan.dispose();
  pool.destroy();
  store.destroy();
  return out;
}

function assertBitEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) assert.fail(`${what}: element ${i} is ${a[i]} planned, ${b[i]} unplanned`);
  }
}

for (const c of CASES) {
  gpuTest(
    `a liveness-planned step equals the unplanned one bit for bit (${c.name})`,
    async (rt) => {
      const planned = await twoSteps(rt, c, "liveness");
      const unplanned = await twoSteps(rt, c, "static");
      for (const l of planned.losses) assert.ok(Number.isFinite(l) && l > 0, `loss ${l}`);
      assertBitEqual(
        Float32Array.from(planned.losses),
        Float32Array.from(unplanned.losses),
        "loss",
      );
      assertBitEqual(planned.params, unplanned.params, "parameters after 2 steps");
      assertBitEqual(planned.state, unplanned.state, "normalisation state after 2 steps");
      assertBitEqual(planned.telemetry, unplanned.telemetry, "telemetry");
      // Liveness reuse lowers the peak: less than 70 % of the unplanned scratch here.
      const m = planned.memory;
      assert.ok(
        m.scratchBytes < 0.7 * unplanned.memory.scratchBytes,
        `planned scratch ${m.scratchBytes} vs unplanned ${unplanned.memory.scratchBytes}`,
      );
      assert.ok(m.scratchBytes < m.unplannedScratchBytes);
      assert.equal(m.peakBytes, m.storeBytes + m.scratchBytes);
      assert.equal(m.storeBytes, unplanned.memory.storeBytes);
    },
  );

  gpuTest(`planStepMemory equals the allocated plan's peak (${c.name})`, (rt) => {
    for (const memory of ["liveness", "static"] as const) {
      for (const mode of ["train", "infer"] as const) {
        const { params, state } = unetParams(c.cfg);
        const store = new ParamStore(rt, params, state);
        const pool = new BufferPool(rt.device);
        const options = {
          batch: c.B,
          patch: c.patch,
          mode,
          loss: c.loss,
          bindingLimit: c.bindingLimit,
          memory,
        };
        const plan = buildUNetPlan(rt, pool, store, c.cfg, options);
        const dry = planStepMemory(c.cfg, { ...options, limits: runtimeLimits(rt) });
        assert.deepEqual(dry, plan.memory, `${memory} ${mode}`);
        // The allocated bytes are what the plan reports.
        assert.equal(pool.stats.bytesInUse, plan.memory.scratchBytes, `${memory} ${mode}`);
        plan.dispose();
        pool.destroy();
        store.destroy();
      }
    }
  });
}

gpuTest("planStepMemory sizes the paper's BRATS network at B=8 without allocating it", () => {
  const m = planStepMemory(UNET_PRESETS.brats, {
    batch: 8,
    patch: [48, 80, 80],
    mode: "train",
    loss: { phi: "BI", epsilon: 1e-7 },
    telemetry: false,
    limits: { maxStorageBufferBindingSize: 134217728, isFallbackAdapter: true },
  });
  // 20,691,751 parameters × 4 buffers (params, grads, m, v) + decay mask, in 256-byte slots.
  assert.ok(m.storeBytes > 5 * 4 * 20_691_751 && m.storeBytes < 5 * 4 * 20_800_000);
  assert.ok(m.peakBytes < 8e9, `peak ${m.peakBytes}`);
  assert.ok(m.scratchBytes < 0.6 * m.unplannedScratchBytes);
});
