/**
 * `training.evaluateWeights: "best"` evaluates the weights of the epoch with the lowest
 * validation loss: the same weights, bit for bit, as a run of the same seed stopped right after
 * that epoch, and the same evaluation rows.
 */

import assert from "node:assert/strict";
import { loadCheckpoint } from "../../lib/nn/checkpoint.ts";
import { runPipeline } from "../../lib/pipeline/run.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { assertSameTensors, tinyVariant } from "../_helpers/tiny_variant.ts";

const JOB = "f0-partial-BI-b2";

function pipeline(epochs: number, evaluateWeights: "final" | "best") {
  return tinyVariant("best-weights-test", {
    epochs,
    evaluateWeights,
    lr: 0.1,
    schedule: { patience: 3, stopPatience: 5 },
  });
}

async function job(out: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(`${out}/jobs/${JOB}/result.json`));
}

gpuTest("evaluateWeights best evaluates the lowest-validation-loss epoch's weights", async () => {
  const root = await Deno.makeTempDir({ prefix: "dicelab-best-" });
  const run = (p: ReturnType<typeof pipeline>, out: string) =>
    runPipeline({
      pipeline: p,
      source: "best_weights_test",
      out,
      quick: true,
      cacheDir: ".cache/phantoms",
      log: () => {},
    });
  try {
    await run(pipeline(20, "best"), `${root}/a`);
    const a = await job(`${root}/a`);
    const epochs = (await Deno.readTextFile(`${root}/a/jobs/${JOB}/epochs.jsonl`)).trim()
      .split("\n").map((l) => JSON.parse(l));
    // The best epoch: the last one the schedule counted as an improvement.
    const best = epochs.filter((e) => e.improved).at(-1).epoch as number;
    const training = a.training as { evaluated: { kind: string; epoch: number }; epochs: number };
    assert.deepEqual(training.evaluated, { kind: "best", epoch: best });
    assert.ok(
      best < training.epochs - 1,
      `the test needs a best epoch (${best}) before the last (${training.epochs - 1})`,
    );
    const bestCkpt = await loadCheckpoint(`${root}/a/jobs/${JOB}/best.ckpt`);
    assert.equal(bestCkpt.meta.epoch, best);

    // The same seed stopped after the best epoch ends with exactly those weights.
    await run(pipeline(best + 1, "final"), `${root}/b`);
    const b = await job(`${root}/b`);
    assert.deepEqual((b.training as { evaluated: unknown }).evaluated, { kind: "final" });
    const finalB = await loadCheckpoint(`${root}/b/jobs/${JOB}/weights.ckpt`);
    assertSameTensors(bestCkpt.tensors, finalB.tensors, "best vs stopped run");
    assert.deepEqual(a.rows, b.rows);
    // …while the final weights of run a differ from the best ones.
    const finalA = await loadCheckpoint(`${root}/a/jobs/${JOB}/weights.ckpt`);
    assert.ok(
      finalA.tensors.some((t, i) => t.data.some((x, k) => x !== bestCkpt.tensors[i].data[k])),
      "final and best weights are the same: the test would not tell them apart",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
