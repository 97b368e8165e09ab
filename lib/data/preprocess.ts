/**
 * The preprocessing of one case: resample to a target spacing (grid centres aligned), then
 * clip and z-score intensities per channel, then centre crop/pad to a target size.
 *
 * @module
 */

import { datasetSpec } from "./datasets.ts";
import { nonzeroMask, normalizeIntensities } from "./intensity.ts";
import { centerCropOrPad } from "./region.ts";
import {
  alignedGrid,
  type ResampleGrid,
  resampleLabelLinear,
  resampleLinear,
  resampleNearest,
} from "./resample.ts";
import type { DatasetKind, DatasetSpecData, GridMap, Vec3 } from "./types.ts";

/** Preprocessing of a case (every field optional; the defaults keep the grid). */
export interface PreprocessingOptions {
  /** Target voxel spacing `[sd, sh, sw]` in mm. @default keep */
  spacing?: Vec3;
  /** Target size `[D, H, W]` after resampling (centre crop/pad). @default keep */
  size?: Vec3;
  /** Intensity percentiles clipped before z-scoring; `null` to skip. @default [0.5, 99.5] */
  clipPercentiles?: readonly [number, number] | null;
  /** Z-score each channel. @default true */
  zscore?: boolean;
  /**
   * Voxels that define the intensity statistics: `"nonzero"` (union of non-zero voxels over
   * channels; outside set to 0) or `"all"`.
   * @default the dataset's (BRATS "nonzero", ACDC "all")
   */
  intensityMask?: "nonzero" | "all";
  /** Label resampling: per-class linear + argmax, or nearest. @default "linear" */
  labelInterpolation?: "linear" | "nearest";
}

/**
 * The paper's preprocessing (Sect. 3): ACDC resampled to 1.5625 × 1.5625 × 2.5 mm and
 * 192 × 192 × 48 voxels, BRATS to 2 mm isotropic.
 */
export const PAPER_PREPROCESSING: Readonly<Record<"acdc" | "brats", PreprocessingOptions>> = {
  acdc: { spacing: [2.5, 1.5625, 1.5625], size: [48, 192, 192] },
  brats: { spacing: [2, 2, 2] },
};

/**
 * Preprocessing for the default (small) phantoms: ACDC-like to 7.5 × 2.5 × 2.5 mm and
 * 16 × 64 × 64 voxels; BRATS-like to 2 mm isotropic and 32 × 48 × 48 voxels.
 */
export const PHANTOM_PREPROCESSING: Readonly<Record<"acdc" | "brats", PreprocessingOptions>> = {
  acdc: { spacing: [7.5, 2.5, 2.5], size: [16, 64, 64] },
  brats: { spacing: [2, 2, 2], size: [32, 48, 48] },
};

/** Input of {@linkcode preprocessVolumes}. */
export interface RawVolumes {
  /** Dataset spec or kind (number of classes, default intensity mask). */
  dataset: DatasetSpecData | DatasetKind;
  /** Intensities `[C, D, H, W]` (not modified). */
  image: Float32Array;
  /** Class indices `[D, H, W]` (not modified). */
  label: Uint8Array;
  /** Channels C. */
  channels: number;
  /** `[D, H, W]`. */
  shape: Vec3;
  /** `[sd, sh, sw]` in mm. */
  spacing: Vec3;
  /** Voxel-to-world matrix (NIfTI index order). */
  affine: number[][];
}

/** Output of {@linkcode preprocessVolumes}. */
export interface PreprocessedVolumes {
  /** Intensities `[C, D', H', W']`. */
  image: Float32Array;
  /** Class indices `[D', H', W']`. */
  label: Uint8Array;
  /** `[D', H', W']`. */
  shape: Vec3;
  /** `[sd', sh', sw']`. */
  spacing: Vec3;
  /** Affine of the new grid. */
  affine: number[][];
  /** New index → source index. */
  grid: GridMap;
  /** Per-channel pad value (0 with a non-zero mask, else the normalised minimum). */
  padValue: number[];
}

/**
 * Compose `source = scale · x + offset` with a shift `x = y + shift` of the output grid.
 *
 * @param grid The grid map.
 * @param shift Offset `[d, h, w]` added to output indices.
 * @returns The composed map.
 */
export function shiftGrid(grid: GridMap, shift: Vec3): GridMap {
  return {
    scale: [...grid.scale],
    offset: [0, 1, 2].map((a) => grid.offset[a] + grid.scale[a] * shift[a]) as Vec3,
  };
}

/**
 * The affine of a grid map: `A' = A · M` with M taking new indices (i, j, k) to source ones.
 *
 * @param affine Source affine (NIfTI order i, j, k).
 * @param grid New index → source index, in `[D, H, W]` order.
 * @returns The new affine.
 */
export function mapAffine(affine: number[][], grid: GridMap): number[][] {
  // NIfTI axis i is W (index 2), j is H (1), k is D (0).
  const scale = [grid.scale[2], grid.scale[1], grid.scale[0]];
  const offset = [grid.offset[2], grid.offset[1], grid.offset[0]];
  return affine.map((row) => [
    row[0] * scale[0],
    row[1] * scale[1],
    row[2] * scale[2],
    row[0] * offset[0] + row[1] * offset[1] + row[2] * offset[2] + row[3],
  ]);
}

/**
 * Preprocess an image and its label map: resample (if `spacing` is set), normalise
 * intensities, centre crop/pad (if `size` is set).
 *
 * @param raw The volumes, their geometry and dataset.
 * @param options Preprocessing options.
 * @returns The preprocessed volumes, geometry and pad values.
 * @throws {RangeError} When a spacing is not positive or a size not a positive integer.
 * @example
 * ```ts
 * import { preprocessVolumes } from "./preprocess.ts";
 * const out = preprocessVolumes({
 *   dataset: "brats", image: new Float32Array([1, 2, 3, 4]), label: new Uint8Array([0, 0, 1, 1]),
 *   channels: 1, shape: [1, 1, 4], spacing: [1, 1, 1],
 *   affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
 * }, { size: [1, 1, 2], clipPercentiles: null, zscore: false });
 * console.log(Array.from(out.image), Array.from(out.label)); // [2, 3] [0, 1]
 * ```
 */
export function preprocessVolumes(
  raw: RawVolumes,
  options: PreprocessingOptions = {},
): PreprocessedVolumes {
  const ds = typeof raw.dataset === "string" ? datasetSpec(raw.dataset) : raw.dataset;
  const { channels } = raw;
  let shape = raw.shape;
  let image = raw.image;
  let label = raw.label;
  let grid: GridMap = { scale: [1, 1, 1], offset: [0, 0, 0] };
  let spacing = raw.spacing;
  if (options.spacing) {
    const g: ResampleGrid = alignedGrid(shape, raw.spacing, options.spacing);
    image = resampleLinear({ data: image, shape, channels }, g);
    label = (options.labelInterpolation ?? "linear") === "nearest"
      ? resampleNearest({ data: label, shape }, g)
      : resampleLabelLinear({ data: label, shape }, g, { classes: ds.classes.length });
    grid = { scale: g.scale, offset: g.offset };
    shape = g.shape;
    spacing = [...options.spacing];
  } else {
    image = image.slice();
  }

  const maskKind = options.intensityMask ?? ds.intensityMask;
  const mask = maskKind === "nonzero" ? nonzeroMask(image, channels) : undefined;
  const stats = normalizeIntensities(image, {
    channels,
    clipPercentiles: options.clipPercentiles === undefined ? [0.5, 99.5] : options.clipPercentiles,
    zscore: options.zscore ?? true,
    mask,
  });
  const padValue = stats.map((s) => s.padValue);

  if (options.size) {
    if (options.size.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new RangeError(`Cannot preprocess: size [${options.size}] is not positive integers`);
    }
    const img = centerCropOrPad({ data: image, shape, channels }, options.size, { padValue });
    const lab = centerCropOrPad({ data: label, shape }, options.size);
    image = img.data;
    label = lab.data;
    grid = shiftGrid(grid, img.offset);
    shape = [...options.size];
  }
  return {
    image,
    label,
    shape,
    spacing,
    affine: mapAffine(raw.affine, grid),
    grid,
    padValue,
  };
}
