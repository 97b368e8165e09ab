/**
 * NIfTI-1 / NIfTI-2 headers: validation of untrusted bytes, field parsing (via
 * `nifti-reader-js`), extensions, and the voxel-to-world affine with nibabel's precedence
 * (sform, then qform, then a pixdim-only fallback with x flipped).
 *
 * @module
 */

import { NIFTI1, NIFTI2 } from "nifti-reader-js";
import { NIFTI_DATATYPES } from "./datatypes.ts";

/** One header extension (nifti1.h `nifti1_extension`). */
export interface NiftiExtension {
  /** `ecode` (e.g. 6 = comment, 32 = CIFTI). */
  code: number;
  /** The extension payload (esize − 8 bytes, padding included). */
  data: Uint8Array;
}

/** Every NIfTI header field, in NIfTI order and with nifti1.h meanings (camelCase names). */
export interface NiftiHeader {
  /** 1 (348-byte header) or 2 (540-byte header). */
  version: 1 | 2;
  /** Byte order of the file. */
  littleEndian: boolean;
  /** `dim_info` (frequency/phase/slice dimensions). */
  dimInfo: number;
  /** `dim[0..7]`: dim[0] is the number of dimensions. */
  dim: number[];
  /** `intent_p1`. */
  intentP1: number;
  /** `intent_p2`. */
  intentP2: number;
  /** `intent_p3`. */
  intentP3: number;
  /** `intent_code`. */
  intentCode: number;
  /** `datatype` code. */
  datatypeCode: number;
  /** `bitpix`. */
  bitpix: number;
  /** `slice_start`. */
  sliceStart: number;
  /** `pixdim[0..7]`: pixdim[0] is qfac, pixdim[1..] the grid spacings. */
  pixdim: number[];
  /** `vox_offset`: byte offset of the voxel data. */
  voxOffset: number;
  /** `scl_slope` as stored (0 or non-finite means no scaling). */
  sclSlope: number;
  /** `scl_inter` as stored. */
  sclInter: number;
  /** `slice_end`. */
  sliceEnd: number;
  /** `slice_code`. */
  sliceCode: number;
  /** `xyzt_units`. */
  xyztUnits: number;
  /** `cal_max`. */
  calMax: number;
  /** `cal_min`. */
  calMin: number;
  /** `slice_duration`. */
  sliceDuration: number;
  /** `toffset`. */
  toffset: number;
  /** `descrip` (up to 80 bytes). */
  descrip: string;
  /** `aux_file` (up to 24 bytes). */
  auxFile: string;
  /** `qform_code`. */
  qformCode: number;
  /** `sform_code`. */
  sformCode: number;
  /** `quatern_b`. */
  quaternB: number;
  /** `quatern_c`. */
  quaternC: number;
  /** `quatern_d`. */
  quaternD: number;
  /** `qoffset_x`. */
  qoffsetX: number;
  /** `qoffset_y`. */
  qoffsetY: number;
  /** `qoffset_z`. */
  qoffsetZ: number;
  /** `srow_x[0..3]`. */
  srowX: number[];
  /** `srow_y[0..3]`. */
  srowY: number[];
  /** `srow_z[0..3]`. */
  srowZ: number[];
  /** `intent_name` (up to 16 bytes). */
  intentName: string;
  /** `magic`: `"n+1"` or `"n+2"`. */
  magic: string;
  /** The four extension-flag bytes after the header. */
  extensionFlag: number[];
  /** Parsed extensions (empty when extensionFlag[0] is 0). */
  extensions: NiftiExtension[];
}

/** A validated header plus where its voxels are. */
export interface ParsedNiftiHeader {
  /** The header fields. */
  header: NiftiHeader;
  /** Shape in NIfTI order: `dim[1..dim[0]]`. */
  shape: number[];
  /** Byte offset of the first voxel (`floor(vox_offset)`). */
  dataOffset: number;
  /** Byte length of the voxel data. */
  dataBytes: number;
}

/** 4×4 row-major matrix: `world = affine · [i, j, k, 1]`. */
export type Affine = number[][];

const _F32_EPS = 1.1920928955078125e-7;

function _fail(name: string, reason: string): never {
  throw new SyntaxError(`Cannot read NIfTI header of ${name}: ${reason}`);
}

function _ascii(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end && i < bytes.length; i++) {
    const c = bytes[i];
    s += c >= 32 && c < 127 ? String.fromCharCode(c) : c === 0 ? "\\0" : `\\x${c.toString(16)}`;
  }
  return s;
}

/**
 * Validate and parse the header of an uncompressed NIfTI-1 or NIfTI-2 file.
 *
 * Checks what a fuzzed or truncated file gets wrong before anything is allocated:
 * `sizeof_hdr` (348 or 540, either byte order), the single-file magic, `dim[0]` in 1..7 and
 * every used dim ≥ 1, a known datatype whose `bitpix` matches, `vox_offset` at or after the
 * header, the extension chain, and that the file holds all the voxels it declares.
 *
 * @param bytes The whole (decompressed) file.
 * @param name File name used in error messages.
 * @returns The header, the shape and the location of the voxel data.
 * @throws {SyntaxError} When the bytes are not a valid single-file NIfTI.
 * @example
 * ```ts
 * import { parseNiftiHeader } from "./header.ts";
 * try {
 *   parseNiftiHeader(new Uint8Array(100), "tiny.nii");
 * } catch (err) {
 *   console.log((err as Error).message); // Cannot read NIfTI header of tiny.nii: ...
 * }
 * ```
 */
export function parseNiftiHeader(bytes: Uint8Array, name: string): ParsedNiftiHeader {
  if (bytes.length < 348) {
    _fail(name, `the file is ${bytes.length} bytes, shorter than a 348-byte NIfTI-1 header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = view.getInt32(0, true);
  const be = view.getInt32(0, false);
  let version: 1 | 2;
  let littleEndian: boolean;
  if (le === 348 || be === 348) {
    version = 1;
    littleEndian = le === 348;
  } else if (le === 540 || be === 540) {
    version = 2;
    littleEndian = le === 540;
  } else {
    _fail(name, `sizeof_hdr is ${le} (little-endian) / ${be} (big-endian), expected 348 or 540`);
  }
  const hdrSize = version === 1 ? 348 : 540;
  if (bytes.length < hdrSize) {
    _fail(name, `the file is ${bytes.length} bytes, shorter than its ${hdrSize}-byte header`);
  }
  const magicAt = version === 1 ? 344 : 4;
  const magic = _ascii(bytes, magicAt, magicAt + 3);
  const single = version === 1 ? "n+1" : "n+2";
  const pair = version === 1 ? "ni1" : "ni2";
  if (magic === pair) {
    _fail(name, `magic is "${magic}" (a .hdr/.img pair); only single-file NIfTI is supported`);
  }
  if (magic !== single || bytes[magicAt + 3] !== 0) {
    _fail(name, `magic is "${_ascii(bytes, magicAt, magicAt + 4)}", expected "${single}\\0"`);
  }

  // Field parsing is nifti-reader-js's; it only sees the fixed header so that it never walks
  // the extension chain (its loop does not guard against negative sizes).
  let lib: NIFTI1 | NIFTI2;
  try {
    lib = version === 1 ? new NIFTI1() : new NIFTI2();
    lib.readHeader(bytes.slice(0, hdrSize).buffer);
  } catch (err) {
    _fail(name, `nifti-reader-js failed: ${(err as Error).message}`);
  }
  const n = lib as NIFTI1 & NIFTI2 & Record<string, unknown>;
  const dim = Array.from({ length: 8 }, (_, i) => Number(n.dims[i] ?? 0));
  const pixdim = Array.from({ length: 8 }, (_, i) => Number(n.pixDims[i] ?? 0));
  const srow = (row: number): number[] =>
    Array.from(
      { length: 4 },
      (_, c) =>
        version === 1
          ? view.getFloat32(280 + (row * 4 + c) * 4, littleEndian)
          : view.getFloat64(400 + (row * 4 + c) * 8, littleEndian),
    );

  const ndim = dim[0];
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) {
    _fail(name, `dim[0] is ${ndim}, expected 1..7`);
  }
  for (let i = 1; i <= ndim; i++) {
    if (!Number.isSafeInteger(dim[i]) || dim[i] < 1) {
      _fail(name, `dim[${i}] is ${dim[i]}, expected a positive integer (dim = [${dim}])`);
    }
  }
  const code = Number(n.datatypeCode);
  const bitpix = Number(n.numBitsPerVoxel);
  const dt = NIFTI_DATATYPES.get(code);
  if (!dt) _fail(name, `datatype code ${code} is not a NIfTI datatype`);
  if (bitpix !== dt.bitpix) {
    _fail(name, `bitpix is ${bitpix} but datatype ${dt.name} (${code}) needs ${dt.bitpix}`);
  }
  const voxOffset = Number(n.vox_offset);
  if (!Number.isFinite(voxOffset) || voxOffset < hdrSize) {
    _fail(name, `vox_offset is ${voxOffset}, expected at least ${hdrSize}`);
  }
  const dataOffset = Math.floor(voxOffset);
  let nvox = 1;
  for (let i = 1; i <= ndim; i++) nvox *= dim[i];
  const dataBytes = nvox * (bitpix / 8);
  const shape = dim.slice(1, ndim + 1);
  if (!Number.isSafeInteger(dataBytes) || dataOffset + dataBytes > bytes.length) {
    _fail(
      name,
      `the file holds ${Math.max(0, bytes.length - dataOffset)} bytes after vox_offset ` +
        `${dataOffset}, but ${shape.join("×")} ${dt.name} voxels need ${dataBytes}`,
    );
  }

  const extensionFlag = [0, 1, 2, 3].map((i) =>
    hdrSize + i < bytes.length && hdrSize + i < dataOffset ? bytes[hdrSize + i] : 0
  );
  const extensions = extensionFlag[0] !== 0
    ? _readExtensions(view, bytes, hdrSize + 4, dataOffset, littleEndian, name)
    : [];

  const header: NiftiHeader = {
    version,
    littleEndian,
    dimInfo: Number(n.dim_info ?? 0),
    dim,
    intentP1: Number(n.intent_p1),
    intentP2: Number(n.intent_p2),
    intentP3: Number(n.intent_p3),
    intentCode: Number(n.intent_code),
    datatypeCode: code,
    bitpix,
    sliceStart: Number(n.slice_start),
    pixdim,
    voxOffset,
    sclSlope: Number(n.scl_slope),
    sclInter: Number(n.scl_inter),
    sliceEnd: Number(n.slice_end),
    sliceCode: Number(n.slice_code),
    xyztUnits: Number(n.xyzt_units),
    calMax: Number(n.cal_max),
    calMin: Number(n.cal_min),
    sliceDuration: Number(n.slice_duration),
    toffset: Number(n.toffset),
    descrip: _cString(bytes, version === 1 ? 148 : 240, 80),
    auxFile: _cString(bytes, version === 1 ? 228 : 320, 24),
    qformCode: Number(n.qform_code),
    sformCode: Number(n.sform_code),
    quaternB: Number(n.quatern_b),
    quaternC: Number(n.quatern_c),
    quaternD: Number(n.quatern_d),
    qoffsetX: Number(n.qoffset_x),
    qoffsetY: Number(n.qoffset_y),
    qoffsetZ: Number(n.qoffset_z),
    srowX: srow(0),
    srowY: srow(1),
    srowZ: srow(2),
    intentName: _cString(bytes, version === 1 ? 328 : 508, 16),
    magic: single,
    extensionFlag,
    extensions,
  };
  return { header, shape, dataOffset, dataBytes };
}

// A C string field: bytes up to the first NUL (nibabel's reading; nifti-reader-js would keep
// text after an embedded NUL).
function _cString(bytes: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && bytes[end] !== 0) end++;
  return new TextDecoder("latin1").decode(bytes.subarray(start, end));
}

function _readExtensions(
  view: DataView,
  bytes: Uint8Array,
  start: number,
  end: number,
  littleEndian: boolean,
  name: string,
): NiftiExtension[] {
  const out: NiftiExtension[] = [];
  let pos = start;
  while (pos + 8 <= end) {
    const esize = view.getInt32(pos, littleEndian);
    if (esize === 0) break;
    if (esize < 8 || pos + esize > end) {
      _fail(name, `the extension at byte ${pos} has esize ${esize}, beyond vox_offset ${end}`);
    }
    const code = view.getInt32(pos + 4, littleEndian);
    out.push({ code, data: bytes.slice(pos + 8, pos + esize) });
    pos += esize;
  }
  return out;
}

/**
 * The sform matrix (`srow_x/y/z` plus `[0, 0, 0, 1]`), regardless of `sform_code`.
 *
 * @param header A parsed header.
 * @returns The 4×4 matrix.
 */
export function sformAffine(header: NiftiHeader): Affine {
  return [[...header.srowX], [...header.srowY], [...header.srowZ], [0, 0, 0, 1]];
}

/**
 * The qform matrix from the quaternion, pixdim and qfac, as nibabel computes it (qfac other
 * than ±1 is taken as 1, negative pixdims as their absolute values; nibabel works in extended
 * precision, this in float64, so results agree to about 1e-15).
 *
 * @param header A parsed header.
 * @returns The 4×4 matrix.
 * @throws {SyntaxError} When b² + c² + d² exceeds 1 beyond float32 rounding.
 */
export function qformAffine(header: NiftiHeader): Affine {
  const b = header.quaternB;
  const c = header.quaternC;
  const d = header.quaternD;
  // nibabel 5.0 fillpositive(): w = 0 when w2 is slightly negative (within 3 float32 eps),
  // an error below that; then quat2mat().
  const w2 = 1 - (b * b + c * c + d * d);
  if (w2 < -3 * _F32_EPS) {
    throw new SyntaxError(
      `Cannot compute NIfTI qform: quaternion (b, c, d) = (${b}, ${c}, ${d}) has norm > 1`,
    );
  }
  const a = w2 < 0 ? 0 : Math.sqrt(w2);
  const nq = a * a + b * b + c * c + d * d;
  let r: number[][];
  if (nq < 2.220446049250313e-16) {
    r = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  } else {
    const s = 2 / nq;
    const X = b * s, Y = c * s, Z = d * s;
    const wX = a * X, wY = a * Y, wZ = a * Z;
    const xX = b * X, xY = b * Y, xZ = b * Z;
    const yY = c * Y, yZ = c * Z, zZ = d * Z;
    r = [
      [1 - (yY + zZ), xY - wZ, xZ + wY],
      [xY + wZ, 1 - (xX + zZ), yZ - wX],
      [xZ - wY, yZ + wX, 1 - (xX + yY)],
    ];
  }
  const q0 = header.pixdim[0];
  const qfac = q0 === -1 ? -1 : 1;
  const zooms = [1, 2, 3].map((i) => Math.abs(header.pixdim[i]));
  zooms[2] *= qfac;
  const out: Affine = [0, 1, 2].map((row) => [
    r[row][0] * zooms[0],
    r[row][1] * zooms[1],
    r[row][2] * zooms[2],
    0,
  ]);
  out[0][3] = header.qoffsetX;
  out[1][3] = header.qoffsetY;
  out[2][3] = header.qoffsetZ;
  out.push([0, 0, 0, 1]);
  return out;
}

/**
 * nibabel's fallback affine when neither sform nor qform is set: the grid spacings on the
 * diagonal with x negated, and the centre of the first three dims at the origin
 * (`shape_zoom_affine(shape, zooms, x_flip=True)`).
 *
 * @param header A parsed header.
 * @returns The 4×4 matrix.
 */
export function baseAffine(header: NiftiHeader): Affine {
  const ndim = header.dim[0];
  const shape = [1, 2, 3].map((i) => (i <= ndim ? header.dim[i] : 1));
  const zooms = [1, 2, 3].map((i) => (i <= ndim ? header.pixdim[i] : 1));
  zooms[0] *= -1;
  const out: Affine = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]];
  for (let i = 0; i < 3; i++) {
    out[i][i] = zooms[i];
    out[i][3] = -((shape[i] - 1) / 2) * zooms[i];
  }
  return out;
}

/**
 * The voxel-to-world affine with the standard precedence, exactly as nibabel's
 * `get_best_affine()`: sform when `sform_code ≠ 0`, else qform when `qform_code ≠ 0`, else
 * {@linkcode baseAffine}.
 *
 * @param header A parsed header.
 * @returns The 4×4 row-major matrix, `world = affine · [i, j, k, 1]`.
 * @throws {SyntaxError} When the qform quaternion is invalid.
 */
export function niftiAffine(header: NiftiHeader): Affine {
  if (header.sformCode !== 0) return sformAffine(header);
  if (header.qformCode !== 0) return qformAffine(header);
  return baseAffine(header);
}

/** A qform decomposition of an affine. */
export interface QformParams {
  /** Quaternion b, c, d (a ≥ 0 implied). */
  b: number;
  /** Quaternion c. */
  c: number;
  /** Quaternion d. */
  d: number;
  /** qfac (pixdim[0]): −1 when the affine is left-handed. */
  qfac: 1 | -1;
  /** Column norms of the 3×3 part (pixdim[1..3]). */
  zooms: [number, number, number];
  /** Translation (qoffset_x, y, z). */
  offset: [number, number, number];
}

/**
 * Decompose an affine into qform parameters: zooms are column norms, the rotation is the
 * nearest orthonormal matrix (polar decomposition, so sheared affines get the closest
 * rotation as in nibabel's `set_qform`), and a negative determinant becomes qfac = −1.
 *
 * @param affine A 4×4 affine.
 * @returns The quaternion, qfac, zooms and offset.
 * @throws {RangeError} When a column of the 3×3 part is zero.
 */
export function qformFromAffine(affine: Affine): QformParams {
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c]));
  const zooms = [0, 1, 2].map((c) => Math.hypot(m[0][c], m[1][c], m[2][c])) as [
    number,
    number,
    number,
  ];
  if (zooms.some((z) => !(z > 0))) {
    throw new RangeError(`Cannot derive a NIfTI qform: affine has a zero column (${zooms})`);
  }
  let r = m.map((row) => row.map((v, c) => v / zooms[c]));
  let qfac: 1 | -1 = 1;
  if (_det3(r) < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i][2] = -r[i][2];
  }
  // Polar decomposition by Newton iteration R ← (R + R⁻ᵀ)/2 (Higham 1986).
  for (let it = 0; it < 50; it++) {
    const inv = _inv3(r);
    const next = r.map((row, i) => row.map((v, j) => 0.5 * (v + inv[j][i])));
    let delta = 0;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) delta = Math.max(delta, Math.abs(next[i][j] - r[i][j]));
    }
    r = next;
    if (delta < 1e-15) break;
  }
  // Shepperd's method for the quaternion of a rotation matrix.
  const tr = r[0][0] + r[1][1] + r[2][2];
  let a: number, b: number, c: number, d: number;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    a = 0.25 * s;
    b = (r[2][1] - r[1][2]) / s;
    c = (r[0][2] - r[2][0]) / s;
    d = (r[1][0] - r[0][1]) / s;
  } else if (r[0][0] > r[1][1] && r[0][0] > r[2][2]) {
    const s = Math.sqrt(1 + r[0][0] - r[1][1] - r[2][2]) * 2;
    a = (r[2][1] - r[1][2]) / s;
    b = 0.25 * s;
    c = (r[0][1] + r[1][0]) / s;
    d = (r[0][2] + r[2][0]) / s;
  } else if (r[1][1] > r[2][2]) {
    const s = Math.sqrt(1 + r[1][1] - r[0][0] - r[2][2]) * 2;
    a = (r[0][2] - r[2][0]) / s;
    b = (r[0][1] + r[1][0]) / s;
    c = 0.25 * s;
    d = (r[1][2] + r[2][1]) / s;
  } else {
    const s = Math.sqrt(1 + r[2][2] - r[0][0] - r[1][1]) * 2;
    a = (r[1][0] - r[0][1]) / s;
    b = (r[0][2] + r[2][0]) / s;
    c = (r[1][2] + r[2][1]) / s;
    d = 0.25 * s;
  }
  if (a < 0) {
    b = -b;
    c = -c;
    d = -d;
  }
  return {
    b,
    c,
    d,
    qfac,
    zooms,
    offset: [affine[0][3], affine[1][3], affine[2][3]],
  };
}

function _det3(m: number[][]): number {
  return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

function _inv3(m: number[][]): number[][] {
  const det = _det3(m);
  const inv = [
    [
      m[1][1] * m[2][2] - m[1][2] * m[2][1],
      m[0][2] * m[2][1] - m[0][1] * m[2][2],
      m[0][1] * m[1][2] - m[0][2] * m[1][1],
    ],
    [
      m[1][2] * m[2][0] - m[1][0] * m[2][2],
      m[0][0] * m[2][2] - m[0][2] * m[2][0],
      m[0][2] * m[1][0] - m[0][0] * m[1][2],
    ],
    [
      m[1][0] * m[2][1] - m[1][1] * m[2][0],
      m[0][1] * m[2][0] - m[0][0] * m[2][1],
      m[0][0] * m[1][1] - m[0][1] * m[1][0],
    ],
  ];
  return inv.map((row) => row.map((v) => v / det));
}
