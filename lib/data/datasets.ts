/**
 * What each dataset is, statically: channels, stored label values, the classes a case is
 * loaded with, the target the loss sees, its groups and subgroups, its fold rules and the
 * paper's labelings. {@linkcode DatasetSpec} is the part of the dataset descriptor that needs
 * no I/O (`dataset_descriptor.ts` adds listing, phantoms and preprocessing defaults).
 *
 * @module
 */

import { acdcFold } from "./acdc_fold.ts";
import type { DatasetKind, FoldRuleName, Labeling } from "./types.ts";

/** Assigns a subject to a fold by a fixed rule. */
export type FoldAssign = (subject: string, folds: number) => number;

/** Static description of one dataset. */
export interface DatasetSpec {
  /** Dataset kind. */
  kind: DatasetKind;
  /** Name shown in log lines and reports (e.g. `"ACDC"`). */
  title: string;
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
  /**
   * The groups of its cases, in order. A pipeline's two-number sampling ratio
   * (`edEsRatio`) weighs the first two groups.
   */
  groups: readonly string[];
  /** The record `meta` field that splits subjects into subgroups for breakdowns, if any. */
  subgroup?: {
    /** `meta` key, e.g. `"pathology"`. */
    key: string;
    /** Where it comes from, for messages. */
    source: string;
  };
  /** The channel drawn in overlays. */
  displayChannel: number;
  /** Fixed fold rules by name (besides the seeded `"random"` rule). */
  foldRules: Readonly<Partial<Record<FoldRuleName, FoldAssign>>>;
  /** The paper's labelings of this dataset by name (e.g. its partial-label protocol). */
  labelings: Readonly<Record<string, Labeling>>;
}

/** ACDC: one cine frame; labels 0 background, 1 RV cavity, 2 myocardium, 3 LV cavity. */
export const ACDC: DatasetSpec = {
  kind: "acdc",
  title: "ACDC",
  channels: ["cine"],
  labelValues: [0, 1, 2, 3],
  classes: ["background", "RV", "MYO", "LV"],
  classOf: (v) => v,
  target: "oneHot",
  intensityMask: "all",
  groups: ["ED", "ES"],
  subgroup: { key: "pathology", source: "the Group of Info.cfg" },
  displayChannel: 0,
  foldRules: { acdc: acdcFold },
  labelings: { partial: { kind: "removeClass", group: "ES", classIndex: 2, into: 0 } },
};

/**
 * BRATS 2018: FLAIR, T1, T1ce, T2; stored labels 0, 1 (necrotic/non-enhancing core),
 * 2 (oedema), 4 (enhancing tumour); loaded as the whole tumour (seg > 0).
 */
export const BRATS: DatasetSpec = {
  kind: "brats",
  title: "BRATS",
  channels: ["flair", "t1", "t1ce", "t2"],
  labelValues: [0, 1, 2, 4],
  classes: ["background", "tumour"],
  classOf: (v) => (v > 0 ? 1 : 0),
  target: "binary",
  intensityMask: "nonzero",
  groups: ["HGG", "LGG"],
  displayChannel: 0,
  foldRules: {},
  labelings: { partial: { kind: "emptyGroup", group: "LGG" } },
};

/** Every dataset dicelab reads, by kind. */
export const DATASET_SPECS: Readonly<Record<DatasetKind, DatasetSpec>> = {
  acdc: ACDC,
  brats: BRATS,
};

/** The dataset kinds, in a fixed order (the pipeline schema's `dataset.kind` values). */
export const DATASET_KINDS: readonly [DatasetKind, ...DatasetKind[]] = ["acdc", "brats"];

/** The fold rules a pipeline may name: `"random"` and every dataset's fixed rules. */
export const FOLD_RULE_NAMES: readonly [FoldRuleName, ...FoldRuleName[]] = ["random", "acdc"];

/**
 * The spec of a dataset kind.
 *
 * @param kind `"acdc"` or `"brats"`.
 * @returns Its {@linkcode DatasetSpec}.
 * @throws {TypeError} For an unknown kind.
 */
export function datasetSpec(kind: DatasetKind): DatasetSpec {
  const spec = (DATASET_SPECS as Record<string, DatasetSpec | undefined>)[kind];
  if (!spec) {
    throw new TypeError(
      `Cannot find dataset: unknown kind "${kind}" (known: ${DATASET_KINDS.join(", ")})`,
    );
  }
  return spec;
}

/**
 * The number of maps the loss and the network's output have for a dataset: 1 for a binary
 * target, else one per class.
 *
 * @param spec The dataset.
 * @returns K.
 */
export function targetMaps(spec: DatasetSpec): number {
  return spec.target === "binary" ? 1 : spec.classes.length;
}

/**
 * The fixed fold assignment of a named rule for a dataset.
 *
 * @param spec The dataset.
 * @param rule A rule name other than `"random"`.
 * @returns The assignment function.
 * @throws {RangeError} When the dataset has no such rule.
 */
export function foldRule(spec: DatasetSpec, rule: FoldRuleName): FoldAssign {
  const assign = spec.foldRules[rule];
  if (!assign) {
    const known = ["random", ...Object.keys(spec.foldRules)].map((r) => `"${r}"`).join(", ");
    throw new RangeError(
      `Cannot split ${spec.title} into folds: it has no fold rule "${rule}" (have ${known})`,
    );
  }
  return assign;
}
