// listAcdc and loadCase on a hand-made minimal ACDC layout.

import assert from "node:assert/strict";
import {
  acdcLabel,
  FIXTURE_AFFINE,
  fixtureImage,
  writeAcdcFixture,
  writeVolume,
} from "../../tests/data/_fixtures.ts";
import { listAcdc } from "./acdc.ts";
import { loadCase } from "./load_case.ts";
import { writeNifti } from "../nifti/mod.ts";

async function withFixture(fn: (root: string, base: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "acdc_fixture_" });
  try {
    const base = await writeAcdcFixture(root);
    await fn(root, base);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const RAW = { clipPercentiles: null, zscore: false } as const;

Deno.test("listAcdc accepts <root> and <root>/training and yields ED then ES per patient", async () => {
  await withFixture(async (root, base) => {
    for (const dir of [root, base]) {
      const records = await listAcdc(dir);
      assert.deepEqual(records.map((r) => r.id), [
        "patient001_ED",
        "patient001_ES",
        "patient002_ED",
        "patient002_ES",
      ]);
      const es = records[1];
      assert.equal(es.dataset, "acdc");
      assert.equal(es.subject, "patient001");
      assert.equal(es.group, "ES");
      assert.deepEqual(es.imagePaths, [`${base}/patient001/patient001_frame03.nii.gz`]);
      assert.equal(es.labelPath, `${base}/patient001/patient001_frame03_gt.nii.gz`);
      assert.equal(es.meta.frame, 3);
      assert.equal(es.meta.pathology, "NOR");
    }
  });
});

Deno.test("loadCase keeps the NIfTI voxel order: W = i fastest, H = j, D = k", async () => {
  await withFixture(async (root) => {
    const [ed] = await listAcdc(root);
    const c = await loadCase(ed, RAW);
    assert.deepEqual(c.shape, [2, 3, 4]);
    assert.deepEqual(c.spacing, [5, 1.5, 1.5]);
    assert.deepEqual(c.affine, FIXTURE_AFFINE);
    assert.equal(c.channels, 1);
    // value 100·k + 10·j + i + 1 (patient 1) sits at [k][j][i]
    for (let k = 0; k < 2; k++) {
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < 4; i++) {
          assert.equal(c.image[(k * 3 + j) * 4 + i], 100 * k + 10 * j + i + 1);
        }
      }
    }
    assert.deepEqual(c.label, acdcLabel());
    assert.deepEqual(c.classes, ["background", "RV", "MYO", "LV"]);
    assert.equal(c.labeling, "full");
    assert.deepEqual(c.source.shape, [2, 3, 4]);
  });
});

Deno.test("listAcdc names a missing, unparsable or unreadable Info.cfg", async () => {
  await withFixture(async (root, base) => {
    const cfg = `${base}/patient002/Info.cfg`;
    await Deno.writeTextFile(cfg, "ED: 1\nES three\n");
    await assert.rejects(
      () => listAcdc(root),
      (err: Error) => err instanceof SyntaxError && err.message.includes(cfg),
    );
    await Deno.remove(cfg);
    await Deno.mkdir(cfg); // a folder where the file should be: unreadable
    await assert.rejects(() => listAcdc(root), (err: Error) => err.message.includes(cfg));
    await Deno.remove(cfg);
    await assert.rejects(
      () => listAcdc(root),
      (err: Error) =>
        err instanceof Deno.errors.NotFound && err.message.includes(`${cfg} is missing`),
    );
  });
});

Deno.test("listAcdc names a missing or misnamed frame and lists what it found", async () => {
  await withFixture(async (root, base) => {
    const dir = `${base}/patient001`;
    await Deno.rename(`${dir}/patient001_frame01.nii.gz`, `${dir}/patient001_frame1.nii.gz`);
    await assert.rejects(
      () => listAcdc(root),
      (err: Error) =>
        err instanceof Deno.errors.NotFound &&
        err.message.includes(`${dir}/patient001_frame01.nii.gz is missing`) &&
        err.message.includes("Info.cfg ED: 1") && err.message.includes("patient001_frame1.nii.gz"),
    );
    await Deno.rename(`${dir}/patient001_frame1.nii.gz`, `${dir}/patient001_frame01.nii.gz`);
    await Deno.remove(`${dir}/patient001_frame03_gt.nii.gz`);
    await assert.rejects(
      () => listAcdc(root),
      /patient001_frame03_gt\.nii\.gz is missing \(Info\.cfg ES: 3/,
    );
  });
});

Deno.test("listAcdc names a root that is missing or holds no patients", async () => {
  await assert.rejects(
    () => listAcdc("/nonexistent/acdc"),
    /\/nonexistent\/acdc is not a directory/,
  );
  const empty = await Deno.makeTempDir();
  try {
    await assert.rejects(() => listAcdc(empty), /holds patientXXX folders/);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("loadCase names image and label on a shape or affine mismatch", async () => {
  await withFixture(async (root, base) => {
    const [ed] = await listAcdc(root);
    const gt = `${base}/patient001/patient001_frame01_gt.nii.gz`;
    const img = `${base}/patient001/patient001_frame01.nii.gz`;
    await writeVolume(gt, new Uint8Array(4 * 3 * 3), { shape: [4, 3, 3] });
    await assert.rejects(
      () => loadCase(ed),
      (err: Error) =>
        err instanceof TypeError && err.message.includes(img) && err.message.includes(gt) &&
        err.message.includes("4×3×2") && err.message.includes("4×3×3"),
    );
    const moved = FIXTURE_AFFINE.map((r) => [...r]);
    moved[0][3] += 3;
    await writeVolume(gt, acdcLabel(), { affine: moved });
    await assert.rejects(
      () => loadCase(ed),
      (err: Error) =>
        err instanceof TypeError && /has affine/.test(err.message) && err.message.includes(gt),
    );
  });
});

Deno.test("loadCase names the label file and value outside {0, 1, 2, 3}", async () => {
  await withFixture(async (root, base) => {
    const [ed] = await listAcdc(root);
    const gt = `${base}/patient001/patient001_frame01_gt.nii.gz`;
    const bad = acdcLabel();
    bad[(1 * 3 + 2) * 4 + 3] = 5; // voxel (i, j, k) = (3, 2, 1)
    await writeVolume(gt, bad);
    await assert.rejects(
      () => loadCase(ed),
      (err: Error) =>
        err instanceof RangeError && err.message.includes(gt) &&
        err.message.includes("value 5 at voxel [3,2,1]") &&
        err.message.includes("expected 0, 1, 2, 3"),
    );
  });
});

Deno.test("loadCase names a file that vanished or is not NIfTI", async () => {
  await withFixture(async (root, base) => {
    const [ed] = await listAcdc(root);
    const img = `${base}/patient001/patient001_frame01.nii.gz`;
    await Deno.writeFile(img, new TextEncoder().encode("not a nifti file at all"));
    await assert.rejects(
      () => loadCase(ed),
      (err: Error) => err instanceof SyntaxError && err.message.includes(img),
    );
    await Deno.remove(img);
    await assert.rejects(
      () => loadCase(ed),
      (err: Error) => err instanceof Deno.errors.NotFound && err.message.includes(img),
    );
    await writeVolume(img, fixtureImage());
  });
});

Deno.test("loadCase names a label file whose voxel spacing is zero", async () => {
  await withFixture(async (root, base) => {
    const [ed] = await listAcdc(root);
    const gt = `${base}/patient001/patient001_frame01_gt.nii.gz`;
    const bytes = writeNifti({ shape: [4, 3, 2], data: acdcLabel(), affine: FIXTURE_AFFINE });
    new DataView(bytes.buffer).setFloat32(80, 0, true); // pixdim[1] = 0
    await Deno.writeFile(gt, bytes);
    await assert.rejects(
      () => loadCase(ed),
      (err: Error) =>
        err instanceof RangeError && err.message.includes(gt) && /spacing/.test(err.message),
    );
  });
});
