/**
 * Copy a box out of a `[C, D, H, W]` volume, padding where the box leaves it: the primitive
 * behind centre crops, pads and training patches.
 *
 * @module
 */

import type { Vec3, Volume } from "./types.ts";

/** Volumes the region functions accept. */
export type VoxelArray = Float32Array | Uint8Array;

/** Options of {@linkcode extractRegion}. */
export interface RegionOptions {
  /** Value outside the volume: one number, or one per channel. @default 0 */
  padValue?: number | readonly number[];
}

/**
 * Copy the box `[origin, origin + size)` of a volume; voxels outside the volume get the pad
 * value. `origin` may be negative and the box may exceed the volume on any side.
 *
 * @param volume Values `[C, D, H, W]` (W fastest) with their shape and channels.
 * @param box First voxel `origin` `[d, h, w]` and `size` `[d, h, w]` of the box.
 * @param options Pad value.
 * @returns A new array `[C, size_d, size_h, size_w]` of the input's type.
 * @throws {TypeError} When the data length does not match `channels · D·H·W`.
 * @example
 * ```ts
 * import { extractRegion } from "./region.ts";
 * const data = new Float32Array([1, 2, 3, 4]); // [1, 1, 4]
 * const box = { origin: [0, 0, -1] as [number, number, number], size: [1, 1, 3] as [number, number, number] };
 * console.log(Array.from(extractRegion({ data, shape: [1, 1, 4] }, box, { padValue: 9 })));
 * // [9, 1, 2]
 * ```
 */
export function extractRegion<T extends VoxelArray>(
  volume: Volume<T>,
  box: { origin: Vec3; size: Vec3 },
  options: RegionOptions = {},
): T {
  const { data, shape } = volume;
  const { origin, size } = box;
  const channels = volume.channels ?? 1;
  const [D, H, W] = shape;
  const [sd, sh, sw] = size;
  if (data.length !== channels * D * H * W) {
    throw new TypeError(
      `Cannot extract region: volume has ${data.length} values, [${channels}, ${shape}] needs ` +
        channels * D * H * W,
    );
  }
  const out = new (data.constructor as { new (n: number): T })(channels * sd * sh * sw);
  const [od, oh, ow] = origin;
  // Valid w range of each row, computed once.
  const w0 = Math.max(0, -ow), w1 = Math.min(sw, W - ow);
  for (let c = 0; c < channels; c++) {
    const pad = typeof options.padValue === "number"
      ? options.padValue
      : options.padValue?.[c] ?? 0;
    const outC = c * sd * sh * sw;
    if (pad !== 0) out.fill(pad, outC, outC + sd * sh * sw);
    for (let z = 0; z < sd; z++) {
      const iz = z + od;
      if (iz < 0 || iz >= D) continue;
      for (let y = 0; y < sh; y++) {
        const iy = y + oh;
        if (iy < 0 || iy >= H || w1 <= w0) continue;
        const src = ((c * D + iz) * H + iy) * W + ow;
        const dst = outC + (z * sh + y) * sw;
        out.set(data.subarray(src + w0, src + w1), dst + w0);
      }
    }
  }
  return out;
}

/**
 * Centre crop and/or pad a volume to `target`: along each axis the source index of output
 * voxel x is `x + floor((n − t) / 2)` (odd excess is cropped at the end and padded at the
 * start).
 *
 * @param volume Values `[C, D, H, W]` with their shape and channels.
 * @param target Output `[D, H, W]`.
 * @param options Pad value.
 * @returns The new data and the offset `[d, h, w]` (source = output + offset).
 * @throws {TypeError} When the data length does not match the shape.
 */
export function centerCropOrPad<T extends VoxelArray>(
  volume: Volume<T>,
  target: Vec3,
  options: RegionOptions = {},
): { data: T; offset: Vec3 } {
  const offset = volume.shape.map((n, a) => Math.floor((n - target[a]) / 2)) as Vec3;
  return { data: extractRegion(volume, { origin: offset, size: target }, options), offset };
}
