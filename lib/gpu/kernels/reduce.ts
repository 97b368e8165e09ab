/**
 * Building blocks shared by the memory-bound kernels (activations, normalisation, pooling,
 * reductions): the row grid used to walk NCDHW views without per-element integer division,
 * the vec4 fast path, the partition of a segment into per-invocation chunks, and the WGSL of
 * compensated sums and of Welford's running mean and variance.
 *
 * Facts about the Mesa llvmpipe adapter that shape these kernels (measured on it with
 * micro-benchmarks while writing them; `bench/elementwise_bench.ts` times the resulting ops):
 * - every invocation gets a budget of about 65,535 loop iterations *in total* (all loops of
 *   the shader together); past it, loops silently stop. Kernels keep each invocation's work
 *   far below that: a chunk is at most {@linkcode MAX_CHUNK} vector elements.
 * - the shader compiler reassociates floating point, so the textbook Kahan update
 *   `c = (t − s) − y` folds to `c = 0`. Multiplying `t` by a uniform `one` (always 1.0,
 *   unknown to the compiler) keeps the compensation alive.
 * - storage loads are per-lane gathers; `vec4<f32>` bindings move four floats per load and
 *   make row kernels ≈ 1.8× faster. Views whose rows are multiples of 4 floats (`S % 4 == 0`,
 *   every U-Net level here) take the vec4 path; odd shapes take the scalar one.
 * - `workgroupBarrier` is expensive (invocations are coroutines); no kernel here has one.
 * - vector integer division is scalarised; kernels divide once per invocation or per
 *   workgroup, never per element.
 *
 * A kernel's WGSL is written once against the alias `T` (`f32` or `vec4<f32>`); scalar
 * uniforms broadcast in arithmetic, comparisons use `T(0.0)`.
 *
 * @module
 */

import { wgsl } from "../kernel_spec.ts";

/** Vector width of a kernel variant: 1 (`f32`) or 4 (`vec4<f32>`). */
export type Vec = 1 | 4;

/** Invocations per workgroup of every kernel in this family. */
export const ROW_WG = 64;

/** Vector elements per invocation of the row-grid kernels. */
export function rowPer(vec: Vec): number {
  return vec === 4 ? 4 : 8;
}

/** Floats of one row handled by one workgroup of a row-grid kernel. */
export function rowSpan(vec: Vec): number {
  return ROW_WG * rowPer(vec) * vec;
}

/** Invocations per workgroup of the partial-sum (pass 1) kernels. */
export const PARTIAL_WG = 64;
/** Invocations per workgroup of the combining (pass 2) kernels (one invocation per group). */
export const COMBINE_WG = 64;
/** Largest chunk (in vector elements) one invocation reduces serially. */
export const MAX_CHUNK = 4096;
/** Smallest chunk (in floats) worth an invocation of its own. */
export const MIN_CHUNK = 256;
/** Invocations a partial pass aims for, so both cores get many workgroups. */
export const TARGET_INVOCATIONS = 1024;
/** Most partials one combine invocation merges (its loop budget; two loops over them). */
export const MAX_PARTIALS_PER_GROUP = 16384;

/**
 * The vector width a view of `S = D·H·W` floats per row can use: 4 when rows are whole
 * vec4s (then every row start is 16-byte aligned), else 1.
 *
 * @param S Floats per row.
 * @returns 4 or 1.
 */
export function vecFor(S: number): Vec {
  return S % 4 === 0 ? 4 : 1;
}

/**
 * WGSL element type of a tensor binding.
 *
 * @param vec Vector width.
 * @returns `"f32"` or `"vec4<f32>"`.
 */
export function elementType(vec: Vec): "f32" | "vec4<f32>" {
  return vec === 4 ? "vec4<f32>" : "f32";
}

/**
 * A tensor binding declaration of the given access and vector width.
 *
 * @param access Access mode.
 * @param vec Vector width.
 * @returns The binding declaration.
 */
export function tensorBinding(
  access: "read" | "write" | "read_write",
  vec: Vec,
): { access: "read" | "write" | "read_write"; type: "f32" | "vec4<f32>" } {
  return { access, type: elementType(vec) };
}

/**
 * Module-scope WGSL declaring `alias T` and `hsum(T) -> f32` (sum of the components).
 *
 * @param vec Vector width.
 * @returns WGSL.
 */
export function vecPrelude(vec: Vec): string {
  return vec === 4
    ? "alias T = vec4<f32>;\nfn hsum(v: T) -> f32 { return (v.x + v.y) + (v.z + v.w); }\n"
    : "alias T = f32;\nfn hsum(v: T) -> f32 { return v; }\n";
}

/**
 * Workgroups of a row-grid kernel over a view: x walks the spatial extent of one row, y is the
 * channel and z the batch index.
 *
 * @param vec Vector width.
 * @returns The dispatch function (uniforms `S` in floats, `C`, `N`).
 */
export function rowGrid(
  vec: Vec,
): (u: { S: number; C: number; N: number }) => [number, number, number] {
  return (u) => [Math.ceil(u.S / rowSpan(vec)), u.C, u.N];
}

/**
 * Uniforms `n0`, `c0` of the row-grid kernels: the first sample and channel of the dispatch
 * (0 and 0 unless an op splits its rows into chunks, see `rowChunks` in `tensor.ts`).
 */
export const ROW_ORIGIN = { n0: "u32", c0: "u32" } as const;

/**
 * WGSL that opens the row-grid walk: `c = wid.y + c0` and `n = wid.z + n0` (absolute indices,
 * uniforms {@linkcode ROW_ORIGIN}), `SV` (vector elements per row), one `<name>B` base per
 * tensor in vector elements (`(n·<name>Tot + <name>Off + c)·SV`, uniforms `<name>Tot`,
 * `<name>Off`; a chunked dispatch passes the window-relative `offAbs` as `<name>Off`), and
 * `s0`, the first vector index of this invocation. Follow it with {@linkcode rowLoop}.
 *
 * @param tensors Tensor names, each with `Tot`/`Off` uniforms.
 * @param vec Vector width.
 * @returns WGSL statements.
 */
export function rowHeader(tensors: readonly string[], vec: Vec): string {
  const bases = tensors.map((t) => `  let ${t}B = (n * u.${t}Tot + u.${t}Off + c) * SV;`);
  return [
    "  let c = wid.y + u.c0;",
    "  let n = wid.z + u.n0;",
    `  let SV = u.S / ${vec}u;`,
    ...bases,
    `  let s0 = wid.x * ${ROW_WG * rowPer(vec)}u + lid.x;`,
  ].join("\n");
}

/**
 * WGSL loop over this invocation's vector indices `s` of the row (`rowPer(vec)` of them,
 * `ROW_WG` apart, so neighbouring lanes touch neighbouring elements).
 *
 * @param body Statements using `s` (and the bases of {@linkcode rowHeader}).
 * @param vec Vector width.
 * @returns WGSL statements.
 */
export function rowLoop(body: string, vec: Vec): string {
  return wgsl`
  for (var rowIt = 0u; rowIt < ${rowPer(vec)}u; rowIt++) {
    let s = s0 + rowIt * ${ROW_WG}u;
    if (s >= SV) { break; }
${body}
  }`;
}

/**
 * Uniform declarations `<name>Tot`, `<name>Off` (u32) for each tensor.
 *
 * @param tensors Tensor names.
 * @returns Uniform fields in order.
 */
export function viewUniforms<T extends string>(
  tensors: readonly T[],
): Record<`${T}Tot` | `${T}Off`, "u32"> {
  const out = {} as Record<`${T}Tot` | `${T}Off`, "u32">;
  for (const t of tensors) {
    out[`${t}Tot`] = "u32";
    out[`${t}Off`] = "u32";
  }
  return out;
}

/** How the rows of a view are cut into chunks for a partial pass. */
export interface Partition {
  /** Chunks per row. */
  parts: number;
  /** Floats per chunk (a multiple of `vec`; the last chunk of a row may be shorter). */
  chunk: number;
  /** Vector width of the partial kernel. */
  vec: Vec;
}

/**
 * How rows of `S` floats are split into chunks, one per invocation of a partial pass: enough
 * chunks for {@linkcode TARGET_INVOCATIONS} invocations, none shorter than
 * {@linkcode MIN_CHUNK} floats or longer than {@linkcode MAX_CHUNK} vector elements.
 *
 * @param S Floats per row.
 * @param rows Number of rows reduced together.
 * @returns The partition (no chunk is empty).
 * @throws {RangeError} When `S` or `rows` is not a positive integer.
 */
export function partition(S: number, rows: number): Partition {
  if (!Number.isInteger(S) || S < 1 || !Number.isInteger(rows) || rows < 1) {
    throw new RangeError(`Cannot partition a reduction: ${rows} rows of ${S} elements`);
  }
  const vec = vecFor(S);
  const sv = S / vec;
  const minParts = Math.ceil(sv / MAX_CHUNK);
  const wanted = Math.min(Math.ceil(TARGET_INVOCATIONS / rows), Math.ceil(S / MIN_CHUNK));
  const parts0 = Math.max(minParts, wanted, 1);
  const chunkV = Math.ceil(sv / parts0);
  return { parts: Math.ceil(sv / chunkV), chunk: chunkV * vec, vec };
}

/**
 * WGSL of compensated (Kahan) summation over `T`: an accumulator is a `KT { s, c }` whose
 * value is `s − c`; `one` must be a uniform equal to 1.0 (see the module doc: without it the
 * compiler folds the compensation away). Needs {@linkcode vecPrelude} before it.
 */
export const KAHAN_WGSL: string = wgsl`
struct KT { s: T, c: T }
fn kt(a: KT, v: T, one: f32) -> KT {
  let y = v - a.c;
  let t = (a.s + y) * one;
  return KT(t, (t - a.s) - y);
}
fn ktValue(a: KT) -> f32 { return hsum(a.s) - hsum(a.c); }
struct K1 { s: f32, c: f32 }
fn k1(a: K1, v: f32, one: f32) -> K1 {
  let y = v - a.c;
  let t = (a.s + y) * one;
  return K1(t, (t - a.s) - y);
}
`;

/**
 * WGSL merging `vec` Welford streams of `k` samples each (means `m`, M2 `q`) into one
 * `(mean, M2)` pair with Chan et al.'s pairwise update (Chan, Golub & LeVeque, "Algorithms for
 * computing the sample variance", Am. Stat. 37, 1983): equal counts make every weight ½.
 * Needs {@linkcode vecPrelude} before it.
 *
 * @param vec Vector width.
 * @returns WGSL declaring `fn welfordMerge(m: T, q: T, k: f32) -> vec2<f32>`.
 */
export function welfordMergeWgsl(vec: Vec): string {
  if (vec === 1) {
    return "fn welfordMerge(m: T, q: T, k: f32) -> vec2<f32> { return vec2<f32>(m, q); }\n";
  }
  return wgsl`
fn welfordMerge(m: T, q: T, k: f32) -> vec2<f32> {
  let dA = m.y - m.x;
  let dB = m.w - m.z;
  let mA = m.x + 0.5 * dA;
  let mB = m.z + 0.5 * dB;
  let qA = (q.x + q.y) + 0.5 * k * dA * dA;
  let qB = (q.z + q.w) + 0.5 * k * dB * dB;
  let dC = mB - mA;
  return vec2<f32>(mA + 0.5 * dC, (qA + qB) + k * dC * dC);
}
`;
}
