/**
 * `loss.squaredDenominator` (Milletari's V-Net Dice, Σŷ² + Σy²) trains on the GPU from a
 * pipeline: the option is validated, recorded in pipeline.json, and changes the training.
 */

import assert from "node:assert/strict";
import { cli, ROOT, variant } from "../faults/_faults.ts";

Deno.test("a pipeline experiment with squaredDenominator trains on the GPU", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "dicelab-squared-" });
  try {
    const file = await variant(
      tmp,
      "tiny_brats",
      `p.experiments.sq = { loss: { ...p.experiments.I.loss, squaredDenominator: true } };
p.quick.experiments = ["I", "sq"];`,
    );
    const r = await cli(["run", file, "--quick", "--out", `${tmp}/run`], { cwd: ROOT });
    assert.equal(r.code, 0, r.err);
    const run = JSON.parse(await Deno.readTextFile(`${tmp}/run/pipeline.json`));
    assert.equal(run.pipeline.experiments.sq.loss.squaredDenominator, true);
    const loss = async (job: string) =>
      JSON.parse((await Deno.readTextFile(`${tmp}/run/jobs/${job}/train.jsonl`)).split("\n")[0])
        .loss;
    assert.notEqual(await loss("f0-partial-sq-b2"), await loss("f0-partial-I-b2"));
    const bad = await variant(
      tmp,
      "tiny_brats",
      `p.experiments.I.loss.squaredDenominator = "yes";`,
    );
    const b = await cli(["run", bad, "--quick", "--out", `${tmp}/bad`]);
    assert.equal(b.code, 2);
    assert.match(b.err, /experiments\.I\.loss\.squaredDenominator/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
