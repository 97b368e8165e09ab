/**
 * The README's nnU-Net example: `deno task run pipelines/nnunet_example.ts --quick` runs on the
 * nnU-Net-layout phantom through the same reader as real data, records the dataset's own spec in
 * pipeline.json (with its "ignore" label), and trains site B's cases with MYO as a missing map.
 */

import assert from "node:assert/strict";
import { readNiftiFile } from "../../lib/nifti/read_nifti.ts";
import { cli } from "../faults/_faults.ts";

Deno.test("deno task run pipelines/nnunet_example.ts --quick", async () => {
  const out = await Deno.makeTempDir({ prefix: "dicelab-nnunet-run-" });
  try {
    const r = await cli(["run", "pipelines/nnunet_example.ts", "--quick", "--out", out]);
    const text = r.out;
    assert.equal(r.code, 0, r.err);
    assert.match(text, /using the phantom NNUNET dataset/);
    assert.match(text, /\| merged \| 2 \|/);
    const run = JSON.parse(await Deno.readTextFile(`${out}/pipeline.json`));
    assert.deepEqual(run.pipeline.dataset.spec.classes, ["background", "RV", "MYO", "LV"]);
    assert.deepEqual(run.pipeline.dataset.spec.groups, ["siteA", "siteB"]);
    assert.equal(run.pipeline.dataset.spec.ignoreLabel, 4, "the phantom's ignore label");
    const merged = run.pipeline.labelings.merged;
    const siteB = Object.keys(merged.cases);
    assert.ok(siteB.length > 0 && siteB.every((id: string) => merged.cases[id].join() === "RV,LV"));
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    assert.ok(results.rows.some((r: { group: string }) => r.group === "siteB"));
    // The README's next step: segment the example's held-out imagesTs with the run's model.
    const imagesTs = `${run.root}/imagesTs`;
    const p = await cli([
      "predict",
      "--model",
      out,
      "--config",
      "merged/leaf/2",
      "--input",
      imagesTs,
      "--out",
      `${out}/pred`,
    ]);
    assert.equal(p.code, 0, p.err);
    const inputs = [...Deno.readDirSync(imagesTs)].map((e) => e.name).sort();
    assert.ok(inputs.length > 0);
    for (const name of inputs) {
      const src = await readNiftiFile(`${imagesTs}/${name}`);
      const seg = await readNiftiFile(`${out}/pred/${name.replace("_0000.nii.gz", ".nii.gz")}`);
      assert.deepEqual(seg.shape, src.shape);
      assert.deepEqual(seg.affine, src.affine);
      assert.ok(seg.data.every((v) => v >= 0 && v <= 3));
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
