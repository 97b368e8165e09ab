/**
 * Step pipelining changes only the speed: the trainer with `pipelining` "on", "off" and "auto"
 * (which times both at the start and keeps the faster) ends with bit-identical weights and the
 * same evaluation.
 */

import assert from "node:assert/strict";
import { loadCheckpoint, type NamedTensor } from "../../lib/nn/checkpoint.ts";
import { runPipeline } from "../../lib/pipeline/run.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { assertSameTensors, tinyVariant } from "../_helpers/tiny_variant.ts";

const JOB = "f0-partial-BI-b2";

gpuTest("pipelining on, off and auto train to bit-identical weights", async () => {
  const root = await Deno.makeTempDir({ prefix: "dicelab-pipelining-" });
  try {
    const out: Record<string, { weights: NamedTensor[]; rows: unknown; pipelined: boolean }> = {};
    let lines: string[] = [];
    for (const mode of ["on", "off", "auto"] as const) {
      // 8 epochs without early stopping: enough steps for "auto" to time both ways.
      const p = tinyVariant("pipelining-test", {
        epochs: 8,
        schedule: { patience: 20, stopPatience: 20 },
      }, { pipelining: mode });
      lines = [];
      await runPipeline({
        pipeline: p,
        source: "pipelining_test",
        out: `${root}/${mode}`,
        quick: true,
        cacheDir: ".cache/phantoms",
        log: (l) => lines.push(l),
      });
      const dir = `${root}/${mode}/jobs/${JOB}`;
      const result = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
      assert.ok(result.training.steps >= 16, `only ${result.training.steps} steps`);
      out[mode] = {
        weights: (await loadCheckpoint(`${dir}/weights.ckpt`)).tensors,
        rows: result.rows,
        pipelined: result.training.pipelined,
      };
    }
    assert.equal(out.on.pipelined, true);
    assert.equal(out.off.pipelined, false);
    // "auto" said what it measured and chose.
    assert.ok(
      lines.some((l) =>
        /step pipelining (on|off) \(.* ms per step pipelined, .* ms one at a time\)/.test(l)
      ),
      lines.join("\n"),
    );
    for (const mode of ["off", "auto"]) {
      assertSameTensors(out[mode].weights, out.on.weights, mode);
      assert.deepEqual(out[mode].rows, out.on.rows);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
