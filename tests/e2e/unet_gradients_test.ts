/**
 * The whole U-Net training step on the GPU (forward, Dice loss, backward) against the float64
 * CPU reference of the same network: the loss and every parameter gradient.
 */

import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { ParamStore } from "../../lib/nn/param_store.ts";
import { buildUNetPlan } from "../../lib/nn/unet3d.ts";
import { unetReferenceStep } from "../../lib/nn/unet3d_ref.ts";
import {
  resolveUNetConfig,
  type Triple,
  UNET_PRESETS,
  type UNetConfig,
  unetParams,
} from "../../lib/nn/unet_config.ts";
import type { DiceLossOptions } from "../../lib/loss/dice_options.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { closeRatio } from "../_helpers/assert_close.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";

/** A ball-shaped binary target per map (about 10 % foreground), like unet-bench.md. */
function ballTarget(B: number, K: number, patch: Triple, rng: Rng, softmax: boolean): Float32Array {
  const [D, H, W] = patch;
  const V = D * H * W;
  const t = new Float32Array(B * K * V);
  for (let b = 0; b < B; b++) {
    const labels = new Uint8Array(V);
    const fg = softmax ? K - 1 : K;
    for (let k = 0; k < fg; k++) {
      const c = [rng.uniform(0.3, 0.7) * D, rng.uniform(0.3, 0.7) * H, rng.uniform(0.3, 0.7) * W];
      const r = 0.28 * Math.cbrt(V) * rng.uniform(0.8, 1.1);
      for (let z = 0; z < D; z++) {
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const d2 = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2;
            if (d2 < r * r) labels[(z * H + y) * W + x] = k + 1;
          }
        }
      }
    }
    for (let i = 0; i < V; i++) {
      if (softmax) t[(b * K + labels[i]) * V + i] = 1;
      else for (let k = 0; k < K; k++) t[(b * K + k) * V + i] = labels[i] === k + 1 ? 1 : 0;
    }
  }
  return t;
}

async function compare(
  rt: GpuRuntime,
  cfg: UNetConfig,
  B: number,
  patch: Triple,
  loss: DiceLossOptions,
  seed: number,
  bindingLimit?: number,
): Promise<{
  lossErr: number;
  worst: number;
  worstName: string;
  globalMax: number;
  loss: number;
  grads: Map<string, Float32Array>;
  dispatches: number;
  /** Dispatches per kernel name. */
  kernels: Map<string, number>;
}> {
  const rng = new Rng(seed);
  const { params, state } = unetParams(cfg);
  const store = new ParamStore(rt, params, state);
  store.initialize(seed);
  const pool = new BufferPool(rt.device);
  const plan = buildUNetPlan(rt, pool, store, cfg, {
    batch: B,
    patch,
    mode: "train",
    loss,
    telemetry: true,
    bindingLimit,
  });
  const V = patch[0] * patch[1] * patch[2];
  const input = randomF32([B * cfg.inChannels * V], rng, 0, 1);
  const target = ballTarget(B, cfg.outChannels, patch, rng, cfg.head === "softmax");
  rt.write(plan.input, input);
  rt.write(plan.target!, target);
  plan.adam!.setStep(1, 1e-3);
  // The step ends with Adam: read the parameters the step started from.
  const values = await store.download("params");
  const [lossGpu] = await plan.plan.run([plan.lossReadback!]);
  await rt.checkCompilation();
  const grads = await store.download("grads");
  const ref = unetReferenceStep(
    cfg,
    new Map(values.map((t) => [t.name, Float64Array.from(t.data)])),
    Float64Array.from(input),
    Float64Array.from(target),
    B,
    patch,
    loss,
  );
  let worst = 0;
  let worstName = "";
  let globalMax = 0;
  for (const e of ref.grads.values()) {
    for (const v of e) globalMax = Math.max(globalMax, Math.abs(v));
  }
  for (const g of grads) {
    const e = ref.grads.get(g.name);
    assert.ok(e, `reference has no gradient for ${g.name}`);
    let max = 0;
    for (const v of e) max = Math.max(max, Math.abs(v));
    // float32 through a deep network: 1e-3 relative, plus 2e-4 of the tensor's largest entry
    // for entries that are sums of many cancelling terms, plus 1e-5 of the network's largest
    // gradient for tensors whose exact gradient vanishes (a conv bias right before a
    // normalisation: its gradient is 0 in exact arithmetic, float32 rounding elsewhere).
    const r = closeRatio(g.data, e, { rtol: 1e-3, atol: 2e-4 * max + 1e-5 * globalMax });
    if (r > worst) {
      worst = r;
      worstName = g.name;
    }
  }
  const dispatches = plan.plan.dispatches.length;
  const kernels = new Map<string, number>();
  for (const d of plan.plan.dispatches) kernels.set(d.name, (kernels.get(d.name) ?? 0) + 1);
  plan.dispose();
  pool.destroy();
  store.destroy();
  return {
    lossErr: Math.abs(lossGpu[0] - ref.loss),
    worst,
    worstName,
    globalMax,
    loss: lossGpu[0],
    grads: new Map(grads.map((g) => [g.name, g.data])),
    dispatches,
    kernels,
  };
}

gpuTest(
  "nnn-bench forward+backward on the GPU matches the float64 reference (B=1, 32³)",
  async (rt) => {
    const cfg = UNET_PRESETS["nnn-bench"];
    const r = await compare(rt, cfg, 1, [32, 32, 32], { phi: "I", epsilon: 1e-7 }, 11);
    assert.ok(r.lossErr < 1e-4, `loss error ${r.lossErr}`);
    assert.ok(r.worst <= 1, `worst gradient ${r.worstName}: ${r.worst}`);
    console.log(
      `loss error ${r.lossErr.toExponential(2)}, worst gradient/tolerance ${
        r.worst.toFixed(3)
      } (${r.worstName})`,
    );
  },
);

gpuTest(
  "a pre-activation U-Net with batch norm, PReLU, softmax and 2×2×1 pooling matches the reference",
  async (rt) => {
    const cfg = resolveUNetConfig("acdc", { filters: [5, 7, 9] });
    const r = await compare(rt, cfg, 2, [4, 12, 20], {
      phi: "BI",
      epsilon: 0.5,
      classes: [1, 2, 3],
    }, 12);
    assert.ok(r.lossErr < 1e-4, `loss error ${r.lossErr}`);
    assert.ok(r.worst <= 1, `worst gradient ${r.worstName}: ${r.worst}`);
    console.log(
      `loss error ${r.lossErr.toExponential(2)}, worst gradient/tolerance ${
        r.worst.toFixed(3)
      } (${r.worstName})`,
    );
  },
);

gpuTest(
  "a No New-Net style U-Net (instance norm, nearest upsampling, 4 inputs) matches the reference",
  async (rt) => {
    const cfg = resolveUNetConfig("brats", { filters: [6, 10, 14] });
    const r = await compare(rt, cfg, 2, [8, 12, 16], { phi: "I", epsilon: 20 }, 13);
    assert.ok(r.lossErr < 1e-4, `loss error ${r.lossErr}`);
    assert.ok(r.worst <= 1, `worst gradient ${r.worstName}: ${r.worst}`);
    console.log(
      `loss error ${r.lossErr.toExponential(2)}, worst gradient/tolerance ${
        r.worst.toFixed(3)
      } (${r.worstName})`,
    );
  },
);

/**
 * The same training steps with every binding limited to 64 KiB, so the concatenations,
 * activations and parameter buffers of these small networks exceed a binding and every op
 * takes its chunked path (row chunks, conv depth slabs, Adam ranges). Besides the float64
 * reference (same tolerance as above), the chunked step is compared with the unchunked one:
 * the loss within 1e-6 and every gradient within rtol 1e-4 plus 1e-5 of the tensor's largest
 * entry plus 1e-6 of the network's largest gradient (for the conv biases right before a
 * normalisation, whose exact gradient is 0 and whose float32 value is rounding noise).
 * They are not bit-identical because the conv weight gradients sum their partial records over
 * other row chunks (see `conv3dBackwardWeight`), and that difference propagates through the
 * later layers' gradients (the transposed conv's weight gradient likewise); every other op
 * computes the same sums in the same order. `chunkedKernels` names kernels (by prefix) that
 * the limit must make run more often, i.e. ops that must take their chunked paths.
 */
async function compareChunked(
  rt: GpuRuntime,
  cfg: UNetConfig,
  B: number,
  patch: Triple,
  loss: DiceLossOptions,
  seed: number,
  chunkedKernels: readonly string[] = [],
): Promise<void> {
  const whole = await compare(rt, cfg, B, patch, loss, seed);
  const chunked = await compare(rt, cfg, B, patch, loss, seed, 64 * 1024);
  assert.ok(chunked.dispatches > whole.dispatches, "the 64 KiB limit made no chunks");
  const count = (m: Map<string, number>, prefix: string) =>
    [...m].reduce((t, [name, n]) => t + (name.startsWith(prefix) ? n : 0), 0);
  for (const prefix of chunkedKernels) {
    const [a, b] = [count(whole.kernels, prefix), count(chunked.kernels, prefix)];
    assert.ok(a > 0 && b > a, `${prefix}: ${b} dispatches chunked, ${a} unchunked`);
  }
  assert.ok(chunked.lossErr < 1e-4, `chunked loss error ${chunked.lossErr}`);
  assert.ok(chunked.worst <= 1, `chunked worst gradient ${chunked.worstName}: ${chunked.worst}`);
  assert.ok(Math.abs(chunked.loss - whole.loss) <= 1e-6, "chunked loss differs");
  let globalMax = 0;
  for (const g of whole.grads.values()) {
    for (const v of g) globalMax = Math.max(globalMax, Math.abs(v));
  }
  const worst = { ratio: 0 };
  let upDiff = -1; // over the transposed-conv parameters (`up<l>.*`); −1: none
  for (const [name, g] of whole.grads) {
    let max = 0;
    for (const v of g) max = Math.max(max, Math.abs(v));
    const atol = 1e-5 * max + 1e-6 * globalMax;
    const c = chunked.grads.get(name)!;
    const r = closeRatio(c, g, { rtol: 1e-4, atol });
    assert.ok(r <= 1, `chunked gradient ${name} differs from the unchunked one: ${r}`);
    if (r > worst.ratio) worst.ratio = r;
    if (name.startsWith("up")) {
      for (let i = 0; i < g.length; i++) upDiff = Math.max(upDiff, Math.abs(c[i] - g[i]));
    }
  }
  console.log(
    `loss |chunked − unchunked| ${Math.abs(chunked.loss - whole.loss).toExponential(2)}, ` +
      `worst gradient difference/tolerance ${worst.ratio.toFixed(3)}, chunked vs reference ` +
      `${chunked.worst.toFixed(3)} (${chunked.worstName})` +
      (upDiff < 0
        ? ""
        : `, transposed-conv gradients max |chunked − unchunked| ${upDiff.toExponential(2)}`),
  );
}

gpuTest(
  "the acdc-style U-Net step under a 64 KiB binding limit matches the unchunked step",
  async (rt) => {
    const cfg = resolveUNetConfig("acdc", { filters: [5, 7, 9] });
    await compareChunked(rt, cfg, 2, [4, 12, 20], {
      phi: "BI",
      epsilon: 0.5,
      classes: [1, 2, 3],
    }, 12);
  },
);

gpuTest(
  "the brats-style U-Net step under a 64 KiB binding limit matches the unchunked step",
  async (rt) => {
    const cfg = resolveUNetConfig("brats", { filters: [6, 10, 14] });
    await compareChunked(rt, cfg, 2, [8, 12, 16], { phi: "I", epsilon: 20 }, 13);
  },
);

gpuTest(
  "the nnn-bench-style U-Net step (transposed-conv upsampling) under a 64 KiB binding limit matches the unchunked step",
  async (rt) => {
    // The level-0 transposed conv writes and reads a slice of a [2, 10, 8, 12, 16]
    // concatenation (92 KiB of span): forward, input and weight gradient run chunked.
    const cfg = resolveUNetConfig("nnn-bench", { filters: [5, 7, 9] });
    await compareChunked(rt, cfg, 2, [8, 12, 16], { phi: "I", epsilon: 1e-7 }, 14, [
      "convTranspose3dForward",
      "convTranspose3dBackwardInput",
      "convTranspose3dWeightGrad",
    ]);
  },
);
