/**
 * NIfTI I/O: dicelab owns reading NIfTI-1/NIfTI-2 volumes (validated, scaled, with nibabel's
 * affine) and writing NIfTI-1 (plain or gzipped) for predictions and phantom datasets.
 * Uses nothing else in `lib/`.
 *
 * @example
 * ```ts
 * import { readNifti, writeNifti } from "./mod.ts";
 * const img = readNifti(writeNifti({ shape: [2, 1, 1], data: new Int16Array([7, -3]) }));
 * console.log(img.shape, Array.from(img.data)); // [2, 1, 1] [7, -3]
 * ```
 *
 * @module
 */

export {
  datatypeByName,
  INTEGER_RANGES,
  NIFTI_DATATYPES,
  type NiftiDatatype,
  type NiftiDatatypeName,
} from "./datatypes.ts";
export {
  type Affine,
  baseAffine,
  niftiAffine,
  type NiftiExtension,
  type NiftiHeader,
  type ParsedNiftiHeader,
  parseNiftiHeader,
  qformAffine,
  qformFromAffine,
  type QformParams,
  sformAffine,
} from "./header.ts";
export {
  gunzipNifti,
  isGzip,
  type NiftiImage,
  readNifti,
  readNiftiFile,
  type ReadNiftiOptions,
} from "./read_nifti.ts";
export {
  type NiftiVoxelArray,
  type NiftiWriteInput,
  writeNifti,
  writeNiftiAsync,
  writeNiftiFile,
  type WriteNiftiOptions,
} from "./write_nifti.ts";
