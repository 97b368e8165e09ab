/**
 * The paper's claims on a reduced preset, guarded like the scheduled reproduction job: run
 * `pipelines/brats_check.ts` (~2 min) and compare Table 1 cells, the volume AUC and the claims
 * with the committed reference `results/brats-check.json`.
 */

import assert from "node:assert/strict";
import { validatePipeline } from "../../lib/pipeline/define_pipeline.ts";
import { compareWithReference, diffTable, parseReference } from "../../lib/pipeline/reproduce.ts";
import { runPipeline } from "../../lib/pipeline/run.ts";
import check from "../../pipelines/brats_check.ts";
import { gpuTest } from "../_helpers/gpu.ts";

gpuTest(
  "reproduce: the reduced BRATS check matches results/brats-check.json and the paper's claims",
  async () => {
    const ref = parseReference(
      JSON.parse(await Deno.readTextFile("results/brats-check.json")),
      "results/brats-check.json",
    );
    const out = await Deno.makeTempDir({ prefix: "dicelab-check-" });
    try {
      await runPipeline({
        pipeline: validatePipeline(check, "pipelines/brats_check.ts"),
        source: "pipelines/brats_check.ts",
        out,
        quick: ref.quick,
        cacheDir: ".cache/phantoms",
        log: () => {},
      });
      const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
      const { lines, ok } = compareWithReference(results, ref);
      console.log(diffTable(lines));
      assert.ok(ok, "reproduction check failed (see the table above)");
      assert.ok(ref.claims.length >= 3);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);
