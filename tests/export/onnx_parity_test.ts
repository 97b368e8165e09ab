/**
 * The exported ONNX model against dicelab's GPU forward pass: onnxruntime-web runs the bytes of
 * `unetToOnnx` on phantom patches (and random multi-channel input), and the probabilities agree
 * with `buildUNetPlan`'s inference plan within 1e-4, for every kind of block the configuration
 * offers: instance/batch norm, LeakyReLU/PReLU, nearest/transposed upsampling, pre/post order,
 * sigmoid/softmax, anisotropic kernels and 1×2×2 pools.
 */

import assert from "node:assert/strict";
import { unetToOnnx } from "../../lib/export/mod.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import {
  resolveUNetConfig,
  type Triple,
  UNET_PRESETS,
  type UNetConfig,
} from "../../lib/nn/unet_config.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { runOnnx } from "./_onnxruntime.ts";
import { gpuForward, maxAbsDiff, phantomPatches, randomUNetTensors } from "./_unet_fixtures.ts";

const TOLERANCE = 1e-4;

async function parity(
  rt: GpuRuntime,
  cfg: UNetConfig,
  seed: number,
  cases: readonly { batch: number; patch: Triple; input: "phantom" | "random" }[],
): Promise<number[]> {
  const tensors = randomUNetTensors(cfg, seed);
  const model = unetToOnnx(cfg, tensors);
  const diffs: number[] = [];
  for (const { batch, patch, input: kind } of cases) {
    const input = kind === "phantom"
      ? phantomPatches(patch, batch)
      : randomF32([batch, cfg.inChannels, ...patch], new Rng(seed, 5), -2, 2);
    const expected = await gpuForward(rt, cfg, tensors, input, batch, patch);
    const onnx = await runOnnx(model, input, [batch, cfg.inChannels, ...patch]);
    assert.deepEqual(onnx.dims, [batch, cfg.outChannels, ...patch]);
    // A sanity check that the probabilities are not constant (a broken weight set could hide
    // a wrong graph behind saturated outputs).
    let lo = Infinity, hi = -Infinity;
    for (const v of expected) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    assert.ok(hi - lo > 0.05, `probabilities span only [${lo}, ${hi}]`);
    const d = maxAbsDiff(onnx.data, expected);
    console.log(
      `N=${batch} patch ${JSON.stringify(patch)} (${kind}): max |Δp| ${d.toExponential(2)}`,
    );
    assert.ok(d <= TOLERANCE, `max |Δp| ${d} > ${TOLERANCE} for patch ${patch}`);
    diffs.push(d);
  }
  return diffs;
}

gpuTest(
  "unetToOnnx() of the tiny preset (instance norm, LeakyReLU, nearest, sigmoid) matches the GPU forward",
  async (rt) => {
    await parity(rt, UNET_PRESETS.tiny, 21, [
      { batch: 2, patch: [8, 16, 16], input: "phantom" },
      // Another spatial size through the same model: D, H, W are dynamic.
      { batch: 1, patch: [4, 8, 12], input: "random" },
    ]);
  },
);

gpuTest(
  "unetToOnnx() of an acdc-style U-Net (batch norm, PReLU, softmax, 1×3×3 kernels, 1×2×2 pool) matches the GPU forward",
  async (rt) => {
    const cfg = resolveUNetConfig("acdc", { filters: [5, 7, 9] });
    assert.deepEqual(cfg.pools[0], [1, 2, 2]);
    assert.deepEqual(cfg.kernels[0][1], [1, 3, 3]);
    await parity(rt, cfg, 22, [{ batch: 2, patch: [8, 16, 16], input: "phantom" }]);
  },
);

gpuTest(
  "unetToOnnx() of a post-order U-Net with transposed-conv upsampling (3 inputs, 2 sigmoid maps) matches the GPU forward",
  async (rt) => {
    const cfg = resolveUNetConfig("nnn-bench", {
      inChannels: 3,
      outChannels: 2,
      filters: [5, 9, 11],
    });
    assert.equal(cfg.upsampling, "transposed");
    assert.equal(cfg.order, "post");
    await parity(rt, cfg, 23, [{ batch: 1, patch: [8, 16, 16], input: "random" }]);
  },
);

gpuTest(
  "unetToOnnx() of a post-order batch-norm PReLU softmax U-Net with 3×1×5 kernels and transposed upsampling matches the GPU forward",
  async (rt) => {
    const cfg = resolveUNetConfig("nnn-bench", {
      inChannels: 1,
      outChannels: 3,
      filters: [6, 7, 9],
      kernels: [[[3, 3, 3], [3, 1, 5]], [[1, 3, 3]], [[3, 3, 3]]],
      norm: "batch",
      activation: { kind: "prelu", init: 0.25 },
      head: "softmax",
    });
    await parity(rt, cfg, 24, [{ batch: 2, patch: [8, 16, 16], input: "phantom" }]);
  },
);
