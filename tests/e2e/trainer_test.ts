/**
 * The trainer learns: a small U-Net trained a few hundred steps on a tiny BRATS-like phantom
 * (full labels, Φ = I) segments the tumour on held-out cases.
 */

import assert from "node:assert/strict";
import { validatePipeline } from "../../lib/pipeline/define_pipeline.ts";
import { runPipeline } from "../../lib/pipeline/run.ts";
import pipeline from "./_trainer_pipeline.ts";
import { gpuTest } from "../_helpers/gpu.ts";

gpuTest(
  "a tiny U-Net trained ~300 steps segments held-out phantom tumours (DSC > 0.6)",
  async () => {
    const p = validatePipeline(pipeline, "tests/e2e/_trainer_pipeline.ts");
    const out = await Deno.makeTempDir({ prefix: "dicelab-trainer-" });
    try {
      await runPipeline({
        pipeline: p,
        source: "trainer",
        out,
        folds: 1,
        cacheDir: ".cache/phantoms",
        log: () => {},
      });
      const job = JSON.parse(await Deno.readTextFile(`${out}/jobs/f0-full-I-b2/result.json`));
      assert.ok(job.training.steps >= 250, `steps ${job.training.steps}`);
      const dsc = job.rows.map((r: { dsc: number | null }) => r.dsc ?? 0);
      const mean = dsc.reduce((a: number, b: number) => a + b, 0) / dsc.length;
      console.log(
        `held-out cases ${dsc.length}, mean DSC ${mean.toFixed(3)}, steps ${job.training.steps}`,
      );
      // The training loss falls and the held-out DSC is far above chance: an empty prediction
      // scores 0, predicting the whole brain ≈ 0.2 (tumours are 2–25 % of the brain); 0.6 needs
      // the tumour outlined on cases the network never saw.
      assert.ok(mean > 0.6, `mean held-out DSC ${mean}`);
      const log = (await Deno.readTextFile(`${out}/jobs/f0-full-I-b2/epochs.jsonl`)).trim().split(
        "\n",
      )
        .map((l) => JSON.parse(l));
      assert.ok(log.at(-1).trainLoss < log[0].trainLoss * 0.8, "training loss fell");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);
