/**
 * Read NIfTI-1 / NIfTI-2 files (`.nii` or gzipped `.nii.gz`, either byte order, every scalar
 * datatype, `scl_slope`/`scl_inter`, extensions, any `vox_offset`, up to 7-D).
 *
 * @module
 */

import { gunzipSync } from "node:zlib";
import { NIFTI_DATATYPES, type NiftiDatatypeName } from "./datatypes.ts";
import { type Affine, niftiAffine, type NiftiHeader, parseNiftiHeader } from "./header.ts";

/** A NIfTI volume with scaled voxel values. */
export interface NiftiImage {
  /** Name used in messages (the path, or `"<bytes>"`). */
  name: string;
  /** Shape in NIfTI order (i, j, k, t, …) = `dim[1..dim[0]]`. */
  shape: number[];
  /** Grid spacing per dimension, NIfTI order (`pixdim[1..dim[0]]`, mm for i, j, k). */
  spacing: number[];
  /** Voxel-to-world 4×4 matrix (sform, then qform, then pixdim-only), row-major. */
  affine: Affine;
  /** Stored datatype name (`"int16"`, `"float32"`, …). */
  datatype: NiftiDatatypeName;
  /**
   * Scaled values `raw · slope + inter` in file order (i fastest, then j, k, …):
   * Float64Array for float64 and 64-bit integer files (or when `float64` is asked for),
   * Float32Array otherwise.
   */
  data: Float32Array | Float64Array;
  /** Every header field as stored, for round trips. */
  header: NiftiHeader;
}

/** Options of {@linkcode readNifti}. */
export interface ReadNiftiOptions {
  /** Name used in error messages. @default "<bytes>" */
  name?: string;
  /** Return `data` as Float64Array whatever the datatype (exact nibabel `get_fdata()`). @default false */
  float64?: boolean;
  /**
   * Largest decompressed file accepted, in bytes (guards against gzip bombs and headers that
   * declare absurd sizes).
   * @default 2 ** 31 - 1
   */
  maxBytes?: number;
}

const _DEFAULT_MAX = 2 ** 31 - 1;

/**
 * Whether bytes start with the gzip magic `1f 8b`.
 *
 * @param bytes File bytes.
 * @returns True for gzip data.
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompress a `.nii.gz` (or pass a plain `.nii` through), bounded by `maxBytes`.
 *
 * @param bytes File bytes.
 * @param options Name for messages and the largest output accepted.
 * @returns The uncompressed bytes.
 * @throws {SyntaxError} When the gzip stream is corrupt or truncated.
 * @throws {RangeError} When the output would exceed `maxBytes`.
 */
export function gunzipNifti(
  bytes: Uint8Array,
  options: Pick<ReadNiftiOptions, "name" | "maxBytes"> = {},
): Uint8Array {
  const name = options.name ?? "<bytes>";
  const maxBytes = options.maxBytes ?? _DEFAULT_MAX;
  if (!isGzip(bytes)) {
    if (bytes.length > maxBytes) {
      throw new RangeError(`Cannot read NIfTI ${name}: ${bytes.length} bytes exceed ${maxBytes}`);
    }
    return bytes;
  }
  try {
    const out = gunzipSync(bytes, { maxOutputLength: maxBytes });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
      throw new RangeError(
        `Cannot decompress NIfTI ${name}: the data exceed the limit of ${maxBytes} bytes`,
      );
    }
    throw new SyntaxError(`Cannot decompress NIfTI ${name}: ${e.message}`);
  }
}

/**
 * Parse a NIfTI file from its bytes.
 *
 * Header fields are parsed by `nifti-reader-js` after dicelab's own validation (see
 * {@linkcode parseNiftiHeader}); the affine follows nibabel's precedence and arithmetic.
 * Scaling follows nibabel: `raw · scl_slope + scl_inter` computed in float64, with a slope
 * of 0 or a non-finite slope meaning "no scaling". Complex, RGB, binary and float128 files
 * are rejected.
 *
 * @param bytes The `.nii` or `.nii.gz` bytes.
 * @param options Name for messages, output precision, size limit.
 * @returns The image.
 * @throws {SyntaxError} When the bytes are not a valid NIfTI file.
 * @throws {TypeError} When the datatype is not a real scalar (complex, RGB, …).
 * @throws {RangeError} When the file exceeds `maxBytes`.
 * @example
 * ```ts
 * import { readNifti, writeNifti } from "./mod.ts";
 * const bytes = writeNifti({ shape: [2, 2, 1], data: new Float32Array([1, 2, 3, 4]) });
 * const img = readNifti(bytes, { name: "tiny.nii" });
 * console.log(img.shape, img.datatype, Array.from(img.data)); // [2, 2, 1] float32 [1, 2, 3, 4]
 * ```
 */
export function readNifti(bytes: Uint8Array, options: ReadNiftiOptions = {}): NiftiImage {
  const name = options.name ?? "<bytes>";
  const raw = gunzipNifti(bytes, { name, maxBytes: options.maxBytes });
  const { header, shape, dataOffset, dataBytes } = parseNiftiHeader(raw, name);
  const dt = NIFTI_DATATYPES.get(header.datatypeCode)!;
  if (!dt.scalar) {
    throw new TypeError(
      `Cannot read NIfTI ${name}: datatype ${dt.name} (${dt.code}) is not a real scalar type`,
    );
  }
  let affine: Affine;
  try {
    affine = niftiAffine(header);
  } catch (err) {
    throw new SyntaxError(`Cannot read NIfTI ${name}: ${(err as Error).message}`);
  }
  const slopeOk = Number.isFinite(header.sclSlope) && header.sclSlope !== 0;
  const slope = slopeOk ? header.sclSlope : 1;
  const inter = slopeOk && Number.isFinite(header.sclInter) ? header.sclInter : 0;
  const wide = options.float64 === true || dt.bitpix === 64;
  const data = _decode(
    raw,
    dataOffset,
    dataBytes,
    dt.name,
    header.littleEndian,
    slope,
    inter,
    wide,
  );
  const ndim = header.dim[0];
  return {
    name,
    shape,
    spacing: header.pixdim.slice(1, ndim + 1),
    affine,
    datatype: dt.name,
    data,
    header,
  };
}

/**
 * Read a NIfTI file from disk (see {@linkcode readNifti}).
 *
 * @param path Path of a `.nii` or `.nii.gz` file.
 * @param options Output precision and size limit (the name is the path).
 * @returns The image.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {SyntaxError} When the file is not a valid NIfTI file.
 * @throws {TypeError} When the datatype is not a real scalar.
 */
export async function readNiftiFile(
  path: string,
  options: Omit<ReadNiftiOptions, "name"> = {},
): Promise<NiftiImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read NIfTI ${path}: the file does not exist`);
    }
    throw err;
  }
  return readNifti(bytes, { ...options, name: path });
}

function _decode(
  raw: Uint8Array,
  offset: number,
  nbytes: number,
  type: NiftiDatatypeName,
  littleEndian: boolean,
  slope: number,
  inter: number,
  wide: boolean,
): Float32Array | Float64Array {
  // Copy into an aligned buffer, swapping bytes when the file order differs from the host's.
  const buf = raw.slice(offset, offset + nbytes);
  const width = NIFTI_DATATYPES.get(_codeOf(type))!.bitpix / 8;
  if (width > 1 && littleEndian !== _HOST_LE) _swap(buf, width);
  const ab = buf.buffer;
  const n = nbytes / width;
  const scaled = slope !== 1 || inter !== 0;
  if (type === "float32" && !wide && !scaled) return new Float32Array(ab, 0, n);
  if (type === "float64" && !scaled) return new Float64Array(ab, 0, n);
  const out = wide ? new Float64Array(n) : new Float32Array(n);
  if (type === "int64" || type === "uint64") {
    const src = type === "int64" ? new BigInt64Array(ab, 0, n) : new BigUint64Array(ab, 0, n);
    for (let i = 0; i < n; i++) out[i] = Number(src[i]) * slope + inter;
    return out;
  }
  const src = _view(type, ab, n);
  if (!scaled) {
    out.set(src);
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = src[i] * slope + inter;
  return out;
}

const _HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function _codeOf(type: NiftiDatatypeName): number {
  for (const [code, t] of NIFTI_DATATYPES) if (t.name === type) return code;
  return 0;
}

function _swap(buf: Uint8Array, width: number): void {
  for (let i = 0; i < buf.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = buf[a];
      buf[a] = buf[b];
      buf[b] = t;
    }
  }
}

function _view(
  type: NiftiDatatypeName,
  ab: ArrayBufferLike,
  n: number,
): ArrayLike<number> & { length: number } {
  switch (type) {
    case "uint8":
      return new Uint8Array(ab, 0, n);
    case "int8":
      return new Int8Array(ab, 0, n);
    case "int16":
      return new Int16Array(ab, 0, n);
    case "uint16":
      return new Uint16Array(ab, 0, n);
    case "int32":
      return new Int32Array(ab, 0, n);
    case "uint32":
      return new Uint32Array(ab, 0, n);
    case "float32":
      return new Float32Array(ab, 0, n);
    case "float64":
      return new Float64Array(ab, 0, n);
    default:
      throw new TypeError(`Cannot decode NIfTI voxels: unsupported datatype ${type}`);
  }
}
