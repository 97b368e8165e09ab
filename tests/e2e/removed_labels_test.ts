/**
 * `removedLabels` from a pipeline: the ACDC partial labeling's removed MYO presented to the loss
 * as ignored voxels (a voxel mask), as the label set {background, MYO} with the leaf Dice, and
 * with Fidon's label-set marginal Dice — each trains on the GPU, is recorded in pipeline.json,
 * and changes the training from the same seed, patches and initial weights; invalid
 * combinations are refused before any work, by field path.
 */

import assert from "node:assert/strict";
import { cli, ROOT, variant } from "../faults/_faults.ts";

Deno.test("removedLabels ignore / labelSet and labelSetMarginalDice train on the GPU from a pipeline", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "dicelab-removed-" });
  try {
    const file = await variant(
      tmp,
      "tiny_acdc",
      `p.experiments.ign = { loss: p.experiments.I.loss, removedLabels: "ignore" };
p.experiments.leafAll = { loss: { ...p.experiments.leaf.loss, classes: undefined } };
p.experiments.setLeaf = { loss: p.experiments.leafAll.loss, removedLabels: "labelSet" };
p.experiments.setLeafFg = { loss: p.experiments.leaf.loss, removedLabels: "labelSet" };
p.experiments.setMarg = {
  loss: { ...p.experiments.leaf.loss, kind: "labelSetMarginalDice" },
  removedLabels: "labelSet",
};
p.quick.experiments = ["I", "leaf", "leafAll", "ign", "setLeaf", "setLeafFg", "setMarg"];`,
    );
    const r = await cli(["run", file, "--quick", "--out", `${tmp}/run`], { cwd: ROOT });
    assert.equal(r.code, 0, r.err);
    const run = JSON.parse(await Deno.readTextFile(`${tmp}/run/pipeline.json`));
    assert.equal(run.pipeline.experiments.ign.removedLabels, "ignore");
    assert.equal(run.pipeline.experiments.setMarg.loss.kind, "labelSetMarginalDice");
    const steps = async (e: string) =>
      (await Deno.readTextFile(`${tmp}/run/jobs/f0-partial-${e}-b2/train.jsonl`)).trim()
        .split("\n").map((l) => JSON.parse(l).loss as number);
    const [I, leaf, leafAll, ign, setLeaf, setLeafFg, setMarg] = await Promise.all(
      ["I", "leaf", "leafAll", "ign", "setLeaf", "setLeafFg", "setMarg"].map(steps),
    );
    for (const [name, s] of Object.entries({ ign, setLeaf, setMarg })) {
      assert.ok(s.length >= 2 && s.every(Number.isFinite), `${name}: ${s}`);
    }
    // Same seed, same patches, same initial weights: only the loss's inputs differ, so the
    // mask and the label sets change the losses (the first batch holds an ES patch).
    const differs = (a: number[], b: number[]) => a.some((x, i) => x !== b[i]);
    assert.ok(differs(ign, I), "ignore differs from relabel");
    assert.ok(differs(setLeaf, leafAll), "the label set differs from relabel (leaf, all maps)");
    assert.ok(differs(setMarg, setLeaf), "label-set marginal differs from label-set leaf");
    // Without the background map in the loss, the label set {background, MYO} and MYO →
    // background give the kept maps the same targets: the leaf Dice is the same, step by step.
    assert.deepEqual(setLeafFg, leaf);
    const result = JSON.parse(
      await Deno.readTextFile(`${tmp}/run/jobs/f0-partial-setMarg-b2/result.json`),
    );
    assert.ok(result.rows.length > 0 && result.rows.every((x: { dsc: number }) => x.dsc >= 0));

    // Refused before any work, each by its field path (exit 2, nothing written).
    const refused = async (body: string, base: "tiny_acdc" | "tiny_brats", path: RegExp) => {
      const bad = await variant(tmp, base, body);
      const out = `${tmp}/bad-${crypto.randomUUID().slice(0, 6)}`;
      const b = await cli(["run", bad, "--quick", "--out", out], { cwd: ROOT });
      assert.equal(b.code, 2, b.err);
      assert.match(b.err, path);
      await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
    };
    await refused(
      `p.experiments.I.loss = { ...p.experiments.I.loss, kind: "labelSetMarginalDice" };`,
      "tiny_acdc",
      /experiments\.I\.removedLabels: "labelSetMarginalDice" needs removedLabels "labelSet"/,
    );
    await refused(
      `p.experiments.I = { loss: { kind: "marginalDice", phi: "I" }, removedLabels: "labelSet" };`,
      "tiny_acdc",
      /experiments\.I\.loss\.kind: "marginalDice" \(Shi\) merges whole missing maps/,
    );
    await refused(
      `p.experiments.I.removedLabels = "sets";`,
      "tiny_acdc",
      /experiments\.I\.removedLabels: expected removedLabels "relabel", "labelSet" or "ignore"/,
    );
    await refused(
      `p.experiments.I.removedLabels = "labelSet";`,
      "tiny_brats",
      /experiments\.I\.removedLabels: "labelSet" needs one-hot targets/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
