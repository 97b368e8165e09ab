/**
 * Bad data fails before training (exit 1) with a message naming the file or group: a non-finite
 * voxel in an image or a label, a dataset without a group the pipeline needs, and a corrupt
 * phantom cache (a truncated case file is named; a corrupt marker regenerates the phantom).
 */

import assert from "node:assert/strict";
import { ensurePhantom } from "../../lib/data/ensure_phantom.ts";
import { readNiftiFile } from "../../lib/nifti/read_nifti.ts";
import { writeNiftiFile } from "../../lib/nifti/write_nifti.ts";
import tinyAcdc from "../../pipelines/tiny_acdc.ts";
import tinyBrats from "../../pipelines/tiny_brats.ts";
import { assertFails, cli, ROOT } from "./_faults.ts";

const TMP = await Deno.makeTempDir({ prefix: "dicelab-data-faults-" });
addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));
const CACHE = `${ROOT}.cache/phantoms`;

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

async function acdcCopy(): Promise<string> {
  const src = await ensurePhantom("acdc", CACHE, tinyAcdc.dataset.phantom!.options as never);
  const dst = `${TMP}/acdc-${crypto.randomUUID().slice(0, 8)}`;
  await copyDir(src, dst);
  return dst;
}

/** Rewrite a NIfTI file with one voxel (i, j, k) set to `value`. */
async function poison(path: string, at: [number, number, number], value: number): Promise<void> {
  const img = await readNiftiFile(path);
  const data = Float32Array.from(img.data);
  const [nx, ny] = img.shape;
  data[at[0] + nx * (at[1] + ny * at[2])] = value;
  await writeNiftiFile(path, {
    shape: img.shape,
    data,
    affine: img.affine,
    datatype: "float32",
  });
}

Deno.test("a NaN voxel in an image is named with its file and index before training", async () => {
  const root = await acdcCopy();
  const file = `${root}/patient003/patient003_frame01.nii.gz`;
  await poison(file, [3, 4, 1], NaN);
  const r = await cli([
    "run",
    `${ROOT}pipelines/tiny_acdc.ts`,
    "--data",
    root,
    "--out",
    `${TMP}/r1`,
  ]);
  assertFails(
    r,
    1,
    new RegExp(
      `image ${
        file.replaceAll("/", "\\/")
      } holds a non-finite value \\(NaN\\) at voxel \\[3,4,1\\]`,
    ),
  );
  assert.doesNotMatch(r.err + r.out, /Training diverged/);
});

Deno.test("an infinite voxel in a label is named with its file and index", async () => {
  const root = await acdcCopy();
  const file = `${root}/patient002/patient002_frame01_gt.nii.gz`;
  await poison(file, [0, 2, 1], Infinity);
  const r = await cli([
    "run",
    `${ROOT}pipelines/tiny_acdc.ts`,
    "--data",
    root,
    "--out",
    `${TMP}/r2`,
  ]);
  assertFails(
    r,
    1,
    /label .*patient002_frame01_gt\.nii\.gz holds a non-finite value Infinity at voxel \[0,2,1\]/,
  );
});

Deno.test("a dataset without a group the pipeline needs is an error naming the group", async () => {
  const src = await ensurePhantom("brats", CACHE, tinyBrats.dataset.phantom!.options as never);
  const root = `${TMP}/brats-hgg-only`;
  await copyDir(`${src}/HGG`, `${root}/HGG`);
  const r = await cli([
    "run",
    `${ROOT}pipelines/tiny_brats.ts`,
    "--data",
    root,
    "--out",
    `${TMP}/r3`,
  ]);
  assertFails(
    r,
    1,
    /the dataset at .*brats-hgg-only has no case in group "LGG" \(evaluation\.target\.groups\.1 needs it; cases per group: HGG: 8\)/,
  );
});

Deno.test("a corrupt phantom cache: a truncated case is named, a corrupt marker regenerates", async () => {
  const cwd = `${TMP}/cwd`;
  const src = await ensurePhantom("acdc", CACHE, tinyAcdc.dataset.phantom!.options as never);
  const name = src.split("/").pop()!;
  const cached = `${cwd}/.cache/phantoms/${name}`;
  await copyDir(src, cached);
  const victim = `${cached}/patient001/patient001_frame01.nii.gz`;
  const bytes = await Deno.readFile(victim);
  await Deno.writeFile(victim, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const a = await cli(["analyze", `${ROOT}pipelines/tiny_acdc.ts`], { cwd });
  assertFails(a, 1, /patient001_frame01\.nii\.gz/);
  await Deno.writeTextFile(`${cached}/phantom.json`, "{ truncated");
  const b = await cli(["analyze", `${ROOT}pipelines/tiny_acdc.ts`], { cwd });
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /using the phantom ACDC dataset/);
  assert.equal((await Deno.readFile(victim)).length, bytes.length, "the phantom was regenerated");
});
