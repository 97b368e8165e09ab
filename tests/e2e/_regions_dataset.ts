/**
 * A tiny region-based dataset in the nnU-Net v2 raw layout, written by tests: one channel,
 * BraTS-like nested labels (1 outer shell, 2 middle shell, 3 core) whose regions are the whole
 * lesion [1, 2, 3], its core [2, 3] and the innermost part 3 (`regions_class_order` [1, 2, 3]),
 * an `"ignore"` label (4) on the first slice, and two sites as groups in `cases.csv`.
 */

import { Rng } from "../../lib/core/rng.ts";
import { writeNifti } from "../../lib/nifti/write_nifti.ts";

/** NIfTI shape `[nx, ny, nz]` of every case. */
export const REGION_SHAPE: [number, number, number] = [24, 20, 12];

/** The dataset.json `labels` of the dataset. */
export const REGION_LABELS = {
  background: 0,
  lesion: [1, 2, 3],
  core: [2, 3],
  centre: 3,
  ignore: 4,
};

/** An affine with anisotropic, shifted voxels (the outputs must keep it). */
export const REGION_AFFINE = [
  [1.5, 0, 0, -12],
  [0, 1.25, 0, 8],
  [0, 0, 2.5, 30],
  [0, 0, 0, 1],
];

/** One case: intensities and nested labels from a seeded stream. */
function _case(seed: number, k: number): { image: Float32Array; label: Uint8Array } {
  const rng = new Rng(seed, k);
  const [nx, ny, nz] = REGION_SHAPE;
  const c = [rng.uniform(8, 16), rng.uniform(7, 13), rng.uniform(4, 8)];
  const r1 = rng.uniform(5, 7), r2 = r1 * rng.uniform(0.55, 0.75), r3 = r2 * rng.uniform(0.4, 0.6);
  const gain = rng.uniform(0.8, 1.2);
  const image = new Float32Array(nx * ny * nz);
  const label = new Uint8Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = (z * ny + y) * nx + x;
        // mm-ish distance so the anisotropic voxels give ellipsoids
        const d = Math.hypot(x - c[0], (y - c[1]) * 1.2, (z - c[2]) * 1.6);
        const l = d <= r3 ? 3 : d <= r2 ? 2 : d <= r1 ? 1 : 0;
        label[i] = z === 0 && l === 0 ? 4 : l;
        image[i] = gain * [0, 1.2, 2.2, 3.2][l] + 0.3 * rng.normal() + 0.01 * x;
      }
    }
  }
  return { image, label };
}

/**
 * Write the dataset: `train` cases in imagesTr/labelsTr and `test` scans in imagesTs.
 *
 * @param root The `DatasetXXX_Name` folder to create.
 * @param o Case counts and seed.
 * @returns The root.
 */
export async function writeRegionDataset(
  root: string,
  o: { train?: number; test?: number; seed?: number } = {},
): Promise<string> {
  const train = o.train ?? 8, test = o.test ?? 2, seed = o.seed ?? 5;
  for (const d of ["imagesTr", "labelsTr", "imagesTs"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  const write = (path: string, data: Float32Array | Uint8Array) =>
    Deno.writeFile(
      path,
      writeNifti({ shape: REGION_SHAPE, data, affine: REGION_AFFINE }, { gzip: true }),
    );
  const rows = ["case,group"];
  for (let k = 0; k < train + test; k++) {
    const id = `les_${String(k).padStart(3, "0")}`;
    const { image, label } = _case(seed, k);
    if (k < train) {
      await write(`${root}/imagesTr/${id}_0000.nii.gz`, image);
      await write(`${root}/labelsTr/${id}.nii.gz`, label);
      rows.push(`${id},${k % 2 === 0 ? "siteA" : "siteB"}`);
    } else {
      await write(`${root}/imagesTs/${id}_0000.nii.gz`, image);
    }
  }
  await Deno.writeTextFile(`${root}/cases.csv`, rows.join("\n") + "\n");
  await Deno.writeTextFile(
    `${root}/dataset.json`,
    JSON.stringify(
      {
        name: "Lesions",
        channel_names: { "0": "MR" },
        labels: REGION_LABELS,
        regions_class_order: [1, 2, 3],
        numTraining: train,
        file_ending: ".nii.gz",
      },
      null,
      2,
    ),
  );
  return root;
}
