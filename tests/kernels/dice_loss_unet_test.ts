/**
 * The Dice loss's voxel mask, squared denominator and label sets in a U-Net training step:
 * `buildUNetPlan` passes them to the Dice op, `UNetPlan.dice.setMask` / `setLabelSets`
 * replace them per batch, and the whole step (loss and every parameter gradient) matches the
 * float64 reference step `unetReferenceStep` with the same `diceLoss` options.
 *
 * Tolerances as in tests/e2e/unet_gradients_test.ts (float32 through a deep network): loss
 * within 1e-4; gradients rtol 1e-3 plus 2e-4 of the tensor's largest entry plus 1e-5 of the
 * network's largest gradient.
 */

import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import type { DiceLossOptions } from "../../lib/loss/dice_options.ts";
import { ParamStore } from "../../lib/nn/param_store.ts";
import { buildUNetPlan } from "../../lib/nn/unet3d.ts";
import { unetReferenceStep } from "../../lib/nn/unet3d_ref.ts";
import { resolveUNetConfig, type Triple, unetParams } from "../../lib/nn/unet_config.ts";
import { closeRatio } from "../_helpers/assert_close.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";

interface Batch {
  input: Float32Array;
  target: Float32Array;
  mask: Uint8Array;
  labelSetIndex: Uint8Array;
}

/**
 * A one-hot softmax target of K classes (class k + 1 a ball per k), a voxel mask ignoring a
 * slab and random voxels, and label set 1 = {0, 2} on a third of the voxels labelled 0 or 2
 * (their target rows zeroed, as a labeling that removed those labels would write).
 */
function batchOf(B: number, Cin: number, K: number, patch: Triple, rng: Rng): Batch {
  const [D, H, W] = patch;
  const V = D * H * W;
  const target = new Float32Array(B * K * V);
  const mask = new Uint8Array(B * V);
  const labelSetIndex = new Uint8Array(B * V);
  for (let b = 0; b < B; b++) {
    const labels = new Uint8Array(V);
    for (let k = 1; k < K; k++) {
      const c = [rng.uniform(0.3, 0.7) * D, rng.uniform(0.3, 0.7) * H, rng.uniform(0.3, 0.7) * W];
      const r = 0.35 * Math.cbrt(V) * rng.uniform(0.8, 1.1);
      for (let z = 0; z < D; z++) {
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const d2 = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2;
            if (d2 < r * r) labels[(z * H + y) * W + x] = k;
          }
        }
      }
    }
    for (let i = 0; i < V; i++) {
      const y = Math.floor(i / W) % H;
      mask[b * V + i] = y < 3 + b || rng.float() < 0.15 ? 0 : 1;
      if ((labels[i] === 0 || labels[i] === 2) && rng.float() < 0.33) {
        labelSetIndex[b * V + i] = 1;
      } else {
        target[(b * K + labels[i]) * V + i] = 1;
      }
    }
  }
  return { input: randomF32([B * Cin * V], rng, 0, 1), target, mask, labelSetIndex };
}

gpuTest(
  "a U-Net training step with a voxel mask, squared denominator and label sets matches the reference, batch after batch",
  async (rt) => {
    const cfg = resolveUNetConfig("acdc", { filters: [5, 7, 9] });
    const B = 2;
    const patch: Triple = [4, 12, 20];
    const K = cfg.outChannels;
    const labelSets = [[0, 2]];
    const configs: DiceLossOptions[] = [
      { phi: "BI", epsilon: 0.5, classes: [1, 2, 3], squaredDenominator: true },
      { phi: "I", epsilon: 0.5, variant: "labelSetMarginal", labelSets },
      { phi: "CI", epsilon: 0.5, variant: "leaf", labelSets, squaredDenominator: true },
    ];
    for (const [ci, loss] of configs.entries()) {
      const rng = new Rng(40 + ci);
      const batches = [0, 1].map(() => batchOf(B, cfg.inChannels, K, patch, rng));
      const sets = loss.labelSets ? { labelSetIndex: batches[0].labelSetIndex } : {};
      const { params, state } = unetParams(cfg);
      const store = new ParamStore(rt, params, state);
      store.initialize(7);
      const pool = new BufferPool(rt.device);
      const plan = buildUNetPlan(rt, pool, store, cfg, {
        batch: B,
        patch,
        mode: "train",
        loss: { ...loss, mask: batches[0].mask, ...sets },
        telemetry: true,
      });
      for (const [s, batch] of batches.entries()) {
        // Per batch: targets, and the mask and label-set index through the Dice op's setters.
        rt.write(plan.input, batch.input);
        rt.write(plan.target!, batch.target);
        plan.dice!.setMask(batch.mask);
        if (loss.labelSets) plan.dice!.setLabelSets(batch.labelSetIndex);
        plan.adam!.setStep(s + 1, 1e-3);
        const values = await store.download("params");
        const [lossGpu] = await plan.plan.run([plan.lossReadback!]);
        const grads = await store.download("grads");
        const options: DiceLossOptions = {
          ...loss,
          mask: batch.mask,
          ...(loss.labelSets ? { labelSetIndex: batch.labelSetIndex } : {}),
        };
        const ref = unetReferenceStep(
          cfg,
          new Map(values.map((t) => [t.name, Float64Array.from(t.data)])),
          Float64Array.from(batch.input),
          Float64Array.from(batch.target),
          B,
          patch,
          options,
        );
        const label = `${JSON.stringify(loss)} step ${s}`;
        assert.ok(
          Math.abs(lossGpu[0] - ref.loss) < 1e-4,
          `${label}: loss ${lossGpu[0]} vs ${ref.loss}`,
        );
        // The mask matters: the same step without it is a different loss.
        const unmasked = unetReferenceStep(
          cfg,
          new Map(values.map((t) => [t.name, Float64Array.from(t.data)])),
          Float64Array.from(batch.input),
          Float64Array.from(batch.target),
          B,
          patch,
          { ...options, mask: undefined },
        );
        const gpuErr = Math.abs(lossGpu[0] - ref.loss);
        assert.ok(
          Math.abs(unmasked.loss - ref.loss) > 10 * gpuErr,
          `${label}: the unmasked loss ${unmasked.loss} is as close as the GPU's ${
            lossGpu[0]
          } to ${ref.loss}`,
        );
        let globalMax = 0;
        for (const e of ref.grads.values()) {
          for (const v of e) globalMax = Math.max(globalMax, Math.abs(v));
        }
        for (const g of grads) {
          const e = ref.grads.get(g.name)!;
          let max = 0;
          for (const v of e) max = Math.max(max, Math.abs(v));
          const r = closeRatio(g.data, e, { rtol: 1e-3, atol: 2e-4 * max + 1e-5 * globalMax });
          assert.ok(r <= 1, `${label}: gradient ${g.name} at ${r.toFixed(2)} of its tolerance`);
        }
      }
      await rt.checkCompilation();
      plan.dispose();
      pool.destroy();
      store.destroy();
    }
  },
);
