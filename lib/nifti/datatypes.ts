/**
 * NIfTI datatype codes (nifti1.h `NIFTI_TYPE_*`): names, bit widths and whether dicelab can
 * read them as scalars.
 *
 * @module
 */

/** Names of the NIfTI datatypes (nibabel spelling). */
export type NiftiDatatypeName =
  | "binary"
  | "uint8"
  | "int16"
  | "int32"
  | "float32"
  | "complex64"
  | "float64"
  | "RGB"
  | "int8"
  | "uint16"
  | "uint32"
  | "int64"
  | "uint64"
  | "float128"
  | "complex128"
  | "complex256"
  | "RGBA";

/** One datatype: its code, name, bits per voxel and whether it is a readable scalar. */
export interface NiftiDatatype {
  /** `datatype` header code. */
  code: number;
  /** Name, e.g. `"int16"`. */
  name: NiftiDatatypeName;
  /** `bitpix` that must accompany the code. */
  bitpix: number;
  /** True for the scalar types dicelab reads and writes. */
  scalar: boolean;
  /** True for integer types (values are rounded when written). */
  integer: boolean;
}

const _TABLE: readonly NiftiDatatype[] = [
  { code: 1, name: "binary", bitpix: 1, scalar: false, integer: true },
  { code: 2, name: "uint8", bitpix: 8, scalar: true, integer: true },
  { code: 4, name: "int16", bitpix: 16, scalar: true, integer: true },
  { code: 8, name: "int32", bitpix: 32, scalar: true, integer: true },
  { code: 16, name: "float32", bitpix: 32, scalar: true, integer: false },
  { code: 32, name: "complex64", bitpix: 64, scalar: false, integer: false },
  { code: 64, name: "float64", bitpix: 64, scalar: true, integer: false },
  { code: 128, name: "RGB", bitpix: 24, scalar: false, integer: true },
  { code: 256, name: "int8", bitpix: 8, scalar: true, integer: true },
  { code: 512, name: "uint16", bitpix: 16, scalar: true, integer: true },
  { code: 768, name: "uint32", bitpix: 32, scalar: true, integer: true },
  { code: 1024, name: "int64", bitpix: 64, scalar: true, integer: true },
  { code: 1280, name: "uint64", bitpix: 64, scalar: true, integer: true },
  { code: 1536, name: "float128", bitpix: 128, scalar: false, integer: false },
  { code: 1792, name: "complex128", bitpix: 128, scalar: false, integer: false },
  { code: 2048, name: "complex256", bitpix: 256, scalar: false, integer: false },
  { code: 2304, name: "RGBA", bitpix: 32, scalar: false, integer: true },
];

/** Every NIfTI-1 datatype, keyed by code. */
export const NIFTI_DATATYPES: ReadonlyMap<number, NiftiDatatype> = new Map(
  _TABLE.map((t) => [t.code, t]),
);

/**
 * Look a datatype up by name.
 *
 * @param name A datatype name such as `"uint8"`.
 * @returns Its table entry.
 * @throws {TypeError} When the name is unknown.
 * @example
 * ```ts
 * import { datatypeByName } from "./datatypes.ts";
 * console.log(datatypeByName("int16").code); // 4
 * ```
 */
export function datatypeByName(name: string): NiftiDatatype {
  const hit = _TABLE.find((t) => t.name === name);
  if (!hit) throw new TypeError(`Cannot find NIfTI datatype: unknown name "${name}"`);
  return hit;
}

/** Inclusive value range of each integer datatype (64-bit types limited to safe integers). */
export const INTEGER_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};
