/**
 * What each dataset is, statically: channels, stored label values, the classes a case is
 * loaded with, the target the loss sees, its groups and subgroups, its fold rules and the
 * paper's labelings. {@linkcode DatasetSpec} is the part of the dataset descriptor that needs
 * no I/O (`dataset_descriptor.ts` adds listing, phantoms and preprocessing defaults).
 *
 * @module
 */

import { acdcFold } from "./acdc_fold.ts";
import type {
  DatasetKind,
  DatasetSpecData,
  FoldRuleName,
  Labeling,
  NonScanFileRule,
} from "./types.ts";

/** Assigns a subject to a fold by a fixed rule. */
export type FoldAssign = (subject: string, folds: number) => number;

/**
 * Static description of one dataset: its {@linkcode DatasetSpecData} plus the labelings of the
 * paper and the fixed fold rules (functions, main thread only).
 */
export interface DatasetSpec extends Readonly<DatasetSpecData> {
  /** Fixed fold rules by name (besides the seeded `"random"` rule). */
  foldRules: Readonly<Partial<Record<FoldRuleName, FoldAssign>>>;
  /** The paper's labelings of this dataset by name (e.g. its partial-label protocol). */
  labelings: Readonly<Record<string, Labeling>>;
  /**
   * The files of its layout beside the scans that are not scans (labels, auxiliary volumes), by
   * name suffix; prediction leaves them out of a folder. Absent: none.
   */
  nonScanFiles?: readonly NonScanFileRule[];
}

/** ACDC: one cine frame; labels 0 background, 1 RV cavity, 2 myocardium, 3 LV cavity. */
export const ACDC: DatasetSpec = {
  kind: "acdc",
  title: "ACDC",
  channels: ["cine"],
  labelValues: [0, 1, 2, 3],
  classes: ["background", "RV", "MYO", "LV"],
  classOf: { 0: 0, 1: 1, 2: 2, 3: 3 },
  target: "oneHot",
  intensityMask: "all",
  groups: ["ED", "ES"],
  subgroup: { key: "pathology", source: "the Group of Info.cfg" },
  displayChannel: 0,
  foldRules: { acdc: acdcFold },
  labelings: { partial: { kind: "removeClass", group: "ES", classIndex: 2, into: 0 } },
  nonScanFiles: [
    { suffix: "_gt", what: "label file" },
    // The whole cine (all frames, 4-D): the network segments one frame.
    { suffix: "_4d", what: "cine volume" },
  ],
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
  classOf: { 0: 0, 1: 1, 2: 1, 4: 1 },
  target: "binary",
  intensityMask: "nonzero",
  groups: ["HGG", "LGG"],
  displayChannel: 0,
  foldRules: {},
  labelings: { partial: { kind: "emptyGroup", group: "LGG" } },
  nonScanFiles: [{ suffix: "_seg", what: "label file" }],
};

/** The datasets with a fixed spec, by kind (the others are read from their own description). */
export const DATASET_SPECS: Readonly<Partial<Record<DatasetKind, DatasetSpec>>> = {
  acdc: ACDC,
  brats: BRATS,
};

/** The dataset kinds, in a fixed order (the pipeline schema's `dataset.kind` values). */
export const DATASET_KINDS: readonly [DatasetKind, ...DatasetKind[]] = [
  "acdc",
  "brats",
  "nnunet",
  "msd",
];

/** The fold rules a pipeline may name: `"random"`, ACDC's, and a dataset's shipped splits. */
export const FOLD_RULE_NAMES: readonly [FoldRuleName, ...FoldRuleName[]] = [
  "random",
  "acdc",
  "splits",
];

/**
 * The full spec of a dataset read from its own description: its data, no labelings of the
 * paper, and the shipped splits (if any) as the `"splits"` fold rule.
 *
 * @param data The spec data (`dataset.spec` of an effective pipeline).
 * @returns The spec.
 */
export function specFromData(data: DatasetSpecData): DatasetSpec {
  const splits = data.splits;
  return {
    ...data,
    foldRules: splits
      ? {
        splits: (subject: string) => {
          const f = splits[subject];
          if (f === undefined) {
            throw new RangeError(
              `Cannot assign a fold: subject "${subject}" is in no split of ${data.title}`,
            );
          }
          return f;
        },
      }
      : {},
    labelings: {},
  };
}

/**
 * The spec a record or case is loaded with: its own, else its kind's fixed spec.
 *
 * @param c A record or case.
 * @returns The spec data.
 * @throws {TypeError} For a kind without a fixed spec and no spec of its own.
 */
export function caseSpec(c: { dataset: DatasetKind; spec?: DatasetSpecData }): DatasetSpecData {
  return c.spec ?? datasetSpec(c.dataset);
}

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
      DATASET_KINDS.includes(kind)
        ? `Cannot find dataset: "${kind}" datasets are described by their dataset.json (read it first)`
        : `Cannot find dataset: unknown kind "${kind}" (known: ${DATASET_KINDS.join(", ")})`,
    );
  }
  return spec;
}

/**
 * The files that are not scans when predicting with a model trained on a dataset kind: the
 * kind's own rules for a dataset with a fixed spec (ACDC, BRATS); for any other kind (nnU-Net,
 * Decathlon, a kind this build does not know) the rules of every fixed-spec dataset, since such
 * models are often applied to scans converted from those layouts, and the nnU-Net and
 * Decathlon layouts keep their labels in folders of their own (`labelsTr/`), never beside the
 * scans under these names.
 *
 * @param kind The dataset kind the model was trained on (a model file's `dataset.kind`).
 * @returns The rules, without duplicate suffixes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nonScanFileRules } from "./datasets.ts";
 * assert.deepEqual(nonScanFileRules("brats").map((r) => r.suffix), ["_seg"]);
 * assert.deepEqual(nonScanFileRules("nnunet").map((r) => r.suffix), ["_gt", "_4d", "_seg"]);
 * ```
 */
export function nonScanFileRules(kind: string): readonly NonScanFileRule[] {
  const own = (DATASET_SPECS as Record<string, DatasetSpec | undefined>)[kind];
  if (own) return own.nonScanFiles ?? [];
  const out: NonScanFileRule[] = [];
  for (const spec of Object.values(DATASET_SPECS)) {
    for (const rule of spec?.nonScanFiles ?? []) {
      if (!out.some((r) => r.suffix === rule.suffix)) out.push(rule);
    }
  }
  return out;
}

/**
 * The number of maps the loss and the network's output have for a dataset: 1 for a binary
 * target, one per region for a region-based one, else one per class.
 *
 * @param spec The dataset.
 * @returns K.
 */
export function targetMaps(spec: DatasetSpecData): number {
  if (spec.target === "regions") return spec.regions?.length ?? 0;
  return spec.target === "binary" ? 1 : spec.classes.length;
}

/**
 * The names of a dataset's loss target maps, in order: the foreground class of a binary
 * target, the regions, or every class (background first) of a one-hot target.
 *
 * @param spec The dataset.
 * @returns One name per map.
 * @example
 * ```ts
 * import { ACDC, BRATS, targetNames } from "./datasets.ts";
 * console.log(targetNames(BRATS), targetNames(ACDC).length); // [ "tumour" ] 4
 * ```
 */
export function targetNames(spec: DatasetSpecData): string[] {
  if (spec.target === "regions") return (spec.regions ?? []).map((r) => r.name);
  return spec.target === "binary" ? spec.classes.slice(1, 2) : [...spec.classes];
}

/**
 * The names a dataset's evaluation reports, in order (a pipeline's `evaluation.classes`): the
 * foreground classes (label values 1..K−1), or the regions of a region-based dataset.
 *
 * @param spec The dataset.
 * @returns The names.
 */
export function evaluatedNames(spec: DatasetSpecData): string[] {
  return spec.target === "regions"
    ? (spec.regions ?? []).map((r) => r.name)
    : spec.classes.slice(1);
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
