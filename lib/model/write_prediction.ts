/**
 * Writing a prediction in the geometry of its scan: the label map (`CASE.nii.gz`, uint8) and
 * optionally the probability maps (`CASE_prob.nii.gz`, float32, the maps on the 4th axis), each
 * with the scan's dims, pixdim, qform/sform codes and matrices, written atomically.
 *
 * @module
 */

import type { NiftiHeader } from "../nifti/header.ts";
import { writeNiftiFile } from "../nifti/write_nifti.ts";

/** A prediction on its scan's grid. */
export interface ScanPrediction {
  /** Case id (the output file names). */
  id: string;
  /** Shape of the scan in NIfTI order `[i, j, k]`. */
  shape: [number, number, number];
  /** Label per voxel in file order (0 = background). */
  labels: Uint8Array;
  /** Probabilities `[K, k, j, i]` (file order of a 4-D NIfTI), when asked for. */
  probabilities?: Float32Array;
  /** Number of probability maps K. */
  maps: number;
  /** The scan's header (geometry to reproduce). */
  header: NiftiHeader;
}

/**
 * The header of an output on a scan's grid: every geometry field of the scan's header
 * (pixdim with qfac, qform and sform codes, quaternion, offsets, sform rows, units, slice
 * timing) with the output's own dims and no scaling, calibration, intent or extensions.
 *
 * @param scan The scan's header.
 * @param shape The output's shape in NIfTI order (`[i, j, k]` or `[i, j, k, K]`).
 * @returns Header fields for `writeNifti`'s `header` option.
 * @example
 * ```ts
 * import { readNifti, writeNifti } from "../nifti/mod.ts";
 * import { predictionHeader } from "./write_prediction.ts";
 * const scan = readNifti(writeNifti({ shape: [2, 1, 1], data: new Int16Array([3, 4]) }));
 * const h = predictionHeader(scan.header, [2, 1, 1]);
 * console.log(h.dim, h.sclSlope); // [3, 2, 1, 1, 1, 1, 1, 1] 1
 * ```
 */
export function predictionHeader(
  scan: NiftiHeader,
  shape: readonly number[],
): Partial<NiftiHeader> {
  return {
    ...scan,
    dim: [shape.length, ...shape, ...new Array(7 - shape.length).fill(1)],
    sclSlope: 1,
    sclInter: 0,
    calMin: 0,
    calMax: 0,
    intentCode: 0,
    intentP1: 0,
    intentP2: 0,
    intentP3: 0,
    intentName: "",
    descrip: "dicelab prediction",
    auxFile: "",
    extensions: [],
  };
}

/**
 * Write `dir/CASE.nii.gz` (labels, uint8) and, when the prediction has them,
 * `dir/CASE_prob.nii.gz` (probabilities, float32, `[i, j, k, K]`), atomically, in the scan's
 * geometry. A NIfTI-2 scan's outputs are NIfTI-1 with the same fields (its float64 matrices
 * stored as float32).
 *
 * @param dir Output folder (exists).
 * @param prediction The prediction.
 * @returns The paths written.
 * @throws {RangeError} When the scan's dims do not fit a NIfTI-1 header (over 32767).
 */
export async function writePrediction(dir: string, prediction: ScanPrediction): Promise<string[]> {
  const { id, shape, header } = prediction;
  const labelsPath = `${dir}/${id}.nii.gz`;
  await writeNiftiFile(labelsPath, {
    shape,
    data: prediction.labels,
    datatype: "uint8",
    header: predictionHeader(header, shape),
  });
  if (!prediction.probabilities) return [labelsPath];
  const probPath = `${dir}/${id}_prob.nii.gz`;
  const probShape = [...shape, prediction.maps];
  await writeNiftiFile(probPath, {
    shape: probShape,
    data: prediction.probabilities,
    datatype: "float32",
    header: predictionHeader(header, probShape),
  });
  return [labelsPath, probPath];
}
