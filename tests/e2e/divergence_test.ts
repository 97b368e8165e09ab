/**
 * NaN/Inf in the loss stops training with an error naming the step, the loss, the last finite
 * loss, the learning rate and the last good checkpoint.
 */

import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { resolveUNetConfig } from "../../lib/nn/unet_config.ts";
import type { PatchBatch, PatchStream } from "../../lib/train/patch_stream.ts";
import { Trainer, TrainingDivergedError } from "../../lib/train/trainer.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { Rng } from "../_helpers/random.ts";

/** A stand-in stream: random patches, NaN in the image from `poisonAt` on. */
function fakeStream(B: number, patch: [number, number, number], poisonAt: number): PatchStream {
  let step = 0;
  const V = patch[0] * patch[1] * patch[2];
  const stats = {
    batches: 0,
    waitMs: 0,
    elapsedMs: 1,
    waitFraction: 0,
    inFlight: 0,
    maxInFlight: 0,
    requested: 0,
  };
  return {
    seek(s: number) {
      step = s;
    },
    resetStats() {},
    get stats() {
      return stats;
    },
    close: () => Promise.resolve(),
    next(): Promise<PatchBatch> {
      const rng = new Rng(5, step);
      const image = new Float32Array(B * V).map(() => rng.normal());
      const target = new Float32Array(B * V).map(() => (rng.float() < 0.2 ? 1 : 0));
      if (step >= poisonAt) image[3] = NaN;
      const b = {
        step: step++,
        image,
        target,
        imageShape: [B, 1, ...patch],
        targetShape: [B, 1, ...patch],
      };
      return Promise.resolve(b as unknown as PatchBatch);
    },
  } as unknown as PatchStream;
}

gpuTest("a NaN loss stops training naming the step and the last good checkpoint", async (rt) => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab-nan-" });
  const pool = new BufferPool(rt.device);
  const patch: [number, number, number] = [4, 8, 8];
  const trainer = new Trainer({
    model: resolveUNetConfig("tiny", { filters: [4, 8] }),
    seed: 1,
    batchSize: 2,
    patch,
    loss: { phi: "I", epsilon: 1e-7 },
    optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
    schedule: { factor: 0.2, patience: 5, stopPatience: 10 },
    epochs: 10,
    samplesPerEpoch: 8,
    checkpointEvery: 5,
  }, { rt, pool, stream: fakeStream(2, patch, 7), dir, log: () => {} });
  try {
    await assert.rejects(() => trainer.run(), (err: unknown) => {
      assert.ok(err instanceof TrainingDivergedError);
      assert.equal(err.step, 7);
      assert.equal(err.checkpoint, `${dir}/checkpoint.ckpt`);
      assert.match(
        err.message,
        /Training diverged at step 7: the loss is not finite \(loss NaN, last finite loss [\d.]+, lr 0\.001\); last good checkpoint: .*checkpoint\.ckpt/,
      );
      return true;
    });
  } finally {
    trainer.destroy();
    pool.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
