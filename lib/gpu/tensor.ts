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
