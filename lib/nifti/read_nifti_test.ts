// readNifti against nibabel's values in tests/testdata/nifti/manifest.json (26 real files) and
// the malformed files in bad/.

import assert from "node:assert/strict";
import { niftiAffine, parseNiftiHeader, qformAffine, readNifti, sformAffine } from "./mod.ts";

const DIR = new URL("../../tests/testdata/nifti/", import.meta.url).pathname;

interface ManifestVoxel {
  index: number[];
  flat_index_file_order: number;
  raw: number | number[];
  scaled: number | number[];
}
interface ManifestFile {
  file: string;
  datatype_code: number;
  datatype_name: string;
  bitpix: number;
  dim: number[];
  pixdim: number[];
  shape_nibabel: number[];
  vox_offset: number;
  scl_slope: number;
  scl_inter: number;
  qform_code: number;
  sform_code: number;
  affine: number[][];
  qform_matrix: number[][];
  sform_matrix: number[][];
  intent_code: number;
  xyzt_units: number;
  cal_min: number;
  cal_max: number;
  descrip: string;
  extension_flag_bytes: number[];
  extensions_nibabel: { ecode: number; esize_on_disk: number }[];
  nifti_version: number;
  byte_order: string;
  get_fdata_stats: null | {
    min: number;
    max: number;
    mean: number;
    sum: number;
    nonzero_count: number;
  };
  label_counts?: Record<string, number> | null;
  voxels: ManifestVoxel[];
}

const manifest = JSON.parse(await Deno.readTextFile(DIR + "manifest.json")) as {
  files: ManifestFile[];
  bad_files: { file: string }[];
};
const NOT_SCALAR = new Set(["complex_image.nii.gz", "3D.nii"]);

function num(v: number | string): number {
  return typeof v === "string" ? Number(v) : v;
}

function assertMatrix(actual: number[][], expected: number[][], label: string, atol = 0): void {
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      const d = Math.abs(actual[r][c] - expected[r][c]);
      assert.ok(d <= atol, `${label}[${r}][${c}]: ${actual[r][c]} vs ${expected[r][c]}`);
    }
  }
}

Deno.test("manifest lists 26 good files and 6 bad files, all present in testdata", async () => {
  assert.equal(manifest.files.length, 26);
  assert.equal(manifest.bad_files.length, 6);
  for (const f of [...manifest.files, ...manifest.bad_files]) {
    assert.ok((await Deno.stat(DIR + f.file)).isFile, f.file);
  }
});

Deno.test("parseNiftiHeader matches nibabel's header fields and affines on all 26 files", async (t) => {
  for (const f of manifest.files) {
    await t.step(f.file, async () => {
      const bytes = await Deno.readFile(DIR + f.file);
      const raw = f.file.endsWith(".gz")
        ? new Uint8Array(
          await new Response(
            new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
          ).arrayBuffer(),
        )
        : bytes;
      const { header, shape } = parseNiftiHeader(raw, f.file);
      assert.equal(header.version, f.nifti_version);
      assert.equal(header.littleEndian, f.byte_order === "little");
      assert.deepEqual(shape, f.shape_nibabel);
      assert.deepEqual(header.dim, f.dim);
      assert.deepEqual(header.pixdim, f.pixdim);
      assert.equal(header.datatypeCode, f.datatype_code);
      assert.equal(header.bitpix, f.bitpix);
      assert.equal(header.voxOffset, f.vox_offset);
      assert.equal(header.sclSlope, num(f.scl_slope));
      assert.equal(header.sclInter, num(f.scl_inter));
      assert.equal(header.qformCode, f.qform_code);
      assert.equal(header.sformCode, f.sform_code);
      assert.equal(header.intentCode, f.intent_code);
      assert.equal(header.xyztUnits, f.xyzt_units);
      assert.equal(header.calMin, f.cal_min);
      assert.equal(header.calMax, f.cal_max);
      assert.equal(header.descrip, f.descrip);
      assert.deepEqual(header.extensionFlag, f.extension_flag_bytes);
      assert.deepEqual(
        header.extensions.map((e) => e.code),
        f.extensions_nibabel.map((e) => e.ecode),
      );
      header.extensions.forEach((e, i) => {
        // nibabel reports the size it would write; for the CIFTI XML (ecode 32) it re-serialises
        // the content, so only the stored size (which ends exactly at vox_offset) is checked.
        if (e.code !== 32) assert.equal(e.data.length + 8, f.extensions_nibabel[i].esize_on_disk);
      });
      const extEnd = header.extensions.reduce(
        (s, e) => s + e.data.length + 8,
        header.version === 1 ? 352 : 544,
      );
      assert.ok(header.extensions.length === 0 || extEnd <= f.vox_offset);
      // sform and the pixdim fallback are exact; nibabel computes the qform in extended
      // precision, we in float64 (agreement to ~1e-15).
      assertMatrix(niftiAffine(header), f.affine, "affine", 1e-13);
      assertMatrix(sformAffine(header), f.sform_matrix, "sform");
      assertMatrix(qformAffine(header), f.qform_matrix, "qform", 1e-13);
    });
  }
});

Deno.test("readNifti matches nibabel's voxels, statistics and label counts on the 24 scalar files", async (t) => {
  for (const f of manifest.files.filter((x) => !NOT_SCALAR.has(x.file))) {
    await t.step(f.file, async () => {
      const bytes = await Deno.readFile(DIR + f.file);
      const img64 = readNifti(bytes, { name: f.file, float64: true });
      assert.deepEqual(img64.shape, f.shape_nibabel);
      assert.deepEqual(img64.spacing, f.pixdim.slice(1, f.shape_nibabel.length + 1));
      assert.equal(img64.datatype, f.datatype_name);
      assertMatrix(img64.affine, f.affine, "affine", 1e-13);
      assert.ok(img64.data instanceof Float64Array);
      for (const v of f.voxels) {
        // File order: i fastest (flat = i + j·nx + k·nx·ny + …).
        let flat = 0;
        let stride = 1;
        v.index.forEach((ix, d) => {
          flat += ix * stride;
          stride *= f.shape_nibabel[d];
        });
        assert.equal(flat, v.flat_index_file_order);
        // float64 output reproduces nibabel's float64 scaling exactly.
        assert.equal(img64.data[flat], num(v.scaled as number), `voxel ${v.index}`);
      }
      const s = f.get_fdata_stats!;
      let sum = 0, abs = 0, min = Infinity, max = -Infinity, nz = 0;
      for (const x of img64.data) {
        sum += x;
        abs += Math.abs(x);
        if (x < min) min = x;
        if (x > max) max = x;
        if (x !== 0) nz++;
      }
      assert.equal(min, s.min);
      assert.equal(max, s.max);
      assert.equal(nz, s.nonzero_count);
      // numpy sums pairwise, we sum sequentially: both are float64 sums of the same values.
      assert.ok(Math.abs(sum - s.sum) <= 1e-9 * abs, `sum ${sum} vs ${s.sum}`);
      assert.ok(Math.abs(sum / img64.data.length - s.mean) <= 1e-9 * (abs / img64.data.length));
      if (f.label_counts) {
        const counts = new Map<number, number>();
        for (const x of img64.data) counts.set(x, (counts.get(x) ?? 0) + 1);
        for (const [value, count] of Object.entries(f.label_counts)) {
          assert.equal(counts.get(Number(value)) ?? 0, count, `label ${value}`);
        }
      }

      // Default output: Float32Array (Float64Array for 64-bit types), each value the float64
      // value rounded once to float32, so |error| ≤ 2⁻²⁴·|value|.
      const img = readNifti(bytes, { name: f.file });
      const wide = f.bitpix === 64;
      assert.ok(wide ? img.data instanceof Float64Array : img.data instanceof Float32Array);
      for (let i = 0; i < img.data.length; i++) {
        if (img.data[i] !== Math.fround(img64.data[i]) && !wide) {
          assert.fail(`voxel ${i}: ${img.data[i]} is not fround(${img64.data[i]})`);
        }
      }
      for (const v of f.voxels) {
        const e = num(v.scaled as number);
        assert.ok(Math.abs(img.data[v.flat_index_file_order] - e) <= 2 ** -24 * Math.abs(e));
      }
    });
  }
});

Deno.test("readNifti rejects the complex and RGB files with a TypeError naming file and datatype", async () => {
  for (const [file, type] of [["complex_image.nii.gz", "complex64"], ["3D.nii", "RGB"]]) {
    const bytes = await Deno.readFile(DIR + file);
    assert.throws(
      () => readNifti(bytes, { name: file }),
      (err: Error) =>
        err instanceof TypeError && err.message.includes(file) && err.message.includes(type) &&
        err.message.includes("not a real scalar"),
    );
  }
});

Deno.test("readNifti rejects every file in bad/ with a SyntaxError naming the file and the reason", async () => {
  for (const { file } of manifest.bad_files) {
    const bytes = await Deno.readFile(DIR + file);
    assert.throws(
      () => readNifti(bytes, { name: file }),
      (err: Error) =>
        err instanceof SyntaxError && err.message.startsWith("Cannot read NIfTI header of") &&
        err.message.includes(file) && err.message.includes("sizeof_hdr"),
    );
  }
});

Deno.test("big.nii.gz and little.nii.gz hold the same voxels in opposite byte orders", async () => {
  const big = readNifti(await Deno.readFile(DIR + "big.nii.gz"));
  const little = readNifti(await Deno.readFile(DIR + "little.nii.gz"));
  assert.equal(big.header.littleEndian, false);
  assert.equal(little.header.littleEndian, true);
  assert.deepEqual(big.data, little.data);
});

Deno.test("int8, int32 and int64 files store voxel [i, j, k] = 9i + 3j + k in file order", async () => {
  for (const file of ["int8.nii", "int32.nii", "int64.nii"]) {
    const img = readNifti(await Deno.readFile(DIR + file));
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < 3; i++) assert.equal(img.data[i + 3 * j + 9 * k], 9 * i + 3 * j + k);
      }
    }
  }
});
