/**
 * Read one case from disk (NIfTI image channels + label map), check that the files belong
 * together, and preprocess it.
 *
 * @module
 */

import { type NiftiImage, readNiftiFile } from "../nifti/mod.ts";
import { caseSpec } from "./datasets.ts";
import { type PreprocessingOptions, preprocessVolumes } from "./preprocess.ts";
import type { CaseRecord, LoadedCase, Vec3 } from "./types.ts";

function _spatial(img: NiftiImage, what: string, id: string): Vec3 {
  const s = img.shape;
  if (s.length < 3 || s.slice(3).some((d) => d !== 1)) {
    throw new TypeError(
      `Cannot load case ${id}: ${what} ${img.name} has shape ${s.join("×")}, expected 3-D`,
    );
  }
  return [s[2], s[1], s[0]];
}

function _sameAffine(a: number[][], b: number[][]): boolean {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      if (!(Math.abs(a[r][c] - b[r][c]) <= 1e-4 * (1 + Math.abs(b[r][c])))) return false;
    }
  }
  return true;
}

function _fmt(a: number[][]): string {
  return `[${a.slice(0, 3).map((r) => `[${r.map((v) => +v.toFixed(4)).join(", ")}]`).join(", ")}]`;
}

/**
 * Load a case: read every image channel and the label map, check that they share one grid
 * (shape and affine) and that every label value is one the dataset allows, map labels to
 * class indices (BRATS: whole tumour = seg > 0), then preprocess.
 *
 * Arrays follow the NIfTI voxel order: W = i (fastest), H = j, D = k.
 *
 * @param record The case on disk.
 * @param preprocessing Resampling, normalisation and crop/pad options.
 * @returns The preprocessed case with full labels (`labeling: "full"`).
 * @throws {Deno.errors.NotFound} When a file is missing (naming it).
 * @throws {SyntaxError} When a file is not valid NIfTI.
 * @throws {TypeError} When shapes or affines of image and label disagree, or a file is not
 *   3-D.
 * @throws {RangeError} When a label value is outside the dataset's set or a spacing is not
 *   positive.
 * @example
 * ```ts ignore
 * const [record] = await listAcdc(root);
 * const c = await loadCase(record, PHANTOM_PREPROCESSING.acdc);
 * console.log(c.shape, c.channels); // [16, 64, 64] 1
 * ```
 */
export async function loadCase(
  record: CaseRecord,
  preprocessing: PreprocessingOptions = {},
): Promise<LoadedCase> {
  const spec = caseSpec(record);
  const channels = spec.channels.length;
  // A Decathlon case keeps its channels in one 4-D file (the 4th dimension).
  const fourD = record.imagePaths.length === 1 && channels > 1;
  if (!fourD && record.imagePaths.length !== channels) {
    throw new TypeError(
      `Cannot load case ${record.id}: ${record.imagePaths.length} image paths, ` +
        `${record.dataset} needs ${channels} (${spec.channels.join(", ")})`,
    );
  }
  const labelImg = await readNiftiFile(record.labelPath);
  const shape = _spatial(labelImg, "label", record.id);
  const n = shape[0] * shape[1] * shape[2];
  const image = new Float32Array(channels * n);
  let multi: NiftiImage | undefined;
  for (let c = 0; c < channels; c++) {
    let img: NiftiImage;
    let data: Float32Array | Float64Array;
    if (fourD) {
      multi ??= await readNiftiFile(record.imagePaths[0]);
      img = multi;
      const s4 = img.shape;
      if (s4.length < 4 || s4[3] !== channels || s4.slice(4).some((d) => d !== 1)) {
        throw new TypeError(
          `Cannot load case ${record.id}: image ${img.name} has shape ${s4.join("×")}, expected ` +
            `4-D with ${channels} channels (${spec.channels.join(", ")})`,
        );
      }
      if (s4.slice(0, 3).some((v, a) => v !== [shape[2], shape[1], shape[0]][a])) {
        throw new TypeError(
          `Cannot load case ${record.id}: image ${img.name} has shape ${s4.join("×")} but label ` +
            `${labelImg.name} has ${[...labelImg.shape].join("×")}`,
        );
      }
      data = img.data.subarray(c * n, (c + 1) * n);
    } else {
      img = await readNiftiFile(record.imagePaths[c]);
      const s = _spatial(img, "image", record.id);
      if (s.some((v, a) => v !== shape[a])) {
        throw new TypeError(
          `Cannot load case ${record.id}: image ${img.name} has shape ` +
            `${[...img.shape].join("×")} but label ${labelImg.name} has ` +
            `${[...labelImg.shape].join("×")}`,
        );
      }
      data = img.data.subarray(0, n);
    }
    if (!_sameAffine(img.affine, labelImg.affine)) {
      throw new TypeError(
        `Cannot load case ${record.id}: image ${img.name} has affine ${_fmt(img.affine)} but ` +
          `label ${labelImg.name} has ${_fmt(labelImg.affine)}`,
      );
    }
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new RangeError(
        `Cannot load case ${record.id}: image ${img.name} holds a non-finite value ` +
          `(${data[bad]}) at voxel [${_voxel(bad, shape)}${fourD ? `, ${c}` : ""}]`,
      );
    }
    image.set(data, c * n);
  }

  const allowed = new Set(spec.labelValues);
  const label = new Uint8Array(n);
  const src = labelImg.data;
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (!allowed.has(v)) {
      throw new RangeError(
        `Cannot load case ${record.id}: label ${record.labelPath} holds ${
          Number.isFinite(v) ? "value" : "a non-finite value"
        } ${v} at voxel [${_voxel(i, shape)}] (expected ${spec.labelValues.join(", ")})`,
      );
    }
    label[i] = spec.classOf[v];
  }

  const spacing: Vec3 = [
    Math.abs(labelImg.spacing[2]),
    Math.abs(labelImg.spacing[1]),
    Math.abs(labelImg.spacing[0]),
  ];
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new RangeError(
      `Cannot load case ${record.id}: label ${record.labelPath} has voxel spacing ` +
        `[${[...labelImg.spacing.slice(0, 3)]}] (pixdim[1..3] must be positive)`,
    );
  }
  const out = preprocessVolumes(
    { dataset: spec, image, label, channels, shape, spacing, affine: labelImg.affine },
    preprocessing,
  );
  return {
    dataset: record.dataset,
    id: record.id,
    subject: record.subject,
    group: record.group,
    image: out.image,
    label: out.label,
    channels,
    shape: out.shape,
    spacing: out.spacing,
    affine: out.affine,
    classes: spec.classes,
    padValue: out.padValue,
    ...(record.spec ? { spec: record.spec } : {}),
    labeling: "full",
    source: { shape, spacing, affine: labelImg.affine, grid: out.grid },
    meta: { ...record.meta },
  };
}

/** The NIfTI index (i, j, k) of flat voxel `i` of a `[D, H, W]` volume. */
function _voxel(i: number, shape: Vec3): number[] {
  const [W, H] = [shape[2], shape[1]];
  return [i % W, Math.floor(i / W) % H, Math.floor(i / (W * H))];
}

/**
 * Map a label map of a preprocessed case back onto its source grid (nearest neighbour);
 * source voxels outside the preprocessed field of view get 0.
 *
 * @param label Class indices `[D, H, W]` on the case's grid (e.g. a prediction).
 * @param loaded The case it belongs to.
 * @returns Class indices on the source grid `[D0, H0, W0]`, ready for `writeNifti` with
 *   `loaded.source.affine`.
 * @throws {TypeError} When the label does not match the case's shape.
 */
export function toSourceGrid(label: Uint8Array, loaded: LoadedCase): Uint8Array {
  const [D, H, W] = loaded.shape;
  if (label.length !== D * H * W) {
    throw new TypeError(
      `Cannot map label to source grid: ${label.length} values, case ${loaded.id} has ` +
        `[${loaded.shape}]`,
    );
  }
  const [D0, H0, W0] = loaded.source.shape;
  const { scale, offset } = loaded.source.grid;
  const idx = [D0, H0, W0].map((n0, a) => {
    const m = new Int32Array(n0);
    const lim = [D, H, W][a];
    for (let x = 0; x < n0; x++) {
      const y = Math.round((x - offset[a]) / scale[a]);
      m[x] = y >= 0 && y < lim ? y : -1;
    }
    return m;
  });
  const out = new Uint8Array(D0 * H0 * W0);
  let o = 0;
  for (let z = 0; z < D0; z++) {
    for (let y = 0; y < H0; y++) {
      for (let x = 0; x < W0; x++, o++) {
        const a = idx[0][z], b = idx[1][y], c = idx[2][x];
        if (a >= 0 && b >= 0 && c >= 0) out[o] = label[(a * H + b) * W + c];
      }
    }
  }
  return out;
}
