/**
 * Write single-file NIfTI-1 (`n+1`, little-endian, optional gzip): dicelab's own writer, used
 * for predictions and phantom datasets.
 *
 * Gzip: {@linkcode writeNifti} is synchronous and compresses with `node:zlib`'s `gzipSync`
 * (the platform's `CompressionStream` has no synchronous form); {@linkcode writeNiftiAsync}
 * and {@linkcode writeNiftiFile} compress with `CompressionStream("gzip")`. Both produce
 * standard gzip streams of the same uncompressed bytes.
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import { datatypeByName, INTEGER_RANGES, type NiftiDatatypeName } from "./datatypes.ts";
import { type Affine, niftiAffine, type NiftiHeader, qformFromAffine } from "./header.ts";

/** Voxel arrays the writer accepts. */
export type NiftiVoxelArray =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** What to write: a volume, its geometry and optional header fields. */
export interface NiftiWriteInput {
  /** Shape in NIfTI order (i, j, k, …), 1 to 7 dims. */
  shape: readonly number[];
  /** Values in file order (i fastest); scaled values when `header.sclSlope` is set. */
  data: NiftiVoxelArray;
  /**
   * Voxel-to-world 4×4 matrix. When absent, the header's transform is used, else
   * `diag(spacing)`.
   */
  affine?: Affine;
  /** Grid spacing per dimension (NIfTI order); for dims 4+ it fills pixdim[4..]. */
  spacing?: readonly number[];
  /** Stored datatype. @default derived from the array type (Float32Array → float32 …) */
  datatype?: NiftiDatatypeName;
  /**
   * Header fields to keep (e.g. the `header` of a {@linkcode NiftiImage} read earlier). When
   * its sform/qform reproduce `affine`, they are written unchanged, so a read–write–read
   * round trip is exact; otherwise both are derived from `affine`.
   */
  header?: Partial<NiftiHeader>;
}

/** Options of {@linkcode writeNifti}. */
export interface WriteNiftiOptions {
  /** Gzip the file (`.nii.gz`). @default false */
  gzip?: boolean;
  /** zlib level for the synchronous writer (1 fastest … 9 smallest). @default 6 */
  level?: number;
  /** Override the stored datatype. */
  datatype?: NiftiDatatypeName;
}

const _HDR = 348;

/**
 * Encode a volume as an uncompressed or gzipped NIfTI-1 file, synchronously.
 *
 * Integer datatypes: values are unscaled with `(v − scl_inter) / scl_slope` and rounded when
 * the header carries a scaling; without scaling they must already be integers. Every value
 * must fit the datatype.
 *
 * @param image Shape, data, geometry and header fields.
 * @param options Gzip, zlib level, datatype.
 * @returns The file bytes.
 * @throws {TypeError} When shape and data disagree or the datatype is not a writable scalar.
 * @throws {RangeError} When a value does not fit the datatype or a header field its slot.
 * @example
 * ```ts
 * import { readNifti, writeNifti } from "./mod.ts";
 * const label = new Uint8Array([0, 1, 2, 3, 0, 1]);
 * const bytes = writeNifti({ shape: [3, 2, 1], data: label }, { gzip: true });
 * console.log(readNifti(bytes).datatype); // uint8
 * ```
 */
export function writeNifti(image: NiftiWriteInput, options: WriteNiftiOptions = {}): Uint8Array {
  const raw = _encode(image, options.datatype);
  if (!options.gzip) return raw;
  const gz = gzipSync(raw, { level: options.level ?? 6 });
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength);
}

/**
 * Encode a volume as NIfTI-1, gzipping with the platform's `CompressionStream`.
 *
 * @param image Shape, data, geometry and header fields.
 * @param options Gzip (default true here) and datatype; `level` is ignored.
 * @returns The file bytes.
 * @throws {TypeError} When shape and data disagree or the datatype is not writable.
 * @throws {RangeError} When a value does not fit the datatype.
 */
export async function writeNiftiAsync(
  image: NiftiWriteInput,
  options: WriteNiftiOptions = {},
): Promise<Uint8Array> {
  const raw = _encode(image, options.datatype);
  if (options.gzip === false) return raw;
  const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Write a NIfTI-1 file atomically (temporary sibling + rename); gzip when the path ends in
 * `.gz` unless `options.gzip` says otherwise (compressed with `CompressionStream`).
 *
 * @param path Target path; its directory must exist.
 * @param image Shape, data, geometry and header fields.
 * @param options Gzip and datatype.
 * @returns Resolves when the file is in place.
 * @throws {TypeError} When shape and data disagree or the datatype is not writable.
 * @throws {RangeError} When a value does not fit the datatype.
 * @throws {Deno.errors.NotFound} When the directory does not exist.
 */
export async function writeNiftiFile(
  path: string,
  image: NiftiWriteInput,
  options: WriteNiftiOptions = {},
): Promise<void> {
  const gzip = options.gzip ?? path.endsWith(".gz");
  const bytes = await writeNiftiAsync(image, { ...options, gzip });
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const tmp = `${path}.tmp-${Deno.pid}-${rand}`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

function _datatypeOf(data: NiftiVoxelArray): NiftiDatatypeName {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int32Array) return "int32";
  return "uint32";
}

function _close(a: Affine, b: Affine): boolean {
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      if (!(Math.abs(a[r][c] - b[r][c]) <= 1e-6 * (1 + Math.abs(b[r][c])))) return false;
    }
  }
  return true;
}

function _hasTransform(h: Partial<NiftiHeader>): h is NiftiHeader {
  return h.qformCode !== undefined && h.sformCode !== undefined && h.srowX !== undefined &&
    h.srowY !== undefined && h.srowZ !== undefined && h.pixdim !== undefined &&
    h.quaternB !== undefined && h.quaternC !== undefined && h.quaternD !== undefined &&
    h.qoffsetX !== undefined && h.qoffsetY !== undefined && h.qoffsetZ !== undefined &&
    h.dim !== undefined;
}

function _encode(image: NiftiWriteInput, override?: NiftiDatatypeName): Uint8Array {
  const shape = [...image.shape];
  const ndim = shape.length;
  if (ndim < 1 || ndim > 7 || shape.some((s) => !Number.isInteger(s) || s < 1 || s > 32767)) {
    throw new TypeError(`Cannot write NIfTI: shape [${shape}] must have 1..7 dims in 1..32767`);
  }
  const nvox = shape.reduce((a, b) => a * b, 1);
  if (image.data.length !== nvox) {
    throw new TypeError(
      `Cannot write NIfTI: data has ${image.data.length} values, shape [${shape}] needs ${nvox}`,
    );
  }
  const dtName = override ?? image.datatype ?? _datatypeOf(image.data);
  const dt = datatypeByName(dtName);
  if (!dt.scalar) {
    throw new TypeError(`Cannot write NIfTI: datatype ${dtName} is not a real scalar type`);
  }
  const h: Partial<NiftiHeader> = image.header ?? {};

  // Geometry: keep the header's transform when it reproduces the affine.
  let dim = [ndim, ...shape, ...new Array(7 - ndim).fill(1)];
  if (h.dim && h.dim[0] === ndim && shape.every((s, i) => h.dim![i + 1] === s)) {
    dim = h.dim.slice(0, 8).map((v, i) => (i > ndim && !(v >= 0 && v <= 32767) ? 1 : v));
  }
  const spacing = image.spacing ? [...image.spacing] : undefined;
  let pixdim: number[];
  let qformCode: number, sformCode: number;
  let quat: number[];
  let srow: number[][];
  const headerAffine = _hasTransform(h) ? niftiAffine(h as NiftiHeader) : undefined;
  if (headerAffine && (!image.affine || _close(image.affine, headerAffine))) {
    const hh = h as NiftiHeader;
    pixdim = hh.pixdim.slice(0, 8);
    qformCode = hh.qformCode;
    sformCode = hh.sformCode;
    quat = [hh.quaternB, hh.quaternC, hh.quaternD, hh.qoffsetX, hh.qoffsetY, hh.qoffsetZ];
    srow = [hh.srowX, hh.srowY, hh.srowZ];
  } else {
    const affine = image.affine ?? [
      [spacing?.[0] ?? 1, 0, 0, 0],
      [0, spacing?.[1] ?? 1, 0, 0],
      [0, 0, spacing?.[2] ?? 1, 0],
      [0, 0, 0, 1],
    ];
    const q = qformFromAffine(affine);
    pixdim = [q.qfac, ...q.zooms];
    for (let i = 4; i < 8; i++) {
      pixdim.push(spacing?.[i - 1] ?? h.pixdim?.[i] ?? (i <= ndim ? 1 : 0));
    }
    qformCode = h.qformCode && h.qformCode > 0 ? h.qformCode : 2;
    sformCode = h.sformCode && h.sformCode > 0 ? h.sformCode : 2;
    quat = [q.b, q.c, q.d, ...q.offset];
    srow = [0, 1, 2].map((r) => affine[r].slice(0, 4));
  }

  const extensions = h.extensions ?? [];
  const extBytes = extensions.reduce((s, e) => s + _pad16(e.data.length + 8), 0);
  const voxOffset = _HDR + 4 + extBytes;
  const buf = new ArrayBuffer(voxOffset + nvox * (dt.bitpix / 8));
  const v = new DataView(buf);
  const u8 = new Uint8Array(buf);
  const i16 = (off: number, x: number, field: string) => {
    if (!Number.isInteger(x) || x < -32768 || x > 32767) {
      throw new RangeError(`Cannot write NIfTI: ${field} ${x} does not fit an int16`);
    }
    v.setInt16(off, x, true);
  };
  const f32 = (off: number, x: number) => v.setFloat32(off, x, true);
  const str = (off: number, len: number, s: string) => {
    const b = new TextEncoder().encode(s).subarray(0, len);
    u8.set(b, off);
  };
  const byte = (off: number, x: number, field: string) => {
    if (!Number.isInteger(x) || x < 0 || x > 255) {
      throw new RangeError(`Cannot write NIfTI: ${field} ${x} does not fit a byte`);
    }
    v.setUint8(off, x);
  };

  v.setInt32(0, _HDR, true);
  u8[38] = 114; // "r": regular, as nibabel writes
  byte(39, h.dimInfo ?? 0, "dim_info");
  dim.forEach((d, i) => i16(40 + 2 * i, d, `dim[${i}]`));
  f32(56, h.intentP1 ?? 0);
  f32(60, h.intentP2 ?? 0);
  f32(64, h.intentP3 ?? 0);
  i16(68, h.intentCode ?? 0, "intent_code");
  i16(70, dt.code, "datatype");
  i16(72, dt.bitpix, "bitpix");
  i16(74, h.sliceStart ?? 0, "slice_start");
  pixdim.forEach((p, i) => f32(76 + 4 * i, p));
  f32(108, voxOffset);
  const slope = h.sclSlope ?? 1;
  const inter = h.sclInter ?? 0;
  f32(112, slope);
  f32(116, inter);
  i16(120, h.sliceEnd ?? 0, "slice_end");
  byte(122, h.sliceCode ?? 0, "slice_code");
  byte(123, h.xyztUnits ?? 10, "xyzt_units");
  f32(124, h.calMax ?? 0);
  f32(128, h.calMin ?? 0);
  f32(132, h.sliceDuration ?? 0);
  f32(136, h.toffset ?? 0);
  str(148, 80, h.descrip ?? "dicelab");
  str(228, 24, h.auxFile ?? "");
  i16(252, qformCode, "qform_code");
  i16(254, sformCode, "sform_code");
  quat.forEach((q, i) => f32(256 + 4 * i, q));
  srow.forEach((row, r) => row.forEach((x, c) => f32(280 + 16 * r + 4 * c, x)));
  str(328, 16, h.intentName ?? "");
  str(344, 4, "n+1");
  if (extensions.length > 0) u8[348] = 1;
  let pos = _HDR + 4;
  for (const e of extensions) {
    const esize = _pad16(e.data.length + 8);
    v.setInt32(pos, esize, true);
    v.setInt32(pos + 4, e.code, true);
    u8.set(e.data, pos + 8);
    pos += esize;
  }

  const scaled = Number.isFinite(slope) && slope !== 0 && (slope !== 1 || inter !== 0);
  _encodeVoxels(image.data, dt.name, buf, voxOffset, scaled ? slope : 1, scaled ? inter : 0);
  return u8;
}

function _pad16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

function _encodeVoxels(
  data: NiftiVoxelArray,
  type: NiftiDatatypeName,
  buf: ArrayBuffer,
  offset: number,
  slope: number,
  inter: number,
): void {
  const n = data.length;
  const scaled = slope !== 1 || inter !== 0;
  if (type === "float32" || type === "float64") {
    const out = type === "float32" ? new Float32Array(n) : new Float64Array(n);
    if (!scaled) out.set(data);
    else for (let i = 0; i < n; i++) out[i] = (data[i] - inter) / slope;
    new Uint8Array(buf, offset).set(new Uint8Array(out.buffer));
    return;
  }
  const [lo, hi] = INTEGER_RANGES[type];
  const bytes = datatypeByName(type).bitpix / 8;
  const v = new DataView(buf, offset);
  for (let i = 0; i < n; i++) {
    let x = data[i];
    if (scaled) x = Math.round((x - inter) / slope);
    if (!Number.isInteger(x) || x < lo || x > hi) {
      throw new RangeError(
        `Cannot write NIfTI: value ${data[i]} at voxel ${i} is not representable as ${type}` +
          (scaled ? ` with scl_slope ${slope}, scl_inter ${inter}` : ""),
      );
    }
    const at = i * bytes;
    switch (type) {
      case "uint8":
        v.setUint8(at, x);
        break;
      case "int8":
        v.setInt8(at, x);
        break;
      case "int16":
        v.setInt16(at, x, true);
        break;
      case "uint16":
        v.setUint16(at, x, true);
        break;
      case "int32":
        v.setInt32(at, x, true);
        break;
      case "uint32":
        v.setUint32(at, x, true);
        break;
      case "int64":
        v.setBigInt64(at, BigInt(x), true);
        break;
      case "uint64":
        v.setBigUint64(at, BigInt(x), true);
        break;
    }
  }
}
