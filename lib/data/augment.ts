/**
 * Data augmentation of training patches: random rotation, scaling and flips (one resampling
 * about the patch centre; trilinear for images, nearest for labels), then per-channel
 * intensity scale and shift and Gaussian noise. Pure and seeded; fast enough for one call
 * per sample in a Web Worker.
 *
 * @module
 */

import type { Rng } from "../core/rng.ts";
import type { Vec3 } from "./types.ts";

/** Augmentation options (the fields of the pipeline schema's `AugmentationSchema`, plus geometry). */
export interface AugmentOptions {
  /** Master switch; `false` returns copies. @default true */
  enabled?: boolean;
  /** Maximum in-plane rotation (about the D axis, in the H–W plane), ± degrees; 0 disables. @default 10 */
  rotationDegrees?: number;
  /** Maximum rotation about the H and W axes, ± degrees; 0 disables. @default 0 */
  rotationDegreesOutOfPlane?: number;
  /** Zoom factor range `[lo, hi]` (> 1 enlarges); `[1, 1]` disables. @default [0.9, 1.1] */
  scale?: readonly [number, number];
  /** Random flips along `flipAxes`, each with probability ½; `false` disables. @default true */
  flip?: boolean;
  /** Axes `[D, H, W]` that may be flipped. @default [false, false, true] */
  flipAxes?: readonly [boolean, boolean, boolean];
  /** Maximum additive intensity shift per channel, ± (z units); 0 disables. @default 0.1 */
  intensityShift?: number;
  /** Multiplicative intensity range per channel; `[1, 1]` disables. @default [0.9, 1.1] */
  intensityScale?: readonly [number, number];
  /** Standard deviation of additive Gaussian noise (z units); 0 disables. @default 0.05 */
  noiseStd?: number;
  /** Voxel spacing `[sd, sh, sw]`, so that rotations are rigid in mm. @default [1, 1, 1] */
  spacing?: Vec3;
}

/** The defaults of {@linkcode AugmentOptions}. */
export const DEFAULT_AUGMENTATION: Readonly<Required<Omit<AugmentOptions, "spacing">>> = {
  enabled: true,
  rotationDegrees: 10,
  rotationDegreesOutOfPlane: 0,
  scale: [0.9, 1.1],
  flip: true,
  flipAxes: [false, false, true],
  intensityShift: 0.1,
  intensityScale: [0.9, 1.1],
  noiseStd: 0.05,
};

type Mat3 = number[][];

function _mul(a: Mat3, b: Mat3): Mat3 {
  return [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j])
  );
}

/**
 * Augment one patch. Output voxel o samples the input at `c + M·(o − c)` (c the patch
 * centre, M the inverse of flip·zoom·rotation in voxel units), with coordinates clamped to
 * the patch (edge values repeat), so augment a patch a little larger than needed when the
 * border matters.
 *
 * Random draws, in order (disabled parts draw nothing): one `float()` per flippable axis,
 * the in-plane angle, two out-of-plane angles, the zoom, then per channel the intensity
 * scale and shift, then one `normal()` per value for the noise.
 *
 * @param image Intensities `[C, D, H, W]` (not modified).
 * @param label Class indices `[D, H, W]` (not modified).
 * @param shape `[C, D, H, W]`.
 * @param options What to randomise (see {@linkcode DEFAULT_AUGMENTATION}).
 * @param rng Seeded generator.
 * @returns New image and label arrays of the same shapes.
 * @throws {TypeError} When the arrays do not match the shape.
 * @example
 * ```ts
 * import { Rng } from "../core/rng.ts";
 * import { augmentPatch } from "./augment.ts";
 * const out = augmentPatch(new Float32Array(8), new Uint8Array(8), [1, 2, 2, 2], {}, new Rng(3));
 * console.log(out.image.length, out.label.length); // 8 8
 * ```
 */
export function augmentPatch(
  image: Float32Array,
  label: Uint8Array,
  shape: readonly [number, number, number, number],
  options: AugmentOptions,
  rng: Rng,
): { image: Float32Array; label: Uint8Array } {
  const [C, D, H, W] = shape;
  const n = D * H * W;
  if (image.length !== C * n || label.length !== n) {
    throw new TypeError(
      `Cannot augment patch: image ${image.length} / label ${label.length} values do not ` +
        `match [${shape}]`,
    );
  }
  const o = { ...DEFAULT_AUGMENTATION, ...options };
  if (!o.enabled) return { image: image.slice(), label: label.slice() };

  // Spatial part: A = R · zoom · F in mm; M = diag(1/sp) · A⁻¹ · diag(sp).
  const flips = [1, 1, 1];
  if (o.flip) {
    for (let a = 0; a < 3; a++) if (o.flipAxes[a] && rng.float() < 0.5) flips[a] = -1;
  }
  const deg = Math.PI / 180;
  let rinv: Mat3 = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  if (o.rotationDegrees > 0) {
    const t = rng.uniform(-o.rotationDegrees, o.rotationDegrees) * deg;
    const c = Math.cos(t), s = Math.sin(t);
    // Rotation in the (h, w) plane; its inverse is the transpose.
    rinv = _mul(rinv, [[1, 0, 0], [0, c, s], [0, -s, c]]);
  }
  if (o.rotationDegreesOutOfPlane > 0) {
    const a1 = rng.uniform(-o.rotationDegreesOutOfPlane, o.rotationDegreesOutOfPlane) * deg;
    const a2 = rng.uniform(-o.rotationDegreesOutOfPlane, o.rotationDegreesOutOfPlane) * deg;
    const c1 = Math.cos(a1), s1 = Math.sin(a1), c2 = Math.cos(a2), s2 = Math.sin(a2);
    rinv = _mul([[c1, 0, s1], [0, 1, 0], [-s1, 0, c1]], rinv); // about H: (d, w) plane
    rinv = _mul([[c2, s2, 0], [-s2, c2, 0], [0, 0, 1]], rinv); // about W: (d, h) plane
  }
  let zoom = 1;
  if (o.scale[0] !== 1 || o.scale[1] !== 1) zoom = rng.uniform(o.scale[0], o.scale[1]);
  const sp = o.spacing ?? [1, 1, 1];
  // A⁻¹ = F⁻¹ · zoom⁻¹ · R⁻¹; F⁻¹ = F.
  const m = [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => (flips[i] * rinv[i][j] * sp[j]) / (zoom * sp[i]))
  );
  const identity = m.every((row, i) => row.every((v, j) => v === (i === j ? 1 : 0)));

  let outImage: Float32Array;
  let outLabel: Uint8Array;
  if (identity) {
    outImage = image.slice();
    outLabel = label.slice();
  } else {
    outImage = new Float32Array(C * n);
    outLabel = new Uint8Array(n);
    _warp(image, label, outImage, outLabel, C, D, H, W, m);
  }

  // Intensity part.
  const doScale = o.intensityScale[0] !== 1 || o.intensityScale[1] !== 1;
  for (let c = 0; c < C; c++) {
    const s = doScale ? rng.uniform(o.intensityScale[0], o.intensityScale[1]) : 1;
    const b = o.intensityShift > 0 ? rng.uniform(-o.intensityShift, o.intensityShift) : 0;
    if (s === 1 && b === 0) continue;
    const ch = outImage.subarray(c * n, (c + 1) * n);
    for (let i = 0; i < n; i++) ch[i] = ch[i] * s + b;
  }
  if (o.noiseStd > 0) {
    for (let i = 0; i < outImage.length; i++) outImage[i] += o.noiseStd * rng.normal();
  }
  return { image: outImage, label: outLabel };
}

function _warp(
  image: Float32Array,
  label: Uint8Array,
  outImage: Float32Array,
  outLabel: Uint8Array,
  C: number,
  D: number,
  H: number,
  W: number,
  m: number[][],
): void {
  const n = D * H * W;
  const cz = (D - 1) / 2, cy = (H - 1) / 2, cx = (W - 1) / 2;
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  let o = 0;
  for (let z = 0; z < D; z++) {
    for (let y = 0; y < H; y++) {
      const dz = z - cz, dy = y - cy;
      let sz = cz + m[0][0] * dz + m[0][1] * dy + m[0][2] * -cx;
      let sy = cy + m[1][0] * dz + m[1][1] * dy + m[1][2] * -cx;
      let sx = cx + m[2][0] * dz + m[2][1] * dy + m[2][2] * -cx;
      for (let x = 0; x < W; x++, o++) {
        const fz = clamp(sz, D - 1), fy = clamp(sy, H - 1), fx = clamp(sx, W - 1);
        outLabel[o] = label[(Math.round(fz) * H + Math.round(fy)) * W + Math.round(fx)];
        const z0 = Math.floor(fz), y0 = Math.floor(fy), x0 = Math.floor(fx);
        const z1 = z0 + 1 < D ? z0 + 1 : z0, y1 = y0 + 1 < H ? y0 + 1 : y0;
        const x1 = x0 + 1 < W ? x0 + 1 : x0;
        const tz = fz - z0, ty = fy - y0, tx = fx - x0;
        const i000 = (z0 * H + y0) * W + x0, i001 = (z0 * H + y0) * W + x1;
        const i010 = (z0 * H + y1) * W + x0, i011 = (z0 * H + y1) * W + x1;
        const i100 = (z1 * H + y0) * W + x0, i101 = (z1 * H + y0) * W + x1;
        const i110 = (z1 * H + y1) * W + x0, i111 = (z1 * H + y1) * W + x1;
        const w000 = (1 - tz) * (1 - ty) * (1 - tx), w001 = (1 - tz) * (1 - ty) * tx;
        const w010 = (1 - tz) * ty * (1 - tx), w011 = (1 - tz) * ty * tx;
        const w100 = tz * (1 - ty) * (1 - tx), w101 = tz * (1 - ty) * tx;
        const w110 = tz * ty * (1 - tx), w111 = tz * ty * tx;
        for (let c = 0; c < C; c++) {
          const b = c * n;
          outImage[b + o] = w000 * image[b + i000] + w001 * image[b + i001] +
            w010 * image[b + i010] + w011 * image[b + i011] + w100 * image[b + i100] +
            w101 * image[b + i101] + w110 * image[b + i110] + w111 * image[b + i111];
        }
        sz += m[0][2];
        sy += m[1][2];
        sx += m[2][2];
      }
    }
  }
}
