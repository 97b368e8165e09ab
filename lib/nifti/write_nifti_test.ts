// writeNifti round trips: read a real file, write it, read it back → identical header fields
// and data; plus geometry, scaling, gzip and error cases of the writer.

import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import {
  type NiftiHeader,
  readNifti,
  readNiftiFile,
  writeNifti,
  writeNiftiAsync,
  writeNiftiFile,
} from "./mod.ts";

const DIR = new URL("../../tests/testdata/nifti/", import.meta.url).pathname;
const manifest = JSON.parse(await Deno.readTextFile(DIR + "manifest.json")) as {
  files: { file: string; nifti_version: number; datatype_name: string }[];
};
const SCALAR = manifest.files.filter((f) => !["complex_image.nii.gz", "3D.nii"].includes(f.file));

// Fields a NIfTI-1 rewrite keeps exactly (byte order, vox_offset, magic and the extension
// flag describe the container, not the image).
const KEPT: (keyof NiftiHeader)[] = [
  "dimInfo",
  "intentP1",
  "intentP2",
  "intentP3",
  "intentCode",
  "datatypeCode",
  "bitpix",
  "sliceStart",
  "pixdim",
  "sclSlope",
  "sclInter",
  "sliceEnd",
  "sliceCode",
  "xyztUnits",
  "calMax",
  "calMin",
  "sliceDuration",
  "toffset",
  "descrip",
  "auxFile",
  "qformCode",
  "sformCode",
  "quaternB",
  "quaternC",
  "quaternD",
  "qoffsetX",
  "qoffsetY",
  "qoffsetZ",
  "srowX",
  "srowY",
  "srowZ",
  "intentName",
  "extensions",
];

function same(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

Deno.test("writeNifti round-trips every scalar NIfTI-1 sample: header fields and data", async (t) => {
  for (const f of SCALAR.filter((x) => x.nifti_version === 1)) {
    await t.step(f.file, async () => {
      const first = readNifti(await Deno.readFile(DIR + f.file), { float64: true });
      const bytes = writeNifti(first, { gzip: f.file.endsWith(".gz"), level: 1 });
      const again = readNifti(bytes, { float64: true });
      assert.equal(again.datatype, first.datatype);
      assert.deepEqual(again.shape, first.shape);
      assert.deepEqual(again.spacing, first.spacing);
      assert.deepEqual(again.affine, first.affine);
      assert.deepEqual(
        again.header.dim.slice(0, first.shape.length + 1),
        first.header.dim.slice(0, first.shape.length + 1),
      );
      for (const key of KEPT) {
        const a = again.header[key], b = first.header[key];
        if (typeof a === "number") assert.ok(same(a, b as number), `${key}: ${a} vs ${b}`);
        else assert.deepEqual(a, b, key);
      }
      assert.equal(again.header.littleEndian, true);
      assert.equal(again.data.length, first.data.length);
      for (let i = 0; i < first.data.length; i++) {
        if (first.data[i] !== again.data[i]) {
          assert.fail(`voxel ${i}: ${again.data[i]} vs ${first.data[i]}`);
        }
      }
    });
  }
});

Deno.test("writeNifti rewrites NIfTI-2 samples as NIfTI-1 with equal data and a float32-close affine", async () => {
  for (const f of SCALAR.filter((x) => x.nifti_version === 2)) {
    const first = readNifti(await Deno.readFile(DIR + f.file), { float64: true });
    const again = readNifti(writeNifti(first), { float64: true });
    assert.equal(again.header.version, 1);
    assert.deepEqual(again.shape, first.shape);
    assert.deepEqual(again.data, first.data);
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const e = first.affine[r][c];
        assert.ok(Math.abs(again.affine[r][c] - e) <= 1e-6 * (1 + Math.abs(e)), f.file);
      }
    }
  }
});

Deno.test("writeNifti derives sform and qform from a new affine", () => {
  const c = Math.cos(0.4), s = Math.sin(0.4);
  const affine = [[-1.25 * c, 2 * s, 0, 30], [1.25 * s, 2 * c, 0.5, -12], [0, 0, 3, 7], [
    0,
    0,
    0,
    1,
  ]];
  const data = new Float32Array(4 * 3 * 2).map((_, i) => i * 0.5);
  const img = readNifti(writeNifti({ shape: [4, 3, 2], data, affine }));
  assert.equal(img.header.sformCode, 2);
  assert.equal(img.header.qformCode, 2);
  for (let r = 0; r < 4; r++) {
    for (let k = 0; k < 4; k++) assert.ok(Math.abs(img.affine[r][k] - affine[r][k]) < 1e-6);
  }
  // pixdim holds the column norms: |(−1.25c, 1.25s, 0)| = 1.25, |(2s, 2c, 0)| = 2, |(0, .5, 3)|.
  assert.ok(Math.abs(img.spacing[0] - 1.25) < 1e-6);
  assert.ok(Math.abs(img.spacing[1] - 2) < 1e-6);
  assert.ok(Math.abs(img.spacing[2] - Math.hypot(0.5, 3)) < 1e-6);
  assert.deepEqual(Array.from(img.data), Array.from(data));
});

Deno.test("writeNifti without affine writes diag(spacing) as sform", () => {
  const img = readNifti(
    writeNifti({ shape: [2, 2, 2], spacing: [1.5, 1.5, 10], data: new Uint8Array(8) }),
  );
  assert.deepEqual(img.affine, [[1.5, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 10, 0], [0, 0, 0, 1]]);
  assert.deepEqual(img.spacing, [1.5, 1.5, 10]);
});

Deno.test("writeNifti keeps the header transform only while it reproduces the affine", async () => {
  const first = readNifti(await Deno.readFile(DIR + "anatomical.nii"));
  const moved = first.affine.map((row) => [...row]);
  moved[0][3] += 10;
  const again = readNifti(writeNifti({ ...first, affine: moved }));
  assert.equal(again.affine[0][3], first.affine[0][3] + 10);
  assert.equal(again.affine[1][1], first.affine[1][1]);
});

Deno.test("writeNifti unscales integer data with scl_slope and scl_inter", () => {
  const values = new Float32Array([10, 10.5, 11, 9.5, 3010]);
  const bytes = writeNifti({
    shape: [5],
    data: values,
    datatype: "int16",
    header: { sclSlope: 0.5, sclInter: 10 },
  });
  // raw = (v − 10) / 0.5 = [0, 1, 2, −1, 6000]
  const raw = new Int16Array(bytes.slice(352).buffer);
  assert.deepEqual(Array.from(raw), [0, 1, 2, -1, 6000]);
  assert.deepEqual(Array.from(readNifti(bytes).data), Array.from(values));
});

Deno.test("writeNifti writes 64-bit integers through BigInt64Array", () => {
  const data = new Float64Array([0, -5, 2 ** 40, 7]);
  const img = readNifti(writeNifti({ shape: [4], data, datatype: "int64" }));
  assert.equal(img.datatype, "int64");
  assert.ok(img.data instanceof Float64Array);
  assert.deepEqual(Array.from(img.data), Array.from(data));
});

Deno.test("writeNifti rejects values that do not fit and shapes that do not match", () => {
  assert.throws(
    () => writeNifti({ shape: [2], data: new Float32Array([1, 0.5]), datatype: "uint8" }),
    /Cannot write NIfTI: value 0.5 at voxel 1 is not representable as uint8/,
  );
  assert.throws(
    () => writeNifti({ shape: [2], data: new Float32Array([1, 300]), datatype: "uint8" }),
    RangeError,
  );
  assert.throws(
    () => writeNifti({ shape: [2, 2], data: new Float32Array(3) }),
    (err: Error) =>
      err instanceof TypeError && /data has 3 values, shape \[2,2\] needs 4/.test(err.message),
  );
  assert.throws(
    () => writeNifti({ shape: [1], data: new Float32Array(1), datatype: "complex64" }),
    TypeError,
  );
});

Deno.test("sync (node:zlib) and async (CompressionStream) gzip hold the same NIfTI bytes", async () => {
  const image = { shape: [5, 4, 3], data: new Float32Array(60).map((_, i) => Math.sin(i)) };
  const plain = writeNifti(image);
  const sync = writeNifti(image, { gzip: true });
  const asyncBytes = await writeNiftiAsync(image, { gzip: true });
  assert.equal(sync[0], 0x1f);
  assert.equal(asyncBytes[0], 0x1f);
  assert.deepEqual(new Uint8Array(gunzipSync(sync)), plain);
  assert.deepEqual(new Uint8Array(gunzipSync(asyncBytes)), plain);
  assert.deepEqual(await writeNiftiAsync(image, { gzip: false }), plain);
});

Deno.test("writeNiftiFile gzips .nii.gz paths, writes atomically and reads back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const image = {
      shape: [3, 2, 2],
      data: new Int16Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    };
    await writeNiftiFile(`${dir}/a.nii.gz`, image);
    await writeNiftiFile(`${dir}/b.nii`, image);
    const gz = await Deno.readFile(`${dir}/a.nii.gz`);
    const plain = await Deno.readFile(`${dir}/b.nii`);
    assert.equal(gz[0], 0x1f);
    assert.equal(new DataView(plain.buffer).getInt32(0, true), 348);
    const img = await readNiftiFile(`${dir}/a.nii.gz`);
    assert.equal(img.name, `${dir}/a.nii.gz`);
    assert.deepEqual(Array.from(img.data), Array.from(image.data));
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["a.nii.gz", "b.nii"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readNiftiFile names the path when the file is missing", async () => {
  await assert.rejects(() => readNiftiFile("/nonexistent/x.nii.gz"), /\/nonexistent\/x\.nii\.gz/);
});
