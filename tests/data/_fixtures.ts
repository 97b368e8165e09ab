// Hand-made minimal datasets in the real ACDC and BRATS 2018 layouts, for loader tests.

import { writeNifti } from "../../lib/nifti/mod.ts";

/** Shape `[nx, ny, nz]` of the fixture volumes (NIfTI order). */
export const FIXTURE_SHAPE: [number, number, number] = [4, 3, 2];

/** Affine of the fixture volumes: 1.5 × 1.5 × 5 mm, shifted. */
export const FIXTURE_AFFINE = [
  [1.5, 0, 0, -10],
  [0, 1.5, 0, 20],
  [0, 0, 5, 30],
  [0, 0, 0, 1],
];

/** Image voxel value at (i, j, k): 100·k + 10·j + i (file order, i fastest). */
export function fixtureImage(offset = 0): Int16Array {
  const [nx, ny, nz] = FIXTURE_SHAPE;
  const out = new Int16Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) out[(k * ny + j) * nx + i] = 100 * k + 10 * j + i + offset;
    }
  }
  return out;
}

/** Write a NIfTI file of the fixture grid. */
export async function writeVolume(
  path: string,
  data: Int16Array | Uint8Array | Float32Array,
  options: { shape?: [number, number, number]; affine?: number[][] } = {},
): Promise<void> {
  const bytes = writeNifti(
    { shape: options.shape ?? FIXTURE_SHAPE, data, affine: options.affine ?? FIXTURE_AFFINE },
    { gzip: path.endsWith(".gz") },
  );
  await Deno.writeFile(path, bytes);
}

/** ACDC labels: the first row RV, the second MYO, the third LV, in every slice. */
export function acdcLabel(): Uint8Array {
  const [nx, ny, nz] = FIXTURE_SHAPE;
  const out = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) for (let i = 1; i < nx; i++) out[(k * ny + j) * nx + i] = j + 1;
  }
  return out;
}

/**
 * `<root>/training/patient00{1..n}` with Info.cfg (ED 1, ES 3) and the ED/ES frames and
 * `_gt` files.
 */
export async function writeAcdcFixture(root: string, patients = 2): Promise<string> {
  const base = `${root}/training`;
  for (let p = 1; p <= patients; p++) {
    const name = `patient${String(p).padStart(3, "0")}`;
    const dir = `${base}/${name}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/Info.cfg`,
      "ED: 1\nES: 3\nGroup: NOR\nHeight: 170.0\nNbFrame: 10\nWeight: 70.0\n",
    );
    for (const frame of ["01", "03"]) {
      await writeVolume(`${dir}/${name}_frame${frame}.nii.gz`, fixtureImage(p));
      await writeVolume(`${dir}/${name}_frame${frame}_gt.nii.gz`, acdcLabel());
    }
  }
  return base;
}

/** BRATS labels: 4 at voxel i = 3, 1 at i = 2, 2 at i = 1 (row j = 1 only). */
export function bratsSeg(): Uint8Array {
  const [nx, ny, nz] = FIXTURE_SHAPE;
  const out = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    const row = (k * ny + 1) * nx;
    out[row + 1] = 2;
    out[row + 2] = 1;
    out[row + 3] = 4;
  }
  return out;
}

/** `<root>/{HGG,LGG}/Brats18_*` with the five files each; channel c holds image + 1000·c. */
export async function writeBratsFixture(
  root: string,
  subjects: { HGG?: string[]; LGG?: string[] } = {
    HGG: ["Brats18_2013_2_1", "Brats18_CBICA_AAB_1"],
    LGG: ["Brats18_TCIA09_141_1"],
  },
): Promise<void> {
  for (const [grade, names] of Object.entries(subjects)) {
    for (const name of names ?? []) {
      const dir = `${root}/${grade}/${name}`;
      await Deno.mkdir(dir, { recursive: true });
      const mods = ["flair", "t1", "t1ce", "t2"];
      for (let c = 0; c < 4; c++) {
        await writeVolume(`${dir}/${name}_${mods[c]}.nii.gz`, fixtureImage(1000 * c + 1));
      }
      await writeVolume(`${dir}/${name}_seg.nii.gz`, bratsSeg());
    }
  }
}
