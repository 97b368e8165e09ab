/**
 * Views of NCDHW activation tensors in GPU buffers. A view can be a channel slice of a larger
 * buffer, which is how skip connections are concatenated without copies: the encoder writes
 * into channels `[C2, C2 + C1)` of the decoder's input buffer while the upsampling writes
 * into `[0, C2)`.
 *
 * Element `(n, c, d, h, w)` of a view lives at float index
 * `((n · channelStride + channelOffset + c) · D + d) · H · W + h · W + w`.
 *
 * @module
 */

/** A 5-D shape `[N, C, D, H, W]`. */
export type Shape5 = readonly [number, number, number, number, number];

/** An NCDHW tensor (or channel slice of one) in a GPU buffer of float32. */
export interface TensorView {
  /** The buffer holding the data. */
  readonly buffer: GPUBuffer;
  /** Shape of the view. */
  readonly shape: Shape5;
  /** Channels of the underlying buffer per sample. @default shape[1] */
  readonly channelStride?: number;
  /** First channel of the view within the buffer. @default 0 */
  readonly channelOffset?: number;
}

/** Resolved addressing of a view: `{ n, c, d, h, w, spatial, cTot, cOff }`. */
export interface ViewLayout {
  /** Batch. */
  n: number;
  /** Channels of the view. */
  c: number;
  /** Depth. */
  d: number;
  /** Height. */
  h: number;
  /** Width. */
  w: number;
  /** D·H·W. */
  spatial: number;
  /** Channels of the buffer per sample. */
  cTot: number;
  /** Channel offset of the view. */
  cOff: number;
}

/**
 * Addressing of a view, validated against its buffer's size.
 *
 * @param v The view.
 * @param name Argument name for errors.
 * @returns The layout.
 * @throws {TypeError} When the shape is not 5 positive integers, the slice does not fit the
 *   channel stride, or the buffer is too small.
 */
export function layoutOf(v: TensorView, name = "tensor"): ViewLayout {
  const [n, c, d, h, w] = v.shape;
  if (v.shape.length !== 5 || !v.shape.every((x) => Number.isInteger(x) && x > 0)) {
    throw new TypeError(`Invalid ${name}: shape ${JSON.stringify(v.shape)} is not [N, C, D, H, W]`);
  }
  const cTot = v.channelStride ?? c;
  const cOff = v.channelOffset ?? 0;
  if (!Number.isInteger(cOff) || cOff < 0 || cOff + c > cTot) {
    throw new TypeError(
      `Invalid ${name}: channels [${cOff}, ${cOff + c}) do not fit a stride of ${cTot}`,
    );
  }
  const spatial = d * h * w;
  const needed = n * cTot * spatial * 4;
  if (v.buffer.size < needed) {
    throw new TypeError(
      `Invalid ${name}: buffer has ${v.buffer.size} bytes, view needs ${needed}`,
    );
  }
  return { n, c, d, h, w, spatial, cTot, cOff };
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let p = 1;
  for (const s of shape) p *= s;
  return p;
}

/**
 * A whole-buffer view.
 *
 * @param buffer The buffer.
 * @param shape `[N, C, D, H, W]`.
 * @returns The view.
 */
export function view(buffer: GPUBuffer, shape: Shape5): TensorView {
  return { buffer, shape };
}

/**
 * A channel slice `[offset, offset + channels)` of a whole-buffer tensor of shape `full`.
 *
 * @param buffer The buffer.
 * @param full Shape of the whole tensor `[N, Ctot, D, H, W]`.
 * @param offset First channel.
 * @param channels Channels in the slice.
 * @returns The view.
 */
export function channelSlice(
  buffer: GPUBuffer,
  full: Shape5,
  offset: number,
  channels: number,
): TensorView {
  return {
    buffer,
    shape: [full[0], channels, full[2], full[3], full[4]],
    channelStride: full[1],
    channelOffset: offset,
  };
}

/** What a dispatch may bind: the binding size limit and the offset alignment, in bytes. */
export interface BindingLimits {
  /** Largest byte size of one storage binding. */
  readonly bindingLimit: number;
  /** Byte offsets of bound ranges must be multiples of this (`minStorageBufferOffsetAlignment`). */
  readonly alignment: number;
}

/**
 * A tensor an op addresses by rows: row `(n, c)` is the `plane` elements starting at element
 * `(n · cTot + cOff + c) · plane` of `buffer`. An activation view has `plane = D·H·W`; an op's
 * own per-row buffer (e.g. max-pool indices) is a whole-buffer tensor with `cTot = C`.
 */
export interface RowTensor {
  /** The buffer. */
  readonly buffer: GPUBuffer;
  /** Rows of the buffer per sample. */
  readonly cTot: number;
  /** First row of the tensor within a sample. */
  readonly cOff: number;
  /** Floats (4-byte words) per row. */
  readonly plane: number;
  /**
   * Floats per element of the kernel's binding (4 for `vec4<f32>` arrays): window offsets are
   * solved in these units. `plane` must be a multiple of it. @default 1
   */
  readonly vec?: number;
}

/**
 * How one tensor is bound for one {@linkcode RowChunk}.
 *
 * A window starts at an aligned byte offset that is in general not a row boundary: its first
 * element is element `k` of the buffer. Kernels address element `(R + off) · P + s` (`P` the
 * row length in kernel elements, `R` the row term without offset), and WGSL `u32` arithmetic
 * wraps modulo 2³², so the kernels need no extra uniform: `off` is chosen with
 * `off · P ≡ cOff · P − k (mod 2³²)`, solvable because `k` is a multiple of the largest power
 * of two dividing `P` (the window start is aligned to it) and the odd part of `P` is
 * invertible modulo 2³². Every index the kernel forms then equals the true index minus `k`,
 * which lies inside the window.
 */
export interface RowWindow {
  /** The whole buffer, or the aligned range of it that holds the chunk's rows. */
  readonly binding: GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };
  /**
   * Row offset for kernels that address rows relative to the chunk,
   * `(nr · cTot + offRel + cr) · P` with `nr = n − n0`, `cr = c − c0`: equals `cOff` when the
   * chunk is the whole tensor.
   */
  readonly offRel: number;
  /**
   * Row offset for kernels that address absolute rows, `(n · cTot + offAbs + c) · P`: equals
   * `cOff` when the chunk is the whole tensor.
   */
  readonly offAbs: number;
}

/**
 * A chunk of the `(n, c)` rows of an op: rows `[r0, r1)` in `n·C + c` order, either whole
 * samples (`c0 = 0`, `cc = C`) or channels `[c0, c0 + cc)` of one sample (`nn = 1`), so the
 * chunk is the rectangle `[n0, n0 + nn) × [c0, c0 + cc)`.
 */
export interface RowChunk {
  /** First row (`n0·C + c0`). */
  readonly r0: number;
  /** End row (exclusive). */
  readonly r1: number;
  /** First sample. */
  readonly n0: number;
  /** Samples. */
  readonly nn: number;
  /** First channel. */
  readonly c0: number;
  /** Channels. */
  readonly cc: number;
  /** One window per tensor, in the order the tensors were given. */
  readonly windows: readonly RowWindow[];
}

/**
 * Split the `N × C` rows of an op into chunks whose every tensor binding fits the binding
 * limit: the whole op when it fits (then each window binds the whole buffer, or a range from
 * byte 0 when the buffer itself exceeds the limit, and `offRel = offAbs = cOff`: the
 * unchunked dispatch), else as many whole samples per chunk as fit, else channel ranges of
 * one sample. A window starts at the last aligned byte at or before the chunk's first row
 * (see {@linkcode RowWindow}), so it holds less than `max(alignment, 4·2^v·vec)` bytes before
 * the chunk (`2^v` the largest power of two dividing the row length in elements).
 *
 * @param op Op name for errors.
 * @param n Samples `N`.
 * @param c Rows per sample `C`.
 * @param tensors The tensors the op binds by rows.
 * @param limits Binding limit and alignment.
 * @param options `wholeSamples`: only whole samples per chunk (ops that mix the channels of a
 *   voxel, e.g. softmax).
 * @returns The chunks, in row order (one chunk when the op fits).
 * @throws {RangeError} When one row of a tensor (plus its alignment slack) exceeds the limit,
 *   or, with `wholeSamples`, one sample does.
 * @example
 * ```ts ignore
 * for (const ch of rowChunks("addInto", 2, 8, [xT, yT], plan.limits)) push(ch);
 * ```
 */
export function rowChunks(
  op: string,
  n: number,
  c: number,
  tensors: readonly RowTensor[],
  limits: BindingLimits,
  options: { wholeSamples?: boolean } = {},
): RowChunk[] {
  const whole = _rowChunk(0, n * c, c, tensors, limits, true);
  if (whole) return [whole];
  const out: RowChunk[] = [];
  if (_rowChunk(0, c, c, tensors, limits, false)) {
    // Whole samples: as many per chunk as fit (greedy; alignment slack varies per start).
    let n0 = 0;
    while (n0 < n) {
      let n1 = n0 + 1;
      while (n1 < n && _rowChunk(n0 * c, (n1 + 1) * c, c, tensors, limits, false)) n1++;
      const chunk = _rowChunk(n0 * c, n1 * c, c, tensors, limits, false);
      if (!chunk) break; // this sample's slack is larger: fall back to channel ranges
      out.push(chunk);
      n0 = n1;
    }
    if (n0 === n) return out;
    out.length = 0;
  }
  if (options.wholeSamples) {
    throw new RangeError(
      `Cannot run ${op}: one sample of ${c} rows does not fit the binding limit ` +
        `${limits.bindingLimit}`,
    );
  }
  for (let n0 = 0; n0 < n; n0++) {
    let r0 = n0 * c;
    const end = r0 + c;
    while (r0 < end) {
      let r1 = r0;
      while (r1 < end && _rowChunk(r0, r1 + 1, c, tensors, limits, false)) r1++;
      if (r1 === r0) {
        const t = tensors.find((t) => !_rowChunk(r0, r0 + 1, c, [t], limits, false))!;
        throw new RangeError(
          `Cannot run ${op}: one row of ${t.plane * 4} bytes (with the offset alignment ` +
            `${limits.alignment}) exceeds the binding limit ${limits.bindingLimit}`,
        );
      }
      out.push(_rowChunk(r0, r1, c, tensors, limits, false)!);
      r0 = r1;
    }
  }
  return out;
}

function _rowChunk(
  r0: number,
  r1: number,
  c: number,
  tensors: readonly RowTensor[],
  limits: BindingLimits,
  whole: boolean,
): RowChunk | undefined {
  const n0 = Math.floor(r0 / c);
  const c0 = r0 - n0 * c;
  const wholeSamples = c0 === 0 && r1 % c === 0;
  const nn = wholeSamples ? (r1 - r0) / c : 1;
  const cc = wholeSamples ? c : r1 - r0;
  const windows: RowWindow[] = [];
  for (const t of tensors) {
    const vec = t.vec ?? 1;
    const e = 4 * vec; // bytes per kernel element
    const P = t.plane / vec; // row length in kernel elements
    const first = n0 * t.cTot + t.cOff + c0;
    const end = (n0 + nn - 1) * t.cTot + t.cOff + c0 + cc;
    if (whole) {
      const size = end * P * e;
      if (size > limits.bindingLimit) return undefined;
      const binding = t.buffer.size <= limits.bindingLimit
        ? t.buffer
        : { buffer: t.buffer, offset: 0, size };
      windows.push({ binding, offRel: t.cOff, offAbs: t.cOff });
      continue;
    }
    let pow2 = 1;
    while (P % (pow2 * 2) === 0 && pow2 < 2 ** 31) pow2 *= 2;
    const step = _lcm(limits.alignment, e * pow2);
    const start = Math.floor((first * P * e) / step) * step;
    const size = end * P * e - start;
    if (size > limits.bindingLimit) return undefined;
    const k = start / e;
    windows.push({
      binding: { buffer: t.buffer, offset: start, size },
      offRel: _shiftedOffset(n0 * t.cTot + t.cOff + c0, P, k, pow2),
      offAbs: _shiftedOffset(t.cOff, P, k, pow2),
    });
  }
  return { r0, r1, n0, nn, c0, cc, windows };
}

function _gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function _lcm(a: number, b: number): number {
  return (a / _gcd(a, b)) * b;
}

/**
 * `off` (a u32) with `off · P ≡ base · P − k (mod 2³²)`, `P = pow2 · m` (m odd), `pow2 | k`:
 * `off = base − (k / pow2) · m⁻¹ (mod 2³²)`.
 */
function _shiftedOffset(base: number, P: number, k: number, pow2: number): number {
  const M = 1n << 32n;
  const m = BigInt(P / pow2);
  let inv = 1n; // Newton's iteration for the inverse of an odd m modulo 2^32
  for (let i = 0; i < 5; i++) inv = (inv * (2n - m * inv)) % M;
  const off = (((BigInt(base) - BigInt(k / pow2) * inv) % M) + M) % M;
  return Number(off);
}
