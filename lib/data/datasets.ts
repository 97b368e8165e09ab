/**
 * What each dataset is: channels, stored label values, the classes a case is loaded with,
 * and the target the loss sees.
 *
 * @module
 */

import type { DatasetKind } from "./types.ts";

/** Static description of one dataset. */
export interface DatasetSpec {
  /** Dataset kind. */
  kind: DatasetKind;
  /** Channel names, in channel order. */
  channels: readonly string[];
  /** Label values allowed in the stored label files. */
  labelValues: readonly number[];
  /** Names of the loaded class indices 0..K−1. */
  classes: readonly string[];
  /** Maps a stored label value to a loaded class index. */
  classOf: (value: number) => number;
  /** How the loss target is encoded: one binary map, or one-hot over all classes. */
  target: "binary" | "oneHot";
  /** Which voxels define intensity statistics: non-zero (skull-stripped brains) or all. */
  intensityMask: "nonzero" | "all";
}

/** ACDC: one cine frame; labels 0 background, 1 RV cavity, 2 myocardium, 3 LV cavity. */
export const ACDC: DatasetSpec = {
  kind: "acdc",
  channels: ["cine"],
  labelValues: [0, 1, 2, 3],
  classes: ["background", "RV", "MYO", "LV"],
  classOf: (v) => v,
  target: "oneHot",
  intensityMask: "all",
};

/**
 * BRATS 2018: FLAIR, T1, T1ce, T2; stored labels 0, 1 (necrotic/non-enhancing core),
 * 2 (oedema), 4 (enhancing tumour); loaded as the whole tumour (seg > 0).
 */
export const BRATS: DatasetSpec = {
  kind: "brats",
  channels: ["flair", "t1", "t1ce", "t2"],
  labelValues: [0, 1, 2, 4],
  classes: ["background", "tumour"],
  classOf: (v) => (v > 0 ? 1 : 0),
  target: "binary",
  intensityMask: "nonzero",
};

/**
 * The spec of a dataset kind.
 *
 * @param kind `"acdc"` or `"brats"`.
 * @returns Its {@linkcode DatasetSpec}.
 * @throws {TypeError} For an unknown kind.
 */
export function datasetSpec(kind: DatasetKind): DatasetSpec {
  if (kind === "acdc") return ACDC;
  if (kind === "brats") return BRATS;
  throw new TypeError(`Cannot find dataset: unknown kind "${kind}"`);
}
