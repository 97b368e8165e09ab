/**
 * Outputs in the geometry of their scan (real headers from tests/testdata/nifti: oblique and
 * sheared affines, anisotropic spacing, odd dims, qform-only and sform-only, both NIfTI
 * versions), probabilities mapped back trilinearly, and the input layouts and their errors.
 */

import assert from "node:assert/strict";
import { toSourceGrid } from "../../lib/data/load_case.ts";
import type { LoadedCase, Vec3 } from "../../lib/data/types.ts";
import { flipWindow } from "../../lib/model/model_predictor.ts";
import { listPredictionInputs, readPredictionInput } from "../../lib/model/prediction_inputs.ts";
import { probabilitiesToSourceGrid } from "../../lib/model/probabilities_to_source.ts";
import { writePrediction } from "../../lib/model/write_prediction.ts";
import { readNiftiFile } from "../../lib/nifti/read_nifti.ts";
import { writeNiftiFile } from "../../lib/nifti/write_nifti.ts";
import { Rng } from "../../lib/core/rng.ts";
import { geometry, SAMPLES } from "./_fixtures.ts";

const CASES = [
  "lesion.nii.gz", // oblique qform/sform
  "shear.nii.gz", // sheared sform, anisotropic, scl_slope/inter on the input
  "standard.nii.gz", // odd 4×5×7, 1×3×2 mm, sform only
  "anatomical.nii", // big-endian, odd 33×41×25, qfac −1
  "big.nii.gz", // qform only
  "minimal.nii.gz", // qform_code = sform_code = 0
  "someones_anatomy.nii.gz", // MNI codes 4
  "avg152T1_LR_nifti2.nii.gz", // NIfTI-2, sform only
  "example_nifti2.nii.gz", // NIfTI-2, 4-D (2 channels)
  "example4d.nii.gz", // 4-D with extensions
];

Deno.test("writePrediction() keeps each scan's dims, pixdim, codes and matrices", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab-geometry-" });
  try {
    for (const name of CASES) {
      const scan = await readNiftiFile(`${SAMPLES}${name}`);
      const [nx, ny, nz] = scan.shape;
      const n = nx * ny * nz;
      const labels = new Uint8Array(n).map((_, i) => (scan.data[i] > 0 ? 1 : 0));
      const probabilities = new Float32Array(2 * n).map((_, i) => (i % 7) / 7);
      const id = name.replace(/\.nii(\.gz)?$/, "");
      const paths = await writePrediction(dir, {
        id,
        shape: [nx, ny, nz],
        labels,
        probabilities,
        maps: 2,
        header: scan.header,
      });
      assert.deepEqual(paths, [`${dir}/${id}.nii.gz`, `${dir}/${id}_prob.nii.gz`]);
      const want = geometry(scan.header, scan.header.version === 2);
      const lab = await readNiftiFile(paths[0]);
      const prob = await readNiftiFile(paths[1]);
      assert.deepEqual(geometry(lab.header), want, `${name}: labels`);
      assert.deepEqual(geometry(prob.header), want, `${name}: probabilities`);
      assert.deepEqual(lab.shape, [nx, ny, nz]);
      assert.deepEqual(prob.shape, [nx, ny, nz, 2]);
      assert.equal(lab.datatype, "uint8");
      assert.deepEqual(lab.data, Float32Array.from(labels));
      assert.deepEqual(prob.data, probabilities);
      if (scan.header.version === 1) assert.deepEqual(lab.affine, scan.affine, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A case whose grid maps to a source grid by `grid` (only the fields the maps read). */
function caseOn(shape: Vec3, source: Vec3, grid: { scale: Vec3; offset: Vec3 }): LoadedCase {
  return {
    id: "c",
    shape,
    source: { shape: source, spacing: [1, 1, 1], affine: [], grid },
  } as unknown as LoadedCase;
}

Deno.test("probabilitiesToSourceGrid() copies an identity grid exactly", () => {
  const rng = new Rng(7, 0);
  const shape: Vec3 = [3, 4, 5];
  const probs = new Float32Array(2 * 60).map(() => rng.uniform(0, 1));
  const out = probabilitiesToSourceGrid(probs, shape, {
    shape,
    grid: { scale: [1, 1, 1], offset: [0, 0, 0] },
  });
  assert.deepEqual(out, probs);
});

Deno.test("probabilitiesToSourceGrid() is exact on linear maps and covers toSourceGrid's voxels", () => {
  // A preprocessed grid 2.5× coarser along W, 2× along H, centred (as alignedGrid) and then
  // cropped: source = scale · index + offset.
  const shape: Vec3 = [3, 4, 5];
  const source: Vec3 = [4, 9, 15];
  const grid = { scale: [1.5, 2, 2.5] as Vec3, offset: [-0.25, 0.5, 1.5] as Vec3 };
  const [D, H, W] = shape;
  const f = (z: number, y: number, x: number) => 0.1 + 0.02 * z + 0.03 * y + 0.05 * x;
  const probs = new Float32Array(D * H * W);
  for (let z = 0; z < D; z++) {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) probs[(z * H + y) * W + x] = f(z, y, x);
  }
  const out = probabilitiesToSourceGrid(probs, shape, { shape: source, grid }, { outside: [-1] });
  const support = toSourceGrid(new Uint8Array(D * H * W).fill(1), caseOn(shape, source, grid));
  const clamp = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
  let i = 0;
  for (let z = 0; z < source[0]; z++) {
    for (let y = 0; y < source[1]; y++) {
      for (let x = 0; x < source[2]; x++, i++) {
        if (support[i] === 0) {
          assert.equal(out[i], -1, `voxel ${i} is outside`);
          continue;
        }
        const c = [z, y, x].map((v, a) => clamp((v - grid.offset[a]) / grid.scale[a], shape[a]));
        assert.ok(Math.abs(out[i] - f(c[0], c[1], c[2])) < 1e-6, `voxel ${i}: ${out[i]}`);
      }
    }
  }
  assert.ok(support.some((v) => v === 0) && support.some((v) => v === 1));
});

Deno.test("flipWindow() flips each axis and is its own inverse", () => {
  const win: [number, number, number] = [2, 3, 4];
  const src = Float32Array.from({ length: 2 * 24 }, (_, i) => i);
  const out = new Float32Array(48);
  flipWindow(src, 2, win, 4, out); // W
  assert.deepEqual(Array.from(out.subarray(0, 4)), [3, 2, 1, 0]);
  flipWindow(src, 2, win, 1, out); // D
  assert.equal(out[0], 12);
  assert.equal(out[24], 36);
  for (let mask = 0; mask < 8; mask++) {
    const back = new Float32Array(48);
    flipWindow(flipWindow(src, 2, win, mask, out), 2, win, mask, back);
    assert.deepEqual(back, src, `mask ${mask}`);
  }
});

Deno.test("listPredictionInputs() groups nnU-Net channel files and plain files by case", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab-inputs-" });
  try {
    const vol = (v: number) => ({ shape: [3, 2, 2], data: new Float32Array(12).fill(v) });
    for (const c of [0, 1, 2]) await writeNiftiFile(`${dir}/caseA_000${c}.nii.gz`, vol(c));
    await writeNiftiFile(`${dir}/caseB.nii.gz`, {
      shape: [3, 2, 2, 3],
      data: new Float32Array(36),
    });
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a scan");
    const channels = ["flair", "t1", "t2"];
    const cases = await listPredictionInputs(dir, channels);
    assert.deepEqual(cases, [
      {
        id: "caseA",
        layout: "channels",
        files: [0, 1, 2].map((c) => `${dir}/caseA_000${c}.nii.gz`),
      },
      { id: "caseB", layout: "single", files: [`${dir}/caseB.nii.gz`] },
    ]);
    const a = await readPredictionInput(cases[0], channels);
    assert.deepEqual(a.shape, [2, 2, 3]);
    assert.deepEqual(Array.from(a.image.subarray(0, 24)), [
      ...new Array(12).fill(0),
      ...new Array(12).fill(1),
    ]);
    const b = await readPredictionInput(cases[1], channels);
    assert.equal(b.channels, 3);
    // A channel file given directly brings its siblings.
    const one = await listPredictionInputs(`${dir}/caseA_0001.nii.gz`, channels);
    assert.deepEqual(one, [cases[0]]);
    // Errors name the case, the file and the model's channels.
    await Deno.remove(`${dir}/caseA_0001.nii.gz`);
    await assert.rejects(
      () => listPredictionInputs(dir, channels),
      new RegExp(
        `Cannot predict case caseA: channel 0001 \\(t1\\) is missing \\(expected ` +
          `${dir}/caseA_0001\\.nii\\.gz; the model needs 3 channel\\(s\\): 0000 flair, 0001 t1, 0002 t2\\)`,
      ),
    );
    await assert.rejects(
      () => listPredictionInputs(`${dir}/caseA_0000.nii.gz`, ["flair"]),
      /Cannot predict case caseA: it has channel file \S+caseA_0002\.nii\.gz but the model needs 1 channel\(s\): 0000 flair/,
    );
    await assert.rejects(
      () => readPredictionInput(cases[1], ["flair", "t1"]),
      /Cannot predict case caseB: \S+caseB\.nii\.gz has 3 channel\(s\) \(shape 3×2×2×3\), the model needs 2 channel\(s\): 0000 flair, 0001 t1/,
    );
    for (const c of [0, 2]) await Deno.remove(`${dir}/caseA_000${c}.nii.gz`);
    await writeNiftiFile(`${dir}/caseB_0000.nii.gz`, vol(0));
    await assert.rejects(
      () => listPredictionInputs(dir, ["x"]),
      /Cannot predict case caseB: it is both a file \(\S+caseB\.nii\.gz\) and channel files/,
    );
    await assert.rejects(
      () => listPredictionInputs(`${dir}/notes.txt`, ["x"]),
      /is not a \.nii or \.nii\.gz file/,
    );
    await assert.rejects(
      () => listPredictionInputs(`${dir}/none`, ["x"]),
      /Cannot read input \S+none: it does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readPredictionInput() refuses channel files on different grids and non-finite voxels", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab-inputs-" });
  try {
    await writeNiftiFile(`${dir}/c_0000.nii`, { shape: [3, 2, 2], data: new Float32Array(12) });
    await writeNiftiFile(`${dir}/c_0001.nii`, {
      shape: [3, 2, 2],
      data: new Float32Array(12),
      spacing: [2, 1, 1],
    });
    const [c] = await listPredictionInputs(dir, ["a", "b"]);
    await assert.rejects(
      () => readPredictionInput(c, ["a", "b"]),
      /c_0001\.nii and \S+c_0000\.nii have different affines/,
    );
    await writeNiftiFile(`${dir}/c_0001.nii`, {
      shape: [3, 2, 2],
      data: new Float32Array(12).fill(NaN),
    });
    await assert.rejects(
      () => readPredictionInput(c, ["a", "b"]),
      /c_0001\.nii holds a non-finite value \(NaN\) at voxel 0 of channel 1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
