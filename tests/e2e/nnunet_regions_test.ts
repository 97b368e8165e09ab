/**
 * Region-based training end to end (issue 14): a tiny nnU-Net dataset whose labels are nested
 * regions (`_regions_dataset.ts`) trains with `deno task run … --quick --data DIR` on three
 * sigmoid region maps, is evaluated per region, and `deno task predict` writes label maps of
 * the regions' values (nnU-Net's regions_class_order rule) on the inputs' grids — the same as
 * the run's own predictions for its test cases — and the three region probability maps.
 */

import assert from "node:assert/strict";
import { readNiftiFile } from "../../lib/nifti/read_nifti.ts";
import { loadCheckpoint } from "../../lib/nn/checkpoint.ts";
import { readModelFile } from "../../lib/model/model_file.ts";
import onnxProto from "onnx-proto";
import { cli } from "../faults/_faults.ts";
import { REGION_AFFINE, REGION_SHAPE, writeRegionDataset } from "./_regions_dataset.ts";

Deno.test("a region-based nnU-Net dataset trains, evaluates per region and predicts its label values", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "dicelab-regions-" });
  try {
    const data = await writeRegionDataset(`${tmp}/Dataset900_Lesions`);
    const out = `${tmp}/run`;
    const r = await cli([
      "run",
      "tests/e2e/_regions_pipeline.ts",
      "--quick",
      "--data",
      data,
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.err + r.out);
    const run = JSON.parse(await Deno.readTextFile(`${out}/pipeline.json`));
    const spec = run.pipeline.dataset.spec;
    assert.equal(spec.target, "regions");
    assert.deepEqual(spec.regions, [
      { name: "lesion", values: [1, 2, 3] },
      { name: "core", values: [2, 3] },
      { name: "centre", values: [3] },
    ]);
    assert.deepEqual(spec.regionsClassOrder, [1, 2, 3]);
    assert.equal(spec.ignoreLabel, 4);
    // Metrics per region, for every test case of fold 0.
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    const rows = results.rows as { caseId: string; className: string; trueVolumeMl: number }[];
    const tested = [...new Set(rows.map((x) => x.caseId))].sort();
    assert.ok(tested.length >= 2);
    assert.deepEqual([...new Set(rows.map((x) => x.className))], ["lesion", "core", "centre"]);
    // Nested regions: the truth's volumes shrink from the lesion to its centre, none empty.
    for (const id of tested) {
      const v = ["lesion", "core", "centre"].map((n) =>
        rows.find((x) => x.caseId === id && x.className === n)!.trueVolumeMl
      );
      assert.ok(v[0] > v[1] && v[1] > v[2] && v[2] > 0, `${id}: ${v}`);
    }
    const job = [...Deno.readDirSync(`${out}/jobs`)].find((e) => e.isDirectory)!.name;
    // The tiny preset's head is sigmoid with one map; the dataset made it three region maps.
    const ckpt = await loadCheckpoint(`${out}/jobs/${job}/weights.ckpt`);
    const cfg = ckpt.config as { head: string; outChannels: number };
    assert.deepEqual([cfg.head, cfg.outChannels], ["sigmoid", 3]);

    // predict on the held-out scans and on the training scans (the run's test cases among them).
    for (const [input, dir] of [["imagesTs", "ts"], ["imagesTr", "tr"]]) {
      const p = await cli([
        "predict",
        "--model",
        out,
        "--input",
        `${data}/${input}`,
        "--out",
        `${tmp}/${dir}`,
        "--probabilities",
      ]);
      assert.equal(p.code, 0, p.err + p.out);
    }
    const [nx, ny, nz] = REGION_SHAPE;
    for (const name of [...Deno.readDirSync(`${data}/imagesTs`)].map((e) => e.name)) {
      const id = name.replace("_0000.nii.gz", "");
      const seg = await readNiftiFile(`${tmp}/ts/${id}.nii.gz`);
      assert.deepEqual(seg.shape, REGION_SHAPE);
      assert.deepEqual(seg.affine, REGION_AFFINE);
      assert.ok(seg.data.every((v) => v === 0 || v === 1 || v === 2 || v === 3));
      const prob = await readNiftiFile(`${tmp}/ts/${id}_prob.nii.gz`);
      assert.deepEqual(prob.shape, [nx, ny, nz, 3], "one probability map per region");
      assert.ok(prob.data.every((v) => v >= 0 && v <= 1));
    }
    for (const id of tested) {
      const own = await readNiftiFile(`${out}/jobs/${job}/predictions/${id}.nii.gz`);
      const seg = await readNiftiFile(`${tmp}/tr/${id}.nii.gz`);
      assert.deepEqual(seg.shape, own.shape);
      assert.deepEqual(Array.from(seg.data), Array.from(own.data), `${id}: predict = evaluation`);
    }
    // The model file carries the regions (predict from it gives the same labels); the ONNX file
    // lists them in its metadata.
    const exp = await cli(["export", out, "--out", `${tmp}/lesions.dicelab`]);
    assert.equal(exp.code, 0, exp.err);
    const model = await readModelFile(`${tmp}/lesions.dicelab`);
    assert.deepEqual(model.dataset.regionsClassOrder, [1, 2, 3]);
    assert.deepEqual(model.dataset.outputs, ["lesion", "core", "centre"]);
    const fromFile = await cli([
      "predict",
      "--model",
      `${tmp}/lesions.dicelab`,
      "--input",
      `${data}/imagesTs`,
      "--out",
      `${tmp}/file`,
    ]);
    assert.equal(fromFile.code, 0, fromFile.err);
    for (const e of Deno.readDirSync(`${tmp}/file`)) {
      const a = await readNiftiFile(`${tmp}/file/${e.name}`);
      const b = await readNiftiFile(`${tmp}/ts/${e.name}`);
      assert.deepEqual(Array.from(a.data), Array.from(b.data), e.name);
    }
    const onnx = await cli(["export", out, "--out", `${tmp}/lesions.onnx`, "--format", "onnx"]);
    assert.equal(onnx.code, 0, onnx.err);
    const proto = onnxProto.onnx.ModelProto.decode(await Deno.readFile(`${tmp}/lesions.onnx`));
    const meta = Object.fromEntries(proto.metadataProps.map((m) => [m.key, m.value]));
    assert.deepEqual(JSON.parse(meta.regions).map((r: { name: string }) => r.name), [
      "lesion",
      "core",
      "centre",
    ]);
    assert.equal(meta.regions_class_order, "[1,2,3]");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
