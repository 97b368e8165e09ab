/**
 * Datasets in the nnU-Net v2 raw and Decathlon layouts: the readers, their validation errors
 * (each names the file and field), loading (separate channel files, 4-D images), the shipped
 * splits, groups from cases.csv, and the annotatedClasses labeling of a merged dataset.
 */

import assert from "node:assert/strict";
import { datasetDescriptor } from "../../lib/data/dataset_descriptor.ts";
import { annotatedMaps, applyLabeling } from "../../lib/data/labeling.ts";
import { loadCase } from "../../lib/data/load_case.ts";
import { readMsdDataset, readNnunetDataset } from "../../lib/data/nnunet.ts";
import { generateMsdPhantom, generateNnunetPhantom } from "../../lib/data/phantom_layouts.ts";
import { writeNifti } from "../../lib/nifti/write_nifti.ts";
import { IGNORE_LABEL } from "../../lib/core/voxel_labels.ts";
import { caseMetrics } from "../../lib/eval/metrics.ts";
import { batchMarks, buildBatch } from "../../lib/train/build_batch.ts";
import { targetMaps } from "../../lib/data/datasets.ts";
import { targetOptions } from "../../lib/data/labeling.ts";
import { Rng } from "../../lib/core/rng.ts";

const TMP = await Deno.makeTempDir({ prefix: "dicelab-nnunet-" });
addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));

const SHAPE = [5, 4, 3];
const AFFINE = [[2, 0, 0, -4], [0, 2, 0, 1], [0, 0, 3, 7], [0, 0, 0, 1]];

async function nii(path: string, data: Float32Array | Uint8Array, affine = AFFINE, shape = SHAPE) {
  await Deno.writeFile(path, writeNifti({ shape, data, affine }, { gzip: true }));
}

/** A two-channel nnU-Net dataset of `n` cases with labels 0..2 (values cycled, never all zero). */
async function tinyNnunet(n = 3, json: Record<string, unknown> = {}): Promise<string> {
  const root = `${TMP}/Dataset${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(`${root}/imagesTr`, { recursive: true });
  await Deno.mkdir(`${root}/labelsTr`, { recursive: true });
  const V = SHAPE[0] * SHAPE[1] * SHAPE[2];
  for (let i = 0; i < n; i++) {
    const id = `case${i}`;
    for (const c of [0, 1]) {
      await nii(
        `${root}/imagesTr/${id}_000${c}.nii.gz`,
        Float32Array.from({ length: V }, (_, k) => k + c + i),
      );
    }
    await nii(
      `${root}/labelsTr/${id}.nii.gz`,
      Uint8Array.from({ length: V }, (_, k) => (k + i) % 3),
    );
  }
  await Deno.writeTextFile(
    `${root}/dataset.json`,
    JSON.stringify({
      channel_names: { "0": "T2", "1": "ADC" },
      labels: { background: 0, PZ: 1, TZ: 2 },
      numTraining: n,
      file_ending: ".nii.gz",
      ...json,
    }),
  );
  return root;
}

Deno.test("readNnunetDataset reads channels, classes, cases and their files", async () => {
  const root = await tinyNnunet();
  const { spec, records } = await readNnunetDataset(root);
  assert.deepEqual(spec.channels, ["T2", "ADC"]);
  assert.deepEqual(spec.classes, ["background", "PZ", "TZ"]);
  assert.equal(spec.target, "oneHot");
  assert.deepEqual(spec.groups, ["all"]);
  assert.deepEqual(records.map((r) => r.id), ["case0", "case1", "case2"]);
  assert.deepEqual(records[1].imagePaths, [
    `${root}/imagesTr/case1_0000.nii.gz`,
    `${root}/imagesTr/case1_0001.nii.gz`,
  ]);
  const c = await loadCase(records[1]);
  assert.equal(c.channels, 2);
  assert.deepEqual(c.shape, [3, 4, 5]);
  assert.equal(c.label[0], 1);
});

Deno.test("nnU-Net layout errors name the file and the field", async () => {
  const check = async (root: string, re: RegExp) =>
    await assert.rejects(() => readNnunetDataset(root), re);
  const a = await tinyNnunet();
  await Deno.remove(`${a}/imagesTr/case1_0001.nii.gz`);
  await check(a, /imagesTr\/case1_0001\.nii\.gz is missing \(channel 1, "ADC", of case case1\)/);
  await check(
    await tinyNnunet(3, { numTraining: 5 }),
    /dataset\.json: numTraining is 5, but imagesTr holds 3 case\(s\)/,
  );
  await check(
    await tinyNnunet(3, { labels: { background: 0, PZ: 1, TZ: 2, ignore: 1 } }),
    /dataset\.json: labels: value 1 is given twice/,
  );
  await check(
    await tinyNnunet(3, { labels: { background: 0, ignore: 1, TZ: 2 } }),
    /dataset\.json: labels: the "ignore" label \(1\) must have the highest value \(class "TZ" has 2\)/,
  );
  await check(
    await tinyNnunet(3, { labels: { background: 0, PZ: 2 } }),
    /label values must be consecutive 0\.\.1, got 0, 2/,
  );
  await check(await tinyNnunet(3, { file_ending: ".mha" }), /file_ending "\.mha" is not supported/);
  await check(
    await tinyNnunet(3, { channel_names: { "0": "T2" } }),
    /imagesTr\/case0_0001\.nii\.gz: channel 1, but .*dataset\.json lists 1 channel/,
  );
  const b = await tinyNnunet();
  await Deno.remove(`${b}/labelsTr/case2.nii.gz`);
  await check(b, /labelsTr\/case2\.nii\.gz is missing/);
  const c = await tinyNnunet();
  await Deno.writeTextFile(
    `${c}/splits_final.json`,
    JSON.stringify([{ train: [], val: ["nope"] }]),
  );
  await check(c, /splits_final\.json: fold 0 names case "nope", which is not in imagesTr/);
  await assert.rejects(() => readNnunetDataset(`${TMP}/none`), /none\/dataset\.json is missing/);
});

Deno.test("loading names a label value the dataset.json does not list, and channel grid mismatches", async () => {
  const root = await tinyNnunet(1);
  const V = SHAPE[0] * SHAPE[1] * SHAPE[2];
  await nii(
    `${root}/labelsTr/case0.nii.gz`,
    Uint8Array.from({ length: V }, (_, k) => (k === 7 ? 5 : 1)),
  );
  let { records } = await readNnunetDataset(root);
  await assert.rejects(
    () => loadCase(records[0]),
    /labelsTr\/case0\.nii\.gz holds value 5 at voxel \[2,1,0\] \(expected 0, 1, 2\)/,
  );
  const shifted = AFFINE.map((r) => [...r]);
  shifted[0][3] += 10;
  await nii(`${root}/labelsTr/case0.nii.gz`, new Uint8Array(V).fill(1));
  await nii(`${root}/imagesTr/case0_0001.nii.gz`, new Float32Array(V).fill(2), shifted);
  ({ records } = await readNnunetDataset(root));
  await assert.rejects(
    () => loadCase(records[0]),
    /image .*case0_0001\.nii\.gz has affine .* but label .* has/,
  );
  await nii(`${root}/imagesTr/case0_0001.nii.gz`, new Float32Array(4 * 4 * 3).fill(2), AFFINE, [
    4,
    4,
    3,
  ]);
  await assert.rejects(
    () => loadCase(records[0]),
    /case0_0001\.nii\.gz has shape 4×4×3 but label .* has 5×4×3/,
  );
});

Deno.test("nnU-Net's ignore label: its voxels load as IGNORE_LABEL, leave the target, the mask and the metrics", async () => {
  const root = await tinyNnunet(1, { labels: { background: 0, PZ: 1, TZ: 2, ignore: 3 } });
  const V = SHAPE[0] * SHAPE[1] * SHAPE[2];
  const stored = Uint8Array.from({ length: V }, (_, k) => (k % 5 === 4 ? 3 : k % 3));
  await nii(`${root}/labelsTr/case0.nii.gz`, stored);
  const { spec, records } = await readNnunetDataset(root);
  assert.deepEqual(spec.classes, ["background", "PZ", "TZ"]);
  assert.equal(spec.ignoreLabel, 3);
  assert.equal(spec.classOf["3"], IGNORE_LABEL);
  const c = await loadCase(records[0]);
  assert.deepEqual(Array.from(c.label), Array.from(stored, (v) => (v === 3 ? IGNORE_LABEL : v)));
  // The patch builder masks those voxels out of the loss and gives them no leaf label.
  assert.deepEqual(batchMarks(c, { kind: "full" }), { mask: true, labelSets: false });
  const b = buildBatch([c], {
    step: 0,
    samples: [0],
    cases: [0],
    seed: 1,
    patchSize: c.shape,
    target: { encoding: "oneHot", classes: 3 },
    foregroundProbability: 0,
  });
  const ignored = Array.from(stored, (v) => v === 3);
  assert.deepEqual(Array.from(b.mask!), ignored.map((x) => (x ? 0 : 1)));
  for (let i = 0; i < V; i++) {
    const row = [0, 1, 2].map((k) => b.target[k * V + i]);
    assert.deepEqual(row, ignored[i] ? [0, 0, 0] : [0, 1, 2].map((k) => (k === stored[i] ? 1 : 0)));
  }
  // Evaluation leaves them out: predicting anything there changes no score.
  const pred = Uint8Array.from(c.label, (v) => (v === IGNORE_LABEL ? 1 : v));
  const m = caseMetrics(pred, c.label, { spacing: [1, 1, 1], classes: ["PZ", "TZ"] });
  assert.deepEqual(m.map((x) => x.dsc), [1, 1]);
});

Deno.test("splits_final.json defines the folds; cases.csv gives groups, subjects and fields", async () => {
  const root = await tinyNnunet(4);
  await Deno.writeTextFile(
    `${root}/cases.csv`,
    "case,group,subject,scanner\ncase0,A,s0,x\ncase1,A,s0,y\ncase2,B,s2,x\ncase3,B,s3,y\n",
  );
  await Deno.writeTextFile(
    `${root}/splits_final.json`,
    JSON.stringify([{ train: ["case2", "case3"], val: ["case0", "case1"] }, {
      train: ["case0", "case1"],
      val: ["case2", "case3"],
    }]),
  );
  const { spec, records } = await readNnunetDataset(root);
  assert.deepEqual(spec.groups, ["A", "B"]);
  assert.deepEqual(spec.subgroup, { key: "scanner", source: `${root}/cases.csv` });
  assert.deepEqual(spec.splits, { s0: 0, s2: 1, s3: 1 });
  assert.deepEqual(records.map((r) => [r.subject, r.group, r.meta.scanner]), [
    ["s0", "A", "x"],
    ["s0", "A", "y"],
    ["s2", "B", "x"],
    ["s3", "B", "y"],
  ]);
  assert.equal(datasetDescriptor("nnunet", spec).foldRules.splits!("s3", 2), 1);
  await Deno.writeTextFile(`${root}/cases.csv`, "case,group\ncase0,A\n");
  await assert.rejects(() => readNnunetDataset(root), /cases\.csv: case "case1" has no row/);
});

Deno.test("the nnU-Net phantom: a merged dataset whose site B did not annotate MYO", async () => {
  const root = `${TMP}/phantom-nnunet`;
  await generateNnunetPhantom(root, { patients: 4, testPatients: 1 });
  const { spec, records } = await readNnunetDataset(root);
  assert.deepEqual(spec.classes, ["background", "RV", "MYO", "LV"]);
  assert.deepEqual(spec.groups, ["siteA", "siteB"]);
  assert.equal(spec.subgroup?.key, "pathology");
  assert.equal(records.length, 8);
  assert.ok((await Array.fromAsync(Deno.readDir(`${root}/imagesTs`))).length === 1);
  const annotated = JSON.parse(await Deno.readTextFile(`${root}/annotated.json`));
  const b = records.find((r) => r.group === "siteB")!;
  const c = await loadCase(b, { spacing: [10, 5, 5], size: [8, 32, 32] });
  assert.ok(c.label.includes(2), "the full label has MYO");
  const labeling = { kind: "annotatedClasses" as const, cases: annotated };
  const train = applyLabeling(c, labeling);
  assert.ok(!train.label.includes(2), "site B's training label has no MYO");
  assert.deepEqual(annotatedMaps(c, labeling), [true, true, false, true]);
  const a = await loadCase(records.find((r) => r.group === "siteA")!, { size: [8, 32, 32] });
  assert.equal(applyLabeling(a, labeling), a, "site A is fully annotated");

  // With ignoreEdgeSlices the first and last slices carry nnU-Net's ignore label.
  const ig = `${TMP}/phantom-nnunet-ignore`;
  await generateNnunetPhantom(ig, { patients: 2, testPatients: 0, ignoreEdgeSlices: 1 });
  const withIgnore = await readNnunetDataset(ig);
  assert.equal(withIgnore.spec.ignoreLabel, 4);
  const raw = await loadCase(withIgnore.records[0]);
  const [D, H, W] = raw.shape;
  const slice = H * W;
  const marked = (z: number) =>
    raw.label.subarray(z * slice, (z + 1) * slice).every((v) => v === IGNORE_LABEL);
  assert.ok(marked(0) && marked(D - 1), "first and last slices ignored");
  assert.ok(!raw.label.subarray(slice, (D - 1) * slice).includes(IGNORE_LABEL), "none between");
  assert.ok(raw.label.includes(2), "the slices between keep their classes");
});

Deno.test("readMsdDataset reads 4-D multi-modality images and names a channel-count mismatch", async () => {
  const root = `${TMP}/Task01_Phantom`;
  await generateMsdPhantom(root, { cases: 2 });
  const { spec, records } = await readMsdDataset(root);
  assert.deepEqual(spec.channels, ["FLAIR", "T1w", "t1gd", "T2w"]);
  assert.deepEqual(spec.classes, ["background", "tumour"]);
  assert.equal(spec.target, "binary");
  assert.deepEqual(spec.groups, ["HGG", "LGG"]);
  const c = await loadCase(records[0]);
  assert.equal(c.channels, 4);
  assert.equal(c.image.length, 4 * c.label.length);
  const json = JSON.parse(await Deno.readTextFile(`${root}/dataset.json`));
  json.modality = { "0": "FLAIR", "1": "T1w" };
  await Deno.writeTextFile(`${root}/dataset.json`, JSON.stringify(json));
  const bad = await readMsdDataset(root);
  await assert.rejects(
    () => loadCase(bad.records[0]),
    /has shape 24×24×16×4, expected 4-D with 2 channels/,
  );
  json.numTraining = 3;
  await Deno.writeTextFile(`${root}/dataset.json`, JSON.stringify(json));
  await assert.rejects(
    () => readMsdDataset(root),
    /numTraining is 3, but training lists 2 case\(s\)/,
  );
});

const BRATS_REGIONS = { background: 0, whole: [1, 2], core: 2 };

Deno.test("region labels: the reader validates them and regions_class_order, naming the file and field", async () => {
  const check = async (json: Record<string, unknown>, re: RegExp) =>
    await assert.rejects(() => tinyNnunet(1, json).then(readNnunetDataset), re);
  const labels = (l: Record<string, unknown>) => ({ labels: l, regions_class_order: [1, 2] });
  await check(
    { labels: BRATS_REGIONS },
    /dataset\.json: regions_class_order: missing — region-based labels \("whole", "core"\)/,
  );
  await check(
    { labels: BRATS_REGIONS, regions_class_order: [1] },
    /dataset\.json: regions_class_order: expected a list of 2 label value\(s\), one per region/,
  );
  await check(
    { labels: BRATS_REGIONS, regions_class_order: [1, 7] },
    /regions_class_order: entry 1 \(region "core"\) is 7, not a label value of the regions \(1\.\.2\)/,
  );
  await check(
    labels({ background: [0, 1], whole: [1, 2], core: 2 }),
    /dataset\.json: labels: a region-based table needs "background": 0 \(a single value, not a region\), got \[0,1\]/,
  );
  await check(
    labels({ background: 0, whole: [0, 1, 2], core: 2 }),
    /labels: region "whole" must be a label value or a non-empty list of label values in 1\.\.191, got \[0,1,2\]/,
  );
  await check(
    labels({ background: 0, whole: [1, 2, 2], core: 2 }),
    /region "whole" lists a value twice/,
  );
  await check(
    labels({ background: 0, whole: [1, 2], core: [2, 1] }),
    /regions "whole" and "core" have the same values \(1,2\)/,
  );
  await check(
    labels({ background: 0, whole: [1, 2], core: 2, ignore: 2 }),
    /the "ignore" label \(2\) must have the highest value \(the regions use values up to 2\)/,
  );
  await check(
    labels({ background: 0, whole: [1, 2], core: 2, ignore: [3, 4] }),
    /the "ignore" label must be one value ≥ 1 \(not a region\), got \[3,4\]/,
  );
  // A list of one value is that value (nnU-Net): not region-based, and one-hot as before.
  const { spec } = await readNnunetDataset(
    await tinyNnunet(1, { labels: { background: 0, PZ: [1], TZ: 2 } }),
  );
  assert.deepEqual([spec.target, spec.classes, spec.regions], [
    "oneHot",
    ["background", "PZ", "TZ"],
    undefined,
  ]);
});

Deno.test("region labels: the spec lists the regions, values load as stored and the target has one map per region", async () => {
  const root = await tinyNnunet(1, {
    labels: { background: 0, whole: [1, 2], core: 2, ignore: 3 },
    regions_class_order: [1, 2],
  });
  const V = SHAPE[0] * SHAPE[1] * SHAPE[2];
  const rng = new Rng(11, 0);
  const stored = Uint8Array.from({ length: V }, () => rng.int(4));
  await nii(`${root}/labelsTr/case0.nii.gz`, stored);
  const { spec, records } = await readNnunetDataset(root);
  assert.equal(spec.target, "regions");
  assert.deepEqual(spec.regions, [{ name: "whole", values: [1, 2] }, {
    name: "core",
    values: [2],
  }]);
  assert.deepEqual(spec.regionsClassOrder, [1, 2]);
  assert.deepEqual(spec.labelValues, [0, 1, 2, 3]);
  assert.equal(spec.classes.length, 3);
  assert.equal(targetMaps(spec), 2);
  const c = await loadCase(records[0]);
  assert.deepEqual(Array.from(c.label), Array.from(stored, (v) => (v === 3 ? IGNORE_LABEL : v)));
  // The patch builder: one map per region (overlapping), the ignored voxels masked, no map set.
  assert.deepEqual(batchMarks(c, { kind: "full" }), { mask: true, labelSets: false });
  const b = buildBatch([c], {
    step: 0,
    samples: [0],
    cases: [0],
    seed: 1,
    patchSize: c.shape,
    target: targetOptions(spec),
    foregroundProbability: 0,
  });
  assert.deepEqual(b.targetShape, [1, 2, ...c.shape]);
  for (let i = 0; i < V; i++) {
    const v = stored[i];
    assert.equal(b.mask![i], v === 3 ? 0 : 1);
    assert.deepEqual([b.target[i], b.target[V + i]], [
      v === 1 || v === 2 ? 1 : 0,
      v === 2 ? 1 : 0,
    ]);
  }
  assert.deepEqual(Array.from(b.annotated), [1, 1]);
  // emptyGroup: every region map of the group's cases is empty and missing.
  const e = buildBatch([c], {
    step: 0,
    samples: [0],
    cases: [0],
    seed: 1,
    patchSize: c.shape,
    target: targetOptions(spec),
    labeling: { kind: "emptyGroup", group: "all" },
    foregroundProbability: 0,
  });
  assert.ok(e.target.every((x) => x === 0));
  assert.deepEqual(Array.from(e.annotated), [0, 0]);
  assert.throws(
    () => annotatedMaps(c, { kind: "removeClass", group: "all", classIndex: 1, into: 0 }),
    /case case0: its dataset is region-based, and a removeClass labeling names classes/,
  );
});
