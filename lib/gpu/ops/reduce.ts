/**
 * Validation and uniform helpers shared by the ops of the memory-bound kernels: view
 * layouts, shape agreement, parameter sizes, and the WebGPU rule that a buffer written by a
 * dispatch may not be bound a second time in the same dispatch.
 *
 * @module
 */

import { rowSpan } from "../kernels/reduce.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import {
  layoutOf,
  type RowChunk,
  rowChunks,
  type RowTensor,
  type RowWindow,
  type TensorView,
  type ViewLayout,
} from "../tensor.ts";

/**
 * The buffer behind a binding argument.
 *
 * @param arg A buffer or a range of one.
 * @returns The buffer.
 */
export function bufferOf(arg: BufferArg): GPUBuffer {
  return arg instanceof GPUBuffer ? arg : arg.buffer;
}

/**
 * Floats available in a binding argument (a whole buffer or a range).
 *
 * @param arg A buffer or a range of one.
 * @returns Number of float32 values the binding exposes.
 */
export function floatsOf(arg: BufferArg): number {
  if (arg instanceof GPUBuffer) return Math.floor(arg.size / 4);
  const size = arg.size ?? arg.buffer.size - (arg.offset ?? 0);
  return Math.floor(size / 4);
}

/**
 * Check that a parameter binding holds at least `count` floats.
 *
 * @param op Op name for the error.
 * @param name Argument name.
 * @param arg The binding.
 * @param count Floats needed.
 * @throws {TypeError} When it is too small.
 */
export function checkParam(op: string, name: string, arg: BufferArg, count: number): void {
  const have = floatsOf(arg);
  if (have < count) {
    throw new TypeError(`Cannot run ${op}: ${name} holds ${have} floats, needs ${count}`);
  }
}

/**
 * Layouts of several views that must share one shape.
 *
 * @param op Op name for the error.
 * @param views Views by argument name; the first one sets the shape.
 * @returns The layouts, by name.
 * @throws {TypeError} When a view is invalid or the shapes differ.
 */
export function sameShapeLayouts<K extends string>(
  op: string,
  views: Readonly<Record<K, TensorView>>,
): Record<K, ViewLayout> {
  const out = {} as Record<K, ViewLayout>;
  let first: [string, TensorView] | undefined;
  for (const [name, v] of Object.entries(views) as [K, TensorView][]) {
    out[name] = layoutOf(v, `${op} ${name}`);
    if (!first) first = [name, v];
    else if (!sameShape(first[1].shape, v.shape)) {
      throw new TypeError(
        `Cannot run ${op}: ${name} has shape ${JSON.stringify(v.shape)}, ` +
          `${first[0]} has ${JSON.stringify(first[1].shape)}`,
      );
    }
  }
  return out;
}

/**
 * Whether two shapes are equal.
 *
 * @param a A shape.
 * @param b Another shape.
 * @returns True when they have the same length and entries.
 */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Uniforms `<name>Tot` and `<name>Off` of a view.
 *
 * @param name Tensor name used in the kernel.
 * @param l The view's layout.
 * @returns The two uniform values.
 */
export function viewFields<T extends string>(
  name: T,
  l: ViewLayout,
): Record<`${T}Tot` | `${T}Off`, number> {
  return { [`${name}Tot`]: l.cTot, [`${name}Off`]: l.cOff } as Record<
    `${T}Tot` | `${T}Off`,
    number
  >;
}

/**
 * Refuse bindings WebGPU rejects or that would race: a buffer written by a dispatch may not
 * also be bound read-only in it (wgpu: "STORAGE_READ_WRITE is an exclusive usage"), and two
 * written bindings of one buffer must not overlap. Disjoint written ranges of one buffer
 * (e.g. `dscale` and `dshift` slots of a flat gradient buffer) are fine.
 *
 * @param op Op name for the error.
 * @param written Bindings the dispatch writes, by name.
 * @param read Bindings the dispatch only reads, by name.
 * @throws {TypeError} When a written buffer is also read, or written ranges overlap.
 */
export function checkNoWriteAlias(
  op: string,
  written: Readonly<Record<string, BufferArg>>,
  read: Readonly<Record<string, BufferArg>>,
): void {
  const w = Object.entries(written);
  for (const [wName, wArg] of w) {
    const wb = bufferOf(wArg);
    for (const [rName, rArg] of Object.entries(read)) {
      if (bufferOf(rArg) === wb) {
        throw new TypeError(
          `Cannot run ${op}: ${wName} and ${rName} share a buffer; a buffer written by a ` +
            `dispatch cannot also be read through another binding of it`,
        );
      }
    }
  }
  for (let i = 0; i < w.length; i++) {
    for (let j = i + 1; j < w.length; j++) {
      if (bufferOf(w[i][1]) !== bufferOf(w[j][1])) continue;
      const [a0, a1] = _range(w[i][1]);
      const [b0, b1] = _range(w[j][1]);
      if (a0 < b1 && b0 < a1) {
        throw new TypeError(`Cannot run ${op}: ${w[i][0]} and ${w[j][0]} overlap in one buffer`);
      }
    }
  }
}

function _range(arg: BufferArg): [number, number] {
  if (arg instanceof GPUBuffer) return [0, arg.size];
  const off = arg.offset ?? 0;
  return [off, off + (arg.size ?? arg.buffer.size - off)];
}

/**
 * Check that a view fits the row grid (`N`, `C` and the row's workgroups each ≤ 65,535) and
 * u32 indexing.
 *
 * @param op Op name for the error.
 * @param l The view's layout.
 * @throws {RangeError} When it does not.
 */
export function checkElementCount(op: string, l: ViewLayout): void {
  const elements = l.n * l.cTot * l.spatial;
  if (elements >= 2 ** 32) {
    throw new RangeError(`Cannot run ${op}: ${elements} elements exceed u32 indexing`);
  }
  if (l.n > 65535 || l.c > 65535 || Math.ceil(l.spatial / rowSpan(1)) > 65535) {
    throw new RangeError(
      `Cannot run ${op}: shape [${l.n}, ${l.c}, ${l.d}, ${l.h}, ${l.w}] exceeds the row grid`,
    );
  }
}

/**
 * A view as a {@linkcode RowTensor}: row `(n, c)` is the `D·H·W` floats of that channel.
 *
 * @param v The view.
 * @param l Its layout.
 * @param vec Floats per element of the kernel's binding (1 or 4).
 * @returns The row tensor.
 */
export function rowTensor(v: TensorView, l: ViewLayout, vec = 1): RowTensor {
  return { buffer: v.buffer, cTot: l.cTot, cOff: l.cOff, plane: l.spatial, vec };
}

/**
 * Push one dispatch per {@linkcode RowChunk} of an op's `N × C` rows (one dispatch, bound as
 * before, when everything fits the plan's binding limit).
 *
 * @param plan The step plan.
 * @param op Op name for errors.
 * @param n Samples.
 * @param c Rows per sample.
 * @param tensors The tensors bound by rows, by binding name.
 * @param push Pushes the dispatch of one chunk, given each tensor's window.
 * @param options `wholeSamples`: chunks of whole samples only (see {@linkcode rowChunks}).
 * @returns The dispatches, in row order.
 * @throws {RangeError} When one row of a tensor does not fit a binding.
 */
export function pushRowChunks<K extends string>(
  plan: StepPlan,
  op: string,
  n: number,
  c: number,
  tensors: Readonly<Record<K, RowTensor>>,
  push: (chunk: RowChunk, windows: Record<K, RowWindow>) => Dispatch,
  options: { wholeSamples?: boolean } = {},
): Dispatch[] {
  const names = Object.keys(tensors) as K[];
  const chunks = rowChunks(op, n, c, names.map((k) => tensors[k]), plan.limits, options);
  return chunks.map((ch) => {
    const w = {} as Record<K, RowWindow>;
    names.forEach((k, i) => w[k] = ch.windows[i]);
    return push(ch, w);
  });
}

/**
 * The bindings of a chunk's windows, by name.
 *
 * @param windows Windows by binding name.
 * @returns The buffer (range) per name.
 */
export function windowBindings<K extends string>(
  windows: Readonly<Record<K, RowWindow>>,
): Record<K, BufferArg> {
  const out = {} as Record<K, BufferArg>;
  for (const k of Object.keys(windows) as K[]) out[k] = windows[k].binding;
  return out;
}

/**
 * Uniforms `<name>Tot` and `<name>Off` of a view bound through a chunk window.
 *
 * @param name Tensor name used in the kernel.
 * @param l The view's layout.
 * @param w Its window.
 * @param relative Whether the kernel addresses rows relative to the chunk (`offRel`) rather
 *   than absolute rows (`offAbs`).
 * @returns The two uniform values.
 */
export function windowFields<T extends string>(
  name: T,
  l: ViewLayout,
  w: RowWindow,
  relative = false,
): Record<`${T}Tot` | `${T}Off`, number> {
  return { ...viewFields(name, l), [`${name}Off`]: relative ? w.offRel : w.offAbs };
}

/**
 * Uniforms of a row-grid chunk: `C`, `N` (the chunk's extent) and its origin `n0`, `c0`.
 *
 * @param ch The chunk.
 * @returns The four uniform values.
 */
export function chunkExtent(ch: RowChunk): { C: number; N: number; n0: number; c0: number } {
  return { C: ch.cc, N: ch.nn, n0: ch.n0, c0: ch.c0 };
}

/**
 * The one binding of an in-place op whose input and output live in one buffer: fine when both
 * windows are the same range (the whole buffer, or the same slice in chunks); their row
 * offsets stay as they are.
 *
 * @param op Op name for errors.
 * @param a The input's window.
 * @param b The output's window.
 * @returns The two windows, sharing `a`'s binding.
 * @throws {TypeError} When the ranges differ (two different slices of one buffer, chunked).
 */
export function mergeWindows(op: string, a: RowWindow, b: RowWindow): [RowWindow, RowWindow] {
  const [a0, a1] = _range(a.binding);
  const [b0, b1] = _range(b.binding);
  if (bufferOf(a.binding) !== bufferOf(b.binding) || a0 !== b0 || a1 !== b1) {
    throw new TypeError(
      `Cannot run ${op} in place on two different slices of one buffer in chunks; use ` +
        `separate buffers`,
    );
  }
  return [a, { ...b, binding: a.binding }];
}
