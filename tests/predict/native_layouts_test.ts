/**
 * Prediction inputs in the native layouts dicelab trains on: BRATS trees (`HGG/`, `LGG/`,
 * subject folders, channel files named by the model's channels, `_seg` labels) and ACDC trees
 * (`patientNNN/` with frames, `_gt` labels, the `_4d` cine and `Info.cfg`) — the cases found,
 * the files skipped and reported, the errors; and `predict` on the tiny run's own phantom
 * folders, equal to the run's evaluation.
 */

import assert from "node:assert/strict";
import { Rng } from "../../lib/core/rng.ts";
import { nonScanFileRules } from "../../lib/data/datasets.ts";
import {
  findPredictionInputs,
  listPredictionInputs,
  readPredictionInput,
  skippedSummary,
} from "../../lib/model/prediction_inputs.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { saveModel } from "../../lib/model/model_file.ts";
import { ModelPredictor } from "../../lib/model/model_predictor.ts";
import { readNiftiFile } from "../../lib/nifti/read_nifti.ts";
import { writeNiftiFile } from "../../lib/nifti/write_nifti.ts";
import { readResolvedRun } from "../../lib/pipeline/run_folder.ts";
import { pipelineDataset } from "../../lib/pipeline/resolve.ts";
import { randomF32 } from "../_helpers/random.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { cli, seededModel, TINY_JOB, tinyRun } from "./_fixtures.ts";

const BRATS_CHANNELS = ["flair", "t1", "t1ce", "t2"];
const SHAPE = [5, 3, 7]; // NIfTI i, j, k: odd on every axis

/** Random non-zero voxels (in [1, 3)), so that a channel read in the wrong place shows. */
async function writeVolume(path: string, rng: Rng, shape = SHAPE): Promise<Float32Array> {
  const data = randomF32(shape, rng, 1, 3);
  await writeNiftiFile(path, { shape, data });
  return data;
}

/**
 * A BRATS 2018 tree: `HGG/Brats18_A_1` (gzip), `LGG/Brats18_B_2` (plain .nii, upper-case
 * channel names), each with its `_seg`.
 */
async function bratsTree(root: string, rng: Rng): Promise<Map<string, Float32Array>> {
  const data = new Map<string, Float32Array>();
  for (
    const [grade, subject, ext, upper] of [["HGG", "Brats18_A_1", ".nii.gz", false], [
      "LGG",
      "Brats18_B_2",
      ".nii",
      true,
    ]] as const
  ) {
    const dir = `${root}/${grade}/${subject}`;
    await Deno.mkdir(dir, { recursive: true });
    for (const ch of [...BRATS_CHANNELS, "seg"]) {
      const path = `${dir}/${subject}_${upper ? ch.toUpperCase() : ch}${ext}`;
      data.set(`${subject}/${ch}`, await writeVolume(path, rng));
    }
  }
  return data;
}

Deno.test("listPredictionInputs() finds a BRATS tree's subjects by channel name and skips _seg", async () => {
  const root = await Deno.makeTempDir({ prefix: "dicelab-brats-in-" });
  try {
    const data = await bratsTree(root, new Rng(14, 1));
    const a = `${root}/HGG/Brats18_A_1/Brats18_A_1`;
    const b = `${root}/LGG/Brats18_B_2/Brats18_B_2`;
    const found = await findPredictionInputs(root, BRATS_CHANNELS, { kind: "brats" });
    assert.deepEqual(found.cases, [
      {
        id: "Brats18_A_1",
        layout: "channels",
        files: BRATS_CHANNELS.map((ch) => `${a}_${ch}.nii.gz`),
      },
      {
        id: "Brats18_B_2",
        layout: "channels",
        files: BRATS_CHANNELS.map((ch) => `${b}_${ch.toUpperCase()}.nii`),
      },
    ]);
    assert.deepEqual(found.skipped, [
      { file: `${a}_seg.nii.gz`, suffix: "_seg", what: "label file" },
      { file: `${b}_SEG.nii`, suffix: "_seg", what: "label file" },
    ]);
    assert.equal(skippedSummary(found.skipped), "2 label files (…_seg.nii.gz, …_seg.nii)");
    // The channels land in the model's order, whatever order that is.
    const order = ["t2", "flair", "t1ce", "t1"];
    const [ca] = await listPredictionInputs(root, order, { kind: "brats" });
    const scan = await readPredictionInput(ca, order);
    const n = SHAPE[0] * SHAPE[1] * SHAPE[2];
    assert.deepEqual(scan.shape, [SHAPE[2], SHAPE[1], SHAPE[0]]);
    for (const [c, ch] of order.entries()) {
      assert.deepEqual(scan.image.subarray(c * n, (c + 1) * n), data.get(`Brats18_A_1/${ch}`), ch);
    }
    // A model of a kind without rules of its own (nnU-Net, Decathlon) skips every known label.
    const nn = await findPredictionInputs(root, BRATS_CHANNELS, { kind: "nnunet" });
    assert.deepEqual(nn, found);
    // A channel file given directly brings the other channels of its subject, not the label.
    const one = await findPredictionInputs(`${b}_T1.nii`, BRATS_CHANNELS, { kind: "brats" });
    assert.deepEqual(one, { cases: [found.cases[1]], skipped: [] });
    // A subject folder given directly (NIfTI files at its top: no walking).
    const sub = await listPredictionInputs(`${root}/HGG/Brats18_A_1/`, BRATS_CHANNELS);
    assert.deepEqual(sub, [found.cases[0]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("listPredictionInputs() finds an ACDC tree's frames and skips _gt labels and the _4d cine", async () => {
  const root = await Deno.makeTempDir({ prefix: "dicelab-acdc-in-" });
  try {
    const rng = new Rng(14, 2);
    const frames: Record<string, string[]> = {
      patient001: ["01", "12"],
      patient002: ["01", "09"],
    };
    let frame01: Float32Array | undefined;
    for (const [patient, fs] of Object.entries(frames)) {
      const dir = `${root}/training/${patient}`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(`${dir}/Info.cfg`, `ED: ${+fs[0]}\nES: ${+fs[1]}\nGroup: NOR\n`);
      for (const f of fs) {
        const d = await writeVolume(`${dir}/${patient}_frame${f}.nii.gz`, rng);
        if (patient === "patient001" && f === "01") frame01 = d;
        await writeVolume(`${dir}/${patient}_frame${f}_gt.nii.gz`, rng);
      }
      await writeVolume(`${dir}/${patient}_4d.nii.gz`, rng, [...SHAPE, 13]);
    }
    const found = await findPredictionInputs(root, ["cine"], { kind: "acdc" });
    const p = (patient: string, name: string) => `${root}/training/${patient}/${name}.nii.gz`;
    assert.deepEqual(
      found.cases,
      Object.entries(frames).flatMap(([patient, fs]) =>
        fs.map((f) => ({
          id: `${patient}_frame${f}`,
          layout: "single",
          files: [p(patient, `${patient}_frame${f}`)],
        }))
      ),
    );
    assert.deepEqual(
      found.skipped.map((s) => [s.file, s.what]),
      Object.entries(frames).flatMap(([patient, fs]) => [
        [p(patient, `${patient}_4d`), "cine volume"],
        ...fs.map((f) => [p(patient, `${patient}_frame${f}_gt`), "label file"]),
      ]),
    );
    assert.equal(
      skippedSummary(found.skipped),
      "2 cine volumes (…_4d.nii.gz), 4 label files (…_gt.nii.gz)",
    );
    const scan = await readPredictionInput(found.cases[0], ["cine"]);
    assert.deepEqual(scan.image, frame01);
    // The rules come from the model's dataset kind: a BRATS model takes the cine for a scan
    // (and readPredictionInput then refuses its 13 volumes).
    const brats = await findPredictionInputs(root, ["cine"], { kind: "brats" });
    assert.equal(brats.skipped.length, 0);
    const cine = brats.cases.find((c) => c.id === "patient001_4d")!;
    await assert.rejects(
      () => readPredictionInput(cine, ["cine"]),
      /Cannot predict case patient001_4d: \S+patient001_4d\.nii\.gz has 13 channel\(s\)/,
    );
    assert.deepEqual(nonScanFileRules("acdc").map((r) => r.suffix), ["_gt", "_4d"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("listPredictionInputs() names the case, the file and the channels in native layouts", async () => {
  const root = await Deno.makeTempDir({ prefix: "dicelab-native-err-" });
  try {
    const rng = new Rng(14, 3);
    await bratsTree(root, rng);
    const a = `${root}/HGG/Brats18_A_1/Brats18_A_1`;
    const b = `${root}/LGG/Brats18_B_2/Brats18_B_2`;
    const list = () => listPredictionInputs(root, BRATS_CHANNELS, { kind: "brats" });
    // A missing channel: the expected file in the subject's folder, the model's channels.
    await Deno.rename(`${b}_T1CE.nii`, `${root}/t1ce.bak`);
    await assert.rejects(
      list,
      new RegExp(
        `^TypeError: Cannot predict case Brats18_B_2: channel 0002 \\(t1ce\\) is missing \\(expected ` +
          `${b}_t1ce\\.nii; the model needs 4 channel\\(s\\): 0000 flair, 0001 t1, 0002 t1ce, 0003 t2\\)$`,
      ),
    );
    await Deno.rename(`${root}/t1ce.bak`, `${b}_T1CE.nii`);
    // A channel twice (names are case-insensitive).
    await writeVolume(`${a}_FLAIR.nii`, rng);
    await assert.rejects(
      list,
      new RegExp(
        `Cannot predict case Brats18_A_1: channel 0000 \\(flair\\) is there twice \\(` +
          `${a}_FLAIR\\.nii and ${a}_flair\\.nii\\.gz\\)`,
      ),
    );
    await Deno.remove(`${a}_FLAIR.nii`);
    // Numbered and named channel files for one case.
    await writeVolume(`${a}_0001.nii.gz`, rng);
    await assert.rejects(
      list,
      /Cannot predict case Brats18_A_1: it has numbered channel files \(\S+Brats18_A_1_0001\.nii\.gz\) and channel files named by channel \(\S+Brats18_A_1_flair\.nii\.gz\); keep one layout/,
    );
    await Deno.remove(`${a}_0001.nii.gz`);
    // One case id in two folders: the outputs would collide in --out.
    await Deno.mkdir(`${root}/LGG/copy`);
    await writeVolume(`${root}/LGG/copy/Brats18_A_1.nii.gz`, rng);
    await assert.rejects(
      list,
      new RegExp(
        `Cannot predict: case Brats18_A_1 is in two folders \\(${a}_flair\\.nii\\.gz and ` +
          `${root}/LGG/copy/Brats18_A_1\\.nii\\.gz\\); the outputs go flat into the output ` +
          `folder as Brats18_A_1\\.nii\\.gz, so case ids must be unique`,
      ),
    );
    // Only files that are not scans, no NIfTI at all, a label given directly.
    const labels = `${root}/labels`;
    await Deno.mkdir(`${labels}/x`, { recursive: true });
    await writeVolume(`${labels}/x/Brats18_C_3_seg.nii.gz`, rng);
    await assert.rejects(
      () => listPredictionInputs(labels, BRATS_CHANNELS, { kind: "brats" }),
      /Cannot predict: \S+labels holds no scan \(skipped 1 label file \(…_seg\.nii\.gz\)\)/,
    );
    await Deno.mkdir(`${root}/empty/a/b`, { recursive: true });
    await Deno.writeTextFile(`${root}/empty/a/Info.cfg`, "ED: 1\n");
    await assert.rejects(
      () => listPredictionInputs(`${root}/empty`, BRATS_CHANNELS),
      /Cannot predict: \S+empty holds no \.nii or \.nii\.gz file, nor do its subfolders/,
    );
    await assert.rejects(
      () => listPredictionInputs(`${a}_seg.nii.gz`, BRATS_CHANNELS, { kind: "brats" }),
      /Cannot predict: \S+Brats18_A_1_seg\.nii\.gz is a label file, not a scan \(file names ending in _seg are not scans for this model\)/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

gpuTest(
  "predict on the run's own ACDC phantom folders equals its evaluation and reports the skipped files",
  async () => {
    const run = await tinyRun();
    const tmp = await Deno.makeTempDir({ prefix: "dicelab-predict-native-" });
    try {
      const resolved = await readResolvedRun(run);
      const records = await pipelineDataset(resolved.pipeline).list(resolved.root);
      const predicted: string[] = [];
      for await (const e of Deno.readDir(`${run}/jobs/${TINY_JOB}/predictions`)) {
        predicted.push(e.name.replace(/\.nii\.gz$/, ""));
      }
      // The test patients' folders as the dataset has them (frames, _gt labels, Info.cfg), plus
      // the 4-D cine the phantom does not write.
      const tests = records.filter((r) => predicted.includes(r.id));
      const patients = [...new Set(tests.map((r) => r.subject))].sort();
      assert.ok(patients.length >= 2, `${patients.length} test patients`);
      for (const patient of patients) {
        const src = tests.find((r) => r.subject === patient)!.imagePaths[0].replace(/\/[^/]+$/, "");
        const dst = `${tmp}/in/training/${patient}`;
        await Deno.mkdir(dst, { recursive: true });
        for await (const e of Deno.readDir(src)) {
          await Deno.copyFile(`${src}/${e.name}`, `${dst}/${e.name}`);
        }
        const frame = await readNiftiFile(tests.find((r) => r.subject === patient)!.imagePaths[0]);
        await writeNiftiFile(`${dst}/${patient}_4d.nii.gz`, {
          shape: [...frame.shape.slice(0, 3), 2],
          data: Float32Array.from([...frame.data, ...frame.data]),
        });
      }
      const frames = records.filter((r) => patients.includes(r.subject));
      const r = await cli("predict", "--model", run, "--input", `${tmp}/in`, "--out", `${tmp}/out`);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`Predicting ${frames.length} case\\(s\\) with `));
      assert.match(
        r.out,
        new RegExp(
          `Done: ${frames.length} case\\(s\\) in [\\d.]+ s; labels in ${tmp}/out; skipped ` +
            `${patients.length} cine volumes \\(…_4d\\.nii\\.gz\\), ${frames.length} label files ` +
            `\\(…_gt\\.nii\\.gz\\) \\(not scans\\)`,
        ),
      );
      const written = [];
      for await (const e of Deno.readDir(`${tmp}/out`)) written.push(e.name);
      // Flat, one file per frame, named after the frame's file.
      const names = frames.map((f) => f.imagePaths[0].replace(/^.*\//, "")).sort();
      assert.deepEqual(written.sort(), names);
      for (const f of tests) {
        const name = f.imagePaths[0].replace(/^.*\//, "");
        const expected = await readNiftiFile(`${run}/jobs/${TINY_JOB}/predictions/${f.id}.nii.gz`);
        assert.deepEqual((await readNiftiFile(`${tmp}/out/${name}`)).data, expected.data, f.id);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

gpuTest(
  "predict on a BRATS tree writes one flat file per subject, its channels in the model's order",
  async (rt) => {
    const tmp = await Deno.makeTempDir({ prefix: "dicelab-predict-brats-" });
    try {
      // The scans' own 1 mm grid (the default 10 × 5 × 5 mm would leave one voxel of them).
      const model = seededModel({
        channels: BRATS_CHANNELS,
        seeds: [3],
        preprocessing: {
          size: [8, 32, 32],
          clipPercentiles: [0.5, 99.5],
          zscore: true,
          intensityMask: "nonzero",
        },
      });
      model.dataset.kind = "brats";
      await saveModel(`${tmp}/m.dicelab`, model);
      await bratsTree(`${tmp}/in`, new Rng(14, 4));
      const r = await cli(
        "predict",
        "--model",
        `${tmp}/m.dicelab`,
        "--input",
        `${tmp}/in`,
        "--out",
        `${tmp}/out`,
      );
      assert.equal(r.code, 0, r.err);
      assert.match(
        r.out,
        new RegExp(
          `Done: 2 case\\(s\\) in [\\d.]+ s; labels in ${tmp}/out; skipped 2 label files ` +
            `\\(…_seg\\.nii\\.gz, …_seg\\.nii\\) \\(not scans\\)`,
        ),
      );
      const written = [];
      for await (const e of Deno.readDir(`${tmp}/out`)) written.push(e.name);
      assert.deepEqual(written.sort(), ["Brats18_A_1.nii.gz", "Brats18_B_2.nii.gz"]);
      // The same labels as the library's prediction of the scans read in the model's order; a
      // permuted channel order predicts otherwise (the order reaches the network).
      const pool = new BufferPool(rt.device);
      const predictor = new ModelPredictor(rt, pool, model);
      try {
        for (const c of await listPredictionInputs(`${tmp}/in`, BRATS_CHANNELS)) {
          const scan = await readPredictionInput(c, BRATS_CHANNELS);
          const out = await readNiftiFile(`${tmp}/out/${c.id}.nii.gz`);
          assert.deepEqual(out.shape, SHAPE);
          const p = await predictor.predict(scan, { probabilities: true });
          assert.deepEqual(out.data, Float32Array.from(p.labels), c.id);
          const n = scan.image.length / 4;
          const swapped = new Float32Array(scan.image);
          swapped.set(scan.image.subarray(0, n), 3 * n);
          swapped.set(scan.image.subarray(3 * n), 0);
          const q = await predictor.predict({ ...scan, image: swapped }, { probabilities: true });
          assert.ok(q.probabilities!.some((v, i) => v !== p.probabilities![i]), c.id);
        }
      } finally {
        predictor.dispose();
        pool.destroy();
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);
