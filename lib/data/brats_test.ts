// listBrats and loadCase on a hand-made minimal BRATS 2018 layout.

import assert from "node:assert/strict";
import { writeBratsFixture, writeVolume } from "../../tests/data/_fixtures.ts";
import { listBrats } from "./brats.ts";
import { listDataset } from "./list_dataset.ts";
import { loadCase } from "./load_case.ts";

async function withFixture(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "brats_fixture_" });
  try {
    await writeBratsFixture(root);
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("listBrats lists HGG then LGG, sorted, channels FLAIR, T1, T1ce, T2", async () => {
  await withFixture(async (root) => {
    const records = await listDataset("brats", root);
    assert.deepEqual(
      records.map((r) => [r.id, r.group]),
      [["Brats18_2013_2_1", "HGG"], ["Brats18_CBICA_AAB_1", "HGG"], [
        "Brats18_TCIA09_141_1",
        "LGG",
      ]],
    );
    const r = records[2];
    const dir = `${root}/LGG/Brats18_TCIA09_141_1`;
    assert.deepEqual(r.imagePaths, [
      `${dir}/Brats18_TCIA09_141_1_flair.nii.gz`,
      `${dir}/Brats18_TCIA09_141_1_t1.nii.gz`,
      `${dir}/Brats18_TCIA09_141_1_t1ce.nii.gz`,
      `${dir}/Brats18_TCIA09_141_1_t2.nii.gz`,
    ]);
    assert.equal(r.labelPath, `${dir}/Brats18_TCIA09_141_1_seg.nii.gz`);
    assert.equal(r.subject, r.id);
  });
});

Deno.test("loadCase stacks the four channels and maps seg > 0 to the whole tumour", async () => {
  await withFixture(async (root) => {
    const [r] = await listBrats(root);
    const c = await loadCase(r, { clipPercentiles: null, zscore: false });
    assert.equal(c.channels, 4);
    assert.deepEqual(c.shape, [2, 3, 4]);
    const n = 24;
    // channel c, voxel (i, j, k): 1000·c + 1 + 100·k + 10·j + i
    for (let ch = 0; ch < 4; ch++) {
      assert.equal(c.image[ch * n + (1 * 3 + 2) * 4 + 3], 1000 * ch + 1 + 100 + 20 + 3);
    }
    // seg row j = 1: [0, 2, 1, 4] → [0, 1, 1, 1]
    assert.deepEqual(Array.from(c.label.subarray(4, 8)), [0, 1, 1, 1]);
    assert.deepEqual(Array.from(c.label.subarray(0, 4)), [0, 0, 0, 0]);
    assert.deepEqual(c.classes, ["background", "tumour"]);
  });
});

Deno.test("loadCase z-scores BRATS channels over the non-zero voxels only", async () => {
  await withFixture(async (root) => {
    const [r] = await listBrats(root);
    const flair = r.imagePaths[0];
    // Zero out half of the FLAIR; the other channels stay non-zero everywhere.
    const data = new Int16Array(24);
    for (let i = 0; i < 12; i++) data[i] = 10 + i;
    await writeVolume(flair, data);
    const c = await loadCase(r, { clipPercentiles: null });
    // Mask = union over channels of non-zero = every voxel (T1 is non-zero), so FLAIR is
    // z-scored over all 24 voxels: values 10..21 and twelve zeros.
    let mean = 0;
    for (let i = 0; i < 24; i++) mean += i < 12 ? 10 + i : 0;
    mean /= 24;
    let v = 0;
    for (let i = 0; i < 24; i++) v += ((i < 12 ? 10 + i : 0) - mean) ** 2;
    const sd = Math.sqrt(v / 24);
    assert.ok(Math.abs(c.image[0] - (10 - mean) / sd) < 1e-5);
    assert.ok(Math.abs(c.image[23] - (0 - mean) / sd) < 1e-5);
    assert.deepEqual(c.padValue, [0, 0, 0, 0]);
  });
});

Deno.test("listBrats names a missing modality, a misnamed folder and a root without HGG/LGG", async () => {
  await withFixture(async (root) => {
    const dir = `${root}/HGG/Brats18_CBICA_AAB_1`;
    await Deno.rename(
      `${dir}/Brats18_CBICA_AAB_1_t1ce.nii.gz`,
      `${dir}/Brats18_CBICA_AAB_1_T1CE.nii.gz`,
    );
    await assert.rejects(
      () => listBrats(root),
      (err: Error) =>
        err instanceof Deno.errors.NotFound &&
        err.message.includes(`${dir}/Brats18_CBICA_AAB_1_t1ce.nii.gz is missing`) &&
        err.message.includes("Brats18_CBICA_AAB_1_T1CE.nii.gz"),
    );
    await Deno.rename(
      `${dir}/Brats18_CBICA_AAB_1_T1CE.nii.gz`,
      `${dir}/Brats18_CBICA_AAB_1_t1ce.nii.gz`,
    );
    await Deno.mkdir(`${root}/LGG/case_042`);
    await assert.rejects(
      () => listBrats(root),
      (err: Error) =>
        err instanceof SyntaxError &&
        err.message.includes(`${root}/LGG/case_042 is not a Brats18_* case folder`),
    );
  });
  const empty = await Deno.makeTempDir();
  try {
    await assert.rejects(() => listBrats(empty), /holds neither HGG\/ nor LGG\//);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("loadCase names a BRATS seg with a label outside {0, 1, 2, 4} and a channel of another shape", async () => {
  await withFixture(async (root) => {
    const [r] = await listBrats(root);
    const seg = new Uint8Array(24);
    seg[5] = 3;
    await writeVolume(r.labelPath, seg);
    await assert.rejects(
      () => loadCase(r),
      (err: Error) =>
        err instanceof RangeError && err.message.includes(r.labelPath) &&
        err.message.includes("value 3") && err.message.includes("expected 0, 1, 2, 4"),
    );
    await writeVolume(r.labelPath, new Uint8Array(24));
    await writeVolume(r.imagePaths[2], new Int16Array(30), { shape: [5, 3, 2] });
    await assert.rejects(
      () => loadCase(r),
      (err: Error) => err instanceof TypeError && err.message.includes(r.imagePaths[2]),
    );
  });
});
