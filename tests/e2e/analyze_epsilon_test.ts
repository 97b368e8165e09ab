/**
 * `analyze` reports exactly the heuristic ε each job then trains with: both call the one
 * `trainingEpsilon` path (the first epoch's cases of the job's fold, with its sampling ratio and
 * labeling). Checked on the tiny ACDC preset with I_ε (per-class ε, ED:ES 3:1) and a batch-pooled
 * BI_ε (ε scaled by B), full and partial labels.
 */

import assert from "node:assert/strict";
import { analyzePipeline } from "../../lib/pipeline/analyze.ts";
import { definePipeline, validatePipeline } from "../../lib/pipeline/define_pipeline.ts";
import { runPipeline } from "../../lib/pipeline/run.ts";
import { acdcBase } from "../../pipelines/_acdc_base.ts";
import tinyAcdc from "../../pipelines/tiny_acdc.ts";
import { gpuTest } from "../_helpers/gpu.ts";

const CACHE = ".cache/phantoms";

gpuTest("analyze prints the heuristic ε that each job trains with", async () => {
  const p = validatePipeline(
    definePipeline({
      ...tinyAcdc,
      name: "analyze-epsilon-test",
      dataset: {
        ...tinyAcdc.dataset,
        phantom: {
          ...tinyAcdc.dataset.phantom,
          training: { ...tinyAcdc.dataset.phantom!.training, epochs: 1 },
        },
      },
      experiments: {
        I_eps: acdcBase.experiments.I_eps,
        BI_eps: {
          loss: { kind: "softDice", phi: "BI", epsilon: "heuristic", classes: [1, 2, 3] },
        },
      },
      quick: { folds: [0], labelings: ["full", "partial"], experiments: ["I_eps", "BI_eps"] },
    }),
    "analyze-epsilon-test",
  );
  const out = await Deno.makeTempDir({ prefix: "dicelab-eps-" });
  try {
    const rows = await analyzePipeline(p, { quick: true, cacheDir: CACHE, log: () => {} });
    assert.equal(rows.length, 4);
    await runPipeline({
      pipeline: p,
      source: "test",
      out,
      quick: true,
      cacheDir: CACHE,
      log: () => {},
    });
    for (const row of rows) {
      const id = `f${row.fold}-${row.labeling}-${row.experiment}-b${row.batchSize}`;
      const result = JSON.parse(await Deno.readTextFile(`${out}/jobs/${id}/result.json`));
      assert.deepEqual(row.epsilon, result.epsilon, `ε of ${id}`);
      assert.equal(row.epsilon.length, 3);
      assert.ok(row.epsilon.every((e) => e > 0), `ε of ${id} is positive`);
    }
    // Partial labels (MYO removed at ES) lower MYO's ε.
    const eps = (l: string, e: string) =>
      rows.find((r) => r.labeling === l && r.experiment === e)!.epsilon;
    assert.ok(eps("partial", "I_eps")[1] < eps("full", "I_eps")[1]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
