/**
 * `predict` end to end on the GPU: a phantom case predicted from the run folder, from its job
 * folder and from an exported model equals the run's own evaluation prediction voxel for voxel;
 * outputs on real headers keep the scan's dims and affine; fold ensembles, mirrored TTA, the
 * choice of a run's configuration, and the errors raised before any GPU work.
 */

import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import { Rng } from "../../lib/core/rng.ts";
import { alignedGrid, resampleLinear } from "../../lib/data/resample.ts";
import { mapAffine } from "../../lib/data/preprocess.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { saveModel } from "../../lib/model/model_file.ts";
import { ModelPredictor, predict } from "../../lib/model/model_predictor.ts";
import type { DicelabModel } from "../../lib/model/model_types.ts";
import {
  listPredictionInputs,
  readPredictionInput,
  type ScanVolumes,
} from "../../lib/model/prediction_inputs.ts";
import { writePrediction } from "../../lib/model/write_prediction.ts";
import { readNiftiFile } from "../../lib/nifti/read_nifti.ts";
import { writeNiftiFile } from "../../lib/nifti/write_nifti.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/nn/checkpoint.ts";
import { readResolvedRun } from "../../lib/pipeline/run_folder.ts";
import { modelFromPath, runModel } from "../../lib/pipeline/run_model.ts";
import { pipelineDataset } from "../../lib/pipeline/resolve.ts";
import type { GpuContext } from "../../lib/gpu/device.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { cli, geometry, SAMPLES, seededModel, TINY_JOB, tinyRun } from "./_fixtures.ts";

/** The test cases of the tiny run's job, copied as plain one-channel files into a folder. */
async function phantomInputs(run: string, dir: string): Promise<string[]> {
  const resolved = await readResolvedRun(run);
  const records = await pipelineDataset(resolved.pipeline).list(resolved.root);
  const ids: string[] = [];
  for await (const e of Deno.readDir(`${run}/jobs/${TINY_JOB}/predictions`)) {
    ids.push(e.name.replace(/\.nii\.gz$/, ""));
  }
  await Deno.mkdir(dir, { recursive: true });
  for (const id of ids.sort()) {
    const r = records.find((r) => r.id === id)!;
    await Deno.copyFile(r.imagePaths[0], `${dir}/${id}.nii.gz`);
  }
  return ids;
}

async function predictAll(
  rt: GpuRuntime,
  model: DicelabModel,
  scans: readonly ScanVolumes[],
  o: { tta?: "none" | "mirror"; folds?: number[] } = {},
) {
  const pool = new BufferPool(rt.device);
  const predictor = new ModelPredictor(rt, pool, model, o);
  try {
    const out = [];
    for (const s of scans) out.push(await predictor.predict(s, { probabilities: true }));
    return out;
  } finally {
    predictor.dispose();
    pool.destroy();
  }
}

gpuTest(
  "the prediction of a phantom case equals the run's own evaluation prediction",
  async (rt) => {
    const run = await tinyRun();
    const tmp = await Deno.makeTempDir({ prefix: "dicelab-predict-" });
    try {
      const ids = await phantomInputs(run, `${tmp}/in`);
      assert.ok(ids.length >= 4, `${ids.length} test cases`);
      const expected = new Map<string, Float32Array | Float64Array>();
      for (const id of ids) {
        expected.set(
          id,
          (await readNiftiFile(`${run}/jobs/${TINY_JOB}/predictions/${id}.nii.gz`)).data,
        );
      }
      // From the library: the run folder and the job folder give the same model.
      const channels = ["cine"];
      const cases = await listPredictionInputs(`${tmp}/in`, channels);
      const scans = await Promise.all(cases.map((c) => readPredictionInput(c, channels)));
      for (const source of [run, `${run}/jobs/${TINY_JOB}`]) {
        const model = await modelFromPath(source, {});
        assert.deepEqual(model.dataset.channels, channels);
        const preds = await predictAll(rt, model, scans);
        for (const p of preds) {
          assert.deepEqual(Float32Array.from(p.labels), expected.get(p.id), `${source}: ${p.id}`);
        }
      }
      // From the command line, from the run and from an exported model file.
      const exp = await cli("export", run, "--out", `${tmp}/model/tiny.dicelab`);
      assert.equal(exp.code, 0, exp.err);
      assert.match(exp.out, /Exported partial\/I\/b2 of tiny-acdc, fold 0 \(final\), to /);
      // The same network as ONNX, carrying its preprocessing recipe.
      const onnx = await cli("export", run, "--out", `${tmp}/model/tiny.onnx`, "--format", "onnx");
      assert.equal(onnx.code, 0, onnx.err);
      assert.match(onnx.out, /to \S+tiny\.onnx \(ONNX, /);
      const proto = onnxProto.onnx.ModelProto.decode(await Deno.readFile(`${tmp}/model/tiny.onnx`));
      const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
      assert.equal(meta.classes, JSON.stringify(["background", "RV", "MYO", "LV"]));
      assert.ok(meta.patch_size && meta.zscore === "true");
      for (
        const [model, out] of [[run, `${tmp}/out-run`], [
          `${tmp}/model/tiny.dicelab`,
          `${tmp}/out-file`,
        ]]
      ) {
        const r = await cli(
          "predict",
          "--model",
          model,
          "--input",
          `${tmp}/in`,
          "--out",
          out,
          "--probabilities",
        );
        assert.equal(r.code, 0, r.err);
        assert.match(
          r.out,
          new RegExp(
            `Predicting ${ids.length} case\\(s\\) with partial/I/b2 of tiny-acdc \\(fold 0\\)`,
          ),
        );
        assert.match(
          r.out,
          new RegExp(`\\[#+\\] ${ids.length}/${ids.length} ${ids.at(-1)} [\\d.]+ s/case ETA 0s`),
        );
        assert.match(
          r.out,
          new RegExp(
            `Done: ${ids.length} case\\(s\\) in [\\d.]+ s; labels and probabilities in ${out}`,
          ),
        );
        for (const id of ids) {
          const labels = await readNiftiFile(`${out}/${id}.nii.gz`);
          assert.deepEqual(labels.data, expected.get(id), `${model}: ${id}`);
          const input = await readNiftiFile(`${tmp}/in/${id}.nii.gz`);
          assert.deepEqual(geometry(labels.header), geometry(input.header), id);
          const prob = await readNiftiFile(`${out}/${id}_prob.nii.gz`);
          assert.deepEqual(prob.shape, [...input.shape, 4]);
          const n = input.data.length;
          for (let i = 0; i < n; i += 97) {
            const sum = [0, 1, 2, 3].reduce((s, k) => s + prob.data[k * n + i], 0);
            assert.ok(Math.abs(sum - 1) < 1e-5, `${id} voxel ${i}: probabilities sum to ${sum}`);
          }
        }
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

gpuTest(
  "predict keeps the dims and affine of real scans, also resampled to another spacing",
  async (rt) => {
    const tmp = await Deno.makeTempDir({ prefix: "dicelab-predict-geo-" });
    try {
      // A CT slab resampled from 0.79 × 0.79 × 5 mm to 1.3 × 1.1 × 3.5 mm (odd new dims).
      const ct = await readNiftiFile(`${SAMPLES}sub-spleen2_ct.nii.gz`);
      const shape: [number, number, number] = [ct.shape[2], ct.shape[1], ct.shape[0]];
      const spacing: [number, number, number] = [ct.spacing[2], ct.spacing[1], ct.spacing[0]];
      const g = alignedGrid(shape, spacing, [3.5, 1.1, 1.3]);
      const data = resampleLinear({ data: Float32Array.from(ct.data), shape, channels: 1 }, g);
      const affine = mapAffine(ct.affine, g);
      await writeNiftiFile(`${tmp}/ct_resampled.nii.gz`, {
        shape: [g.shape[2], g.shape[1], g.shape[0]],
        data,
        affine,
      });
      const files = [
        `${tmp}/ct_resampled.nii.gz`,
        `${SAMPLES}lesion.nii.gz`, // oblique
        `${SAMPLES}shear.nii.gz`, // sheared
        `${SAMPLES}standard.nii.gz`, // odd 4×5×7, anisotropic
        `${SAMPLES}avg152T1_LR_nifti2.nii.gz`, // NIfTI-2
      ];
      const model = seededModel();
      const scans = [];
      for (const f of files) {
        const [c] = await listPredictionInputs(f, model.dataset.channels);
        scans.push(await readPredictionInput(c, model.dataset.channels));
      }
      const preds = await predict(model, scans, {
        probabilities: true,
        gpu: { device: rt.device } as unknown as GpuContext,
      });
      for (const [i, p] of preds.entries()) {
        await writePrediction(tmp, p);
        const input = await readNiftiFile(files[i]);
        const out = await readNiftiFile(`${tmp}/${p.id}.nii.gz`);
        const prob = await readNiftiFile(`${tmp}/${p.id}_prob.nii.gz`);
        const f32 = input.header.version === 2;
        assert.deepEqual(out.shape, input.shape.slice(0, 3), files[i]);
        assert.deepEqual(geometry(out.header), geometry(input.header, f32), files[i]);
        assert.deepEqual(geometry(prob.header), geometry(input.header, f32), files[i]);
        if (!f32) assert.deepEqual(out.affine, input.affine, files[i]);
      }
      assert.deepEqual(g.shape.some((n, a) => n !== shape[a]), true);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

gpuTest("an ensemble averages its folds' probabilities; --folds selects members", async (rt) => {
  const model = seededModel({ seeds: [1, 2] });
  const [c] = await listPredictionInputs(`${SAMPLES}lesion.nii.gz`, ["image"]);
  const scan = await readPredictionInput(c, ["image"]);
  const [both] = await predictAll(rt, model, [scan]);
  const [p0] = await predictAll(rt, model, [scan], { folds: [0] });
  const [p1] = await predictAll(rt, model, [scan], { folds: [1] });
  let max = 0;
  for (let i = 0; i < both.probabilities!.length; i++) {
    const mean = (p0.probabilities![i] + p1.probabilities![i]) / 2;
    max = Math.max(max, Math.abs(both.probabilities![i] - mean));
  }
  assert.ok(max < 1e-6, `ensemble vs mean of folds: max difference ${max}`);
  assert.ok(p0.labels.some((v, i) => v !== p1.labels[i]), "the two folds predict alike");
  await assert.rejects(
    () => predictAll(rt, model, [scan], { folds: [3] }),
    /Cannot select fold 3: the model has fold\(s\) 0, 1/,
  );
});

gpuTest("mirrored TTA makes the prediction commute with flips of the scan", async (rt) => {
  // No resampling and a size the windows tile symmetrically (starts 0, 2, 4 and 0, 8, 16):
  // only the network breaks the symmetry, and the 8 mirrored passes restore it.
  const model = seededModel({
    preprocessing: { size: [8, 32, 32], clipPercentiles: null, zscore: true, intensityMask: "all" },
  });
  const rng = new Rng(11, 0);
  const n = 8 * 32 * 32;
  const image = new Float32Array(n).map(() => rng.normal());
  const flipped = new Float32Array(n);
  for (let z = 0; z < 8; z++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        flipped[(z * 32 + y) * 32 + x] = image[(z * 32 + y) * 32 + 31 - x];
      }
    }
  }
  const header = (await readNiftiFile(`${SAMPLES}standard.nii.gz`)).header;
  const scan = (id: string, data: Float32Array): ScanVolumes => ({
    id,
    image: data,
    channels: 1,
    shape: [8, 32, 32],
    spacing: [1, 1, 1],
    affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    header,
  });
  const differences = async (tta: "none" | "mirror") => {
    const [a, b] = await predictAll(rt, model, [scan("a", image), scan("b", flipped)], { tta });
    let max = 0;
    const K = 3;
    for (let k = 0; k < K; k++) {
      for (let z = 0; z < 8; z++) {
        for (let y = 0; y < 32; y++) {
          for (let x = 0; x < 32; x++) {
            const i = k * n + (z * 32 + y) * 32 + x;
            const j = k * n + (z * 32 + y) * 32 + 31 - x;
            max = Math.max(max, Math.abs(a.probabilities![i] - b.probabilities![j]));
          }
        }
      }
    }
    return max;
  };
  const mirrored = await differences("mirror");
  assert.ok(mirrored < 1e-5, `with TTA: ${mirrored}`);
  const plain = await differences("none");
  assert.ok(plain > 1e-3, `without TTA the network is not symmetric (${plain})`);
});

/** A copy of the tiny run with more jobs: a second fold (other weights) and another labeling. */
async function widenedRun(run: string, dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/jobs`, { recursive: true });
  await Deno.copyFile(`${run}/pipeline.json`, `${dir}/pipeline.json`);
  const result = JSON.parse(await Deno.readTextFile(`${run}/jobs/${TINY_JOB}/result.json`));
  const ckpt = await loadCheckpoint(`${run}/jobs/${TINY_JOB}/weights.ckpt`);
  const rng = new Rng(5, 0);
  for (
    const [id, fold, labeling, scale] of [
      [TINY_JOB, 0, "partial", 0],
      ["f1-partial-I-b2", 1, "partial", 0.3],
      ["f0-full-I-b2", 0, "full", 0.3],
    ] as const
  ) {
    await Deno.mkdir(`${dir}/jobs/${id}`);
    await Deno.writeTextFile(
      `${dir}/jobs/${id}/result.json`,
      JSON.stringify({ ...result, job: { ...result.job, id, fold, labeling } }),
    );
    await saveCheckpoint(`${dir}/jobs/${id}/weights.ckpt`, {
      ...ckpt,
      tensors: ckpt.tensors.map((t) => ({
        ...t,
        data: t.data.map((v) => v * (1 + scale * rng.normal())),
      })),
    });
  }
  await Deno.mkdir(`${dir}/jobs/f1-full-I-b2`); // not finished: no result.json
}

gpuTest(
  "a run folder gives the ensemble of one configuration, chosen with --config",
  async (rt) => {
    const run = await tinyRun();
    const tmp = await Deno.makeTempDir({ prefix: "dicelab-predict-cfg-" });
    try {
      await widenedRun(run, `${tmp}/run`);
      await phantomInputs(run, `${tmp}/in`);
      const ambiguous = await cli(
        "predict",
        "--model",
        `${tmp}/run`,
        "--input",
        `${tmp}/in`,
        "--out",
        `${tmp}/o`,
      );
      assert.equal(ambiguous.code, 2, ambiguous.err);
      assert.match(
        ambiguous.err,
        /Cannot choose a model in \S+run: it has 2 configurations; pick one with --config LABELING\/EXPERIMENT\/B:\n {2}full\/I\/b2 \(fold 0\)\n {2}partial\/I\/b2 \(folds 0, 1\)/,
      );
      const unknown = await cli(
        "export",
        `${tmp}/run`,
        "--config",
        "partial/leaf/b2",
        "--out",
        `${tmp}/x.dicelab`,
      );
      assert.equal(unknown.code, 2);
      assert.match(
        unknown.err,
        /Invalid --config partial\/leaf\/b2: the run has no finished job of it; the run has\n {2}full\/I\/b2/,
      );
      const missing = await cli(
        "export",
        `${tmp}/run`,
        "--config",
        "partial/I/2",
        "--folds",
        "0,2",
        "--out",
        `${tmp}/x.dicelab`,
      );
      assert.equal(missing.code, 2);
      assert.match(
        missing.err,
        /Invalid --folds: fold 2 of partial\/I\/b2 is not finished in \S+ \(finished: 0, 1\)/,
      );
      await assert.rejects(() => Deno.stat(`${tmp}/o`));
      await assert.rejects(() => Deno.stat(`${tmp}/x.dicelab`));

      const ensemble = await runModel(`${tmp}/run`, { config: "partial/I/b2" });
      assert.deepEqual(ensemble.members.map((m) => [m.fold, m.job, m.weights]), [
        [0, TINY_JOB, "final"],
        [1, "f1-partial-I-b2", "final"],
      ]);
      assert.equal(ensemble.provenance.labeling, "partial");
      assert.equal(ensemble.members[1].seed, ensemble.provenance.seed * 1000 + 1);
      const one = await runModel(`${tmp}/run`, { config: "partial/I/b2", folds: [1] });
      assert.deepEqual(one.members.map((m) => m.fold), [1]);
      // The exported ensemble predicts what the run folder predicts.
      const exp = await cli(
        "export",
        `${tmp}/run`,
        "--config",
        "partial/I/b2",
        "--out",
        `${tmp}/e.dicelab`,
      );
      assert.equal(exp.code, 0, exp.err);
      assert.match(exp.out, /folds 0 \(final\), 1 \(final\)/);
      for (const model of [`${tmp}/run`, `${tmp}/e.dicelab`]) {
        const r = await cli(
          "predict",
          "--model",
          model,
          ...(model.endsWith(".dicelab") ? [] : ["--config", "partial/I/b2"]),
          "--input",
          `${tmp}/in`,
          "--out",
          `${tmp}/out-${model.endsWith(".dicelab") ? "file" : "run"}`,
        );
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /\(folds 0, 1\)/);
      }
      for await (const e of Deno.readDir(`${tmp}/out-run`)) {
        const a = await readNiftiFile(`${tmp}/out-run/${e.name}`);
        const b = await readNiftiFile(`${tmp}/out-file/${e.name}`);
        assert.deepEqual(a.data, b.data, e.name);
      }
      const [c] = await listPredictionInputs(`${tmp}/in`, ["cine"]);
      const scan = await readPredictionInput(c, ["cine"]);
      const [ens] = await predictAll(rt, ensemble, [scan]);
      const [f0] = await predictAll(rt, ensemble, [scan], { folds: [0] });
      assert.ok(ens.labels.some((v, i) => v !== f0.labels[i]), "the second fold changes nothing");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

gpuTest(
  "predict names a missing channel or a wrong channel count before any GPU work",
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "dicelab-predict-err-" });
    try {
      await saveModel(`${tmp}/m.dicelab`, seededModel({ channels: ["flair", "t1", "t1ce", "t2"] }));
      await Deno.mkdir(`${tmp}/in`);
      const vol = { shape: [8, 8, 4], data: new Float32Array(256) };
      for (const c of [0, 1, 3]) await writeNiftiFile(`${tmp}/in/Brain7_000${c}.nii.gz`, vol);
      const a = await cli(
        "predict",
        "--model",
        `${tmp}/m.dicelab`,
        "--input",
        `${tmp}/in`,
        "--out",
        `${tmp}/out`,
      );
      assert.equal(a.code, 1);
      assert.match(
        a.err,
        /^Error: Cannot predict case Brain7: channel 0002 \(t1ce\) is missing \(expected \S+Brain7_0002\.nii\.gz; the model needs 4 channel\(s\): 0000 flair, 0001 t1, 0002 t1ce, 0003 t2\)/,
      );
      await Deno.remove(`${tmp}/in`, { recursive: true });
      await Deno.mkdir(`${tmp}/in`);
      await writeNiftiFile(`${tmp}/in/Brain8.nii.gz`, {
        shape: [8, 8, 4, 2],
        data: new Float32Array(512),
      });
      const b = await cli(
        "predict",
        "--model",
        `${tmp}/m.dicelab`,
        "--input",
        `${tmp}/in`,
        "--out",
        `${tmp}/out`,
      );
      assert.equal(b.code, 1);
      assert.match(
        b.err,
        /Cannot predict case Brain8: \S+Brain8\.nii\.gz has 2 channel\(s\) \(shape 8×8×4×2\), the model needs 4/,
      );
      await assert.rejects(() => Deno.stat(`${tmp}/out`), "nothing written before the checks pass");
      // Flags (with a valid 4-D input where the input must pass).
      await Deno.mkdir(`${tmp}/ok`);
      await writeNiftiFile(`${tmp}/ok/Brain9.nii.gz`, {
        shape: [8, 8, 4, 4],
        data: new Float32Array(1024),
      });
      const usage = [
        [["predict", "--input", "x", "--out", "y"], /predict needs --model/],
        [[
          "predict",
          "--model",
          `${tmp}/m.dicelab`,
          "--input",
          `${tmp}/in`,
          "--out",
          "y",
          "--tta",
          "flip",
        ], /Invalid --tta: expected "mirror" or "none", got "flip"/],
        [[
          "predict",
          "--model",
          `${tmp}/m.dicelab`,
          "--input",
          `${tmp}/in`,
          "--out",
          "y",
          "--step",
          "0",
        ], /Invalid --step: expected a fraction of the window in \(0, 1\], got "0"/],
        [[
          "predict",
          "--model",
          `${tmp}/m.dicelab`,
          "--input",
          `${tmp}/in`,
          "--out",
          "y",
          "--folds",
          "1",
        ], /Invalid --folds: Cannot select fold 1: the model has fold\(s\) 0/],
        [
          ["predict", "--model", `${tmp}/none`, "--input", `${tmp}/in`, "--out", "y"],
          /Invalid model \S+none: it does not exist/,
        ],
        [
          ["predict", "--model", `${tmp}/m.dicelab`, "--input", `${tmp}/nowhere`, "--out", "y"],
          /Invalid --input: \S+nowhere does not exist/,
        ],
        [
          ["predict", "--model", `${tmp}/m.dicelab`, "--input", `${tmp}/ok`, "--out", `${tmp}/ok`],
          /Invalid --out: \S+ok\/Brain9\.nii\.gz would overwrite an input/,
        ],
        [
          ["export", tmp, "--out", "m.x", "--format", "png"],
          /Invalid --format: expected "dicelab" or "onnx", got "png"/,
        ],
        [["export", tmp], /export needs --out FILE/],
      ] as const;
      for (const [args, re] of usage) {
        const r = await cli(...args);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
        assert.match(r.err, re);
      }
      const full = await Deno.readFile(`${tmp}/m.dicelab`);
      await Deno.writeFile(
        `${tmp}/bad.dicelab`,
        full.subarray(0, full.length - 1000),
      );
      const bad = await cli(
        "predict",
        "--model",
        `${tmp}/bad.dicelab`,
        "--input",
        `${tmp}/in`,
        "--out",
        `${tmp}/out`,
      );
      assert.equal(bad.code, 1);
      assert.match(
        bad.err,
        /Error: Cannot read model \S+bad\.dicelab: the file is truncated \(\d+ of \d+ bytes\)/,
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);
