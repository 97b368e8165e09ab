/**
 * Labelings: declarative transforms of the training labels that build the paper's partially
 * labelled datasets (Sect. 3), plus the loss targets and which maps are labelled.
 * Evaluation always uses the full labels.
 *
 * @module
 */

import {
  FIRST_SPECIAL_LABEL,
  IGNORE_LABEL,
  labelSetValue,
  MAX_LABEL_SETS,
} from "../core/voxel_labels.ts";
import { ACDC, BRATS, caseSpec, targetMaps } from "./datasets.ts";
import type { DatasetSpecData, Labeling, LoadedCase, RemovedLabels } from "./types.ts";

export type { Labeling, RemovedLabels };

/** The spellings of {@linkcode RemovedLabels}, in order (`"relabel"` is the default). */
export const REMOVED_LABELS = [
  "relabel",
  "labelSet",
  "ignore",
] as const satisfies readonly RemovedLabels[];

/**
 * The paper's labelings: the full one and each dataset's partial-label protocol (defined once,
 * in the dataset specs of `datasets.ts`).
 */
export const LABELINGS: {
  /** Fully labelled training set. */
  readonly full: Labeling;
  /** BRATS partial: LGG labels replaced by empty maps during training. */
  readonly bratsPartial: Labeling;
  /** ACDC partial: myocardium (2) removed at end-systole (→ background). */
  readonly acdcPartial: Labeling;
} = {
  full: { kind: "full" },
  bratsPartial: BRATS.labelings.partial,
  acdcPartial: ACDC.labelings.partial,
};

/**
 * A short name of a labeling (`"full"`, `"emptyGroup(LGG)"`, `"removeClass(ES: 2→0)"`).
 *
 * @param labeling The labeling.
 * @returns Its name.
 */
export function labelingName(labeling: Labeling): string {
  const base = _baseName(labeling);
  const as = removedLabelsOf(labeling);
  return as === "relabel" ? base : `${base}[${as}]`;
}

/**
 * How a labeling's removed labels reach the loss: its `removedLabels`, `"relabel"` when unset
 * (and for the full labeling, which removes nothing).
 *
 * @param labeling The protocol.
 * @returns The way its removed labels are presented.
 */
export function removedLabelsOf(labeling: Labeling): RemovedLabels {
  return labeling.kind === "full" ? "relabel" : labeling.removedLabels ?? "relabel";
}

function _baseName(labeling: Labeling): string {
  switch (labeling.kind) {
    case "full":
      return "full";
    case "emptyGroup":
      return `emptyGroup(${labeling.group})`;
    case "removeClass":
      return `removeClass(${labeling.group}: ${labeling.classIndex}→${labeling.into ?? 0})`;
    case "annotatedClasses":
      return `annotatedClasses(${Object.keys(labeling.cases ?? {}).length} cases)`;
  }
}

/**
 * Apply a labeling to a training case. Cases the labeling does not touch are returned as
 * they are; touched cases are shallow copies with a new `label` and `labeling`.
 *
 * @param loaded A case with full labels.
 * @param labeling The protocol.
 * @returns The case as the trainer should see it.
 * @throws {RangeError} When `classIndex` / `into` are not classes of the case.
 * @example
 * ```ts
 * import { applyLabeling, LABELINGS } from "./labeling.ts";
 * import type { LoadedCase } from "./types.ts";
 * const es = { group: "ES", label: new Uint8Array([0, 1, 2, 3]), classes: ["bg", "RV", "MYO", "LV"] } as unknown as LoadedCase;
 * console.log(Array.from(applyLabeling(es, LABELINGS.acdcPartial).label)); // [0, 1, 0, 3]
 * ```
 */
export function applyLabeling(loaded: LoadedCase, labeling: Labeling): LoadedCase {
  const relabelled = _relabel(loaded, labeling);
  const as = removedLabelsOf(labeling);
  if (relabelled === loaded || as === "relabel") return relabelled;
  const hidden = hiddenClasses(loaded, labeling)!;
  const into = labeling.kind === "removeClass" ? labeling.into ?? 0 : 0;
  let mark = IGNORE_LABEL;
  if (as === "labelSet") {
    const sets = labelingSets(labeling, caseSpec(loaded));
    mark = labelSetValue(sets.findIndex((s) => s.join() === hidden.join()) + 1);
  }
  const label = relabelled.label === loaded.label ? loaded.label.slice() : relabelled.label;
  for (let i = 0; i < label.length; i++) if (label[i] === into) label[i] = mark;
  return { ...relabelled, label, labeling: labelingName(labeling) };
}

/**
 * A labeling with its removed labels presented to the loss as `removedLabels` (the full
 * labeling removes nothing and is returned as it is).
 *
 * @param labeling The protocol.
 * @param removedLabels How its removed labels reach the loss.
 * @returns The labeling the patch builder applies.
 * @example
 * ```ts
 * import { LABELINGS, labelingName, withRemovedLabels } from "./labeling.ts";
 * console.log(labelingName(withRemovedLabels(LABELINGS.acdcPartial, "ignore"))); // removeClass(ES: 2→0)[ignore]
 * ```
 */
export function withRemovedLabels(labeling: Labeling, removedLabels: RemovedLabels): Labeling {
  return labeling.kind === "full" ? labeling : { ...labeling, removedLabels };
}

/**
 * The classes that may hide under a case's voxels labelled `into` (background unless
 * `removeClass.into` says otherwise) after a labeling: `into` and the classes it removed
 * from the case, sorted; `undefined` when the labeling leaves the case as annotated. These
 * voxels become the label set or the ignored voxels of `removedLabels`.
 *
 * @param loaded The case.
 * @param labeling The protocol.
 * @returns Sorted class indices, or undefined.
 * @example
 * ```ts
 * import { hiddenClasses, LABELINGS } from "./labeling.ts";
 * import type { LoadedCase } from "./types.ts";
 * const es = { dataset: "acdc", group: "ES", classes: ["bg", "RV", "MYO", "LV"] } as unknown as LoadedCase;
 * console.log(hiddenClasses(es, LABELINGS.acdcPartial)); // [0, 2]
 * ```
 */
export function hiddenClasses(loaded: LoadedCase, labeling: Labeling): number[] | undefined {
  switch (labeling.kind) {
    case "full":
      return undefined;
    case "annotatedClasses": {
      const missing = _unannotated(loaded, labeling);
      return missing.length > 0 ? [0, ...missing] : undefined;
    }
    case "emptyGroup":
      return loaded.group === labeling.group
        ? Array.from({ length: loaded.classes.length }, (_, c) => c)
        : undefined;
    case "removeClass":
      return loaded.group === labeling.group ? _removedPair(labeling) : undefined;
  }
}

/**
 * The label sets a labeling with `removedLabels: "labelSet"` writes (set s at index s − 1):
 * one per distinct {@linkcode hiddenClasses} over the cases it can touch, in a fixed order.
 *
 * @param labeling The protocol.
 * @param spec The dataset (its classes and target encoding).
 * @returns Channel lists (the one-hot target's channels are the classes).
 * @throws {RangeError} For a binary target (its one map cannot name the background), a
 *   labeling that removes nothing, or more than `MAX_LABEL_SETS` sets.
 * @example
 * ```ts
 * import { labelingSets, LABELINGS } from "./labeling.ts";
 * import { ACDC } from "./datasets.ts";
 * console.log(labelingSets(LABELINGS.acdcPartial, ACDC)); // [[0, 2]]
 * ```
 */
export function labelingSets(
  labeling: Labeling,
  spec: Pick<DatasetSpecData, "classes" | "target" | "title">,
): number[][] {
  if (spec.target !== "oneHot") {
    throw new RangeError(
      `Cannot use label sets with ${spec.title}: its loss target is ${
        spec.target === "binary" ? "one binary map" : "one map per region"
      }, which cannot name the background (use removedLabels "ignore" or "relabel")`,
    );
  }
  const K = spec.classes.length;
  const sets = new Map<string, number[]>();
  const add = (s: number[]) => sets.set(s.join(), s);
  switch (labeling.kind) {
    case "full":
      break;
    case "emptyGroup":
      add(Array.from({ length: K }, (_, c) => c));
      break;
    case "removeClass":
      add(_removedPair(labeling));
      break;
    case "annotatedClasses":
      for (const named of Object.values(labeling.cases ?? {})) {
        const missing = _missingClasses(named, spec.classes);
        if (missing.length > 0) add([0, ...missing]);
      }
      break;
  }
  if (sets.size === 0) {
    throw new RangeError(
      `Cannot use label sets with labeling ${labelingName(labeling)}: it removes no labels`,
    );
  }
  if (sets.size > MAX_LABEL_SETS) {
    throw new RangeError(
      `Cannot use label sets with labeling ${labelingName(labeling)}: ${sets.size} distinct ` +
        `sets (at most ${MAX_LABEL_SETS})`,
    );
  }
  return [...sets.keys()].sort().map((k) => sets.get(k)!);
}

function _relabel(loaded: LoadedCase, labeling: Labeling): LoadedCase {
  if (labeling.kind === "annotatedClasses") {
    const missing = _unannotated(loaded, labeling);
    if (missing.length === 0) return loaded;
    const label = loaded.label.slice();
    for (let i = 0; i < label.length; i++) if (missing.includes(label[i])) label[i] = 0;
    return { ...loaded, label, labeling: labelingName(labeling) };
  }
  if (labeling.kind === "full" || loaded.group !== labeling.group) return loaded;
  if (labeling.kind === "emptyGroup") {
    return {
      ...loaded,
      label: new Uint8Array(loaded.label.length),
      labeling: labelingName(labeling),
    };
  }
  const from = labeling.classIndex;
  const into = labeling.into ?? 0;
  const k = loaded.classes.length;
  if (!(from >= 1 && from < k) || !(into >= 0 && into < k)) {
    throw new RangeError(
      `Cannot apply labeling ${labelingName(labeling)}: case ${loaded.id} has classes 0..${k - 1}`,
    );
  }
  const label = loaded.label.slice();
  for (let i = 0; i < label.length; i++) if (label[i] === from) label[i] = into;
  return { ...loaded, label, labeling: labelingName(labeling) };
}

/**
 * Which target maps of a case are annotated under a labeling, in target channel order
 * (binary: `[tumour]`; one-hot: one flag per class): the `labeled[b]` row that the leaf and
 * marginal Dice losses take.
 *
 * @param loaded The case (its group decides).
 * @param labeling The protocol.
 * @returns One boolean per target channel.
 */
export function annotatedMaps(loaded: LoadedCase, labeling: Labeling): boolean[] {
  const spec = caseSpec(loaded);
  const n = targetMaps(spec);
  const flags = new Array(n).fill(true);
  if (spec.target === "regions") return _annotatedRegions(loaded, labeling, flags);
  if (labeling.kind === "annotatedClasses") {
    const missing = _unannotated(loaded, labeling);
    if (spec.target === "binary") return [!missing.includes(1)];
    for (const c of missing) flags[c] = false;
    return flags;
  }
  if (labeling.kind === "full" || loaded.group !== labeling.group) return flags;
  if (labeling.kind === "emptyGroup") {
    return spec.target === "binary" ? [false] : flags.map((_, c) => c === 0);
  }
  if (spec.target === "binary") return [labeling.classIndex !== 1];
  flags[labeling.classIndex] = false;
  return flags;
}

/**
 * A region-based case's annotated maps: all under `full` and in groups a labeling leaves alone,
 * none in an `emptyGroup` case (no background map); other labelings name classes, which have
 * no meaning for regions.
 */
function _annotatedRegions(loaded: LoadedCase, labeling: Labeling, flags: boolean[]): boolean[] {
  if (labeling.kind === "full") return flags;
  if (labeling.kind === "emptyGroup") {
    return loaded.group === labeling.group ? flags.map(() => false) : flags;
  }
  throw new RangeError(
    `Cannot apply labeling ${labelingName(labeling)} to case ${loaded.id}: its dataset is ` +
      `region-based, and a ${labeling.kind} labeling names classes, not regions`,
  );
}

/** The class indices a case does not annotate under an `annotatedClasses` labeling. */
function _unannotated(
  loaded: LoadedCase,
  labeling: { kind: "annotatedClasses"; cases?: Record<string, string[]> },
): number[] {
  const named = labeling.cases?.[loaded.id];
  if (!named) return [];
  const classes = loaded.classes;
  for (const n of named) {
    if (!classes.includes(n)) {
      throw new RangeError(
        `Cannot apply labeling annotatedClasses: case ${loaded.id} names class "${n}" (classes: ${
          classes.join(", ")
        })`,
      );
    }
  }
  return _missingClasses(named, classes);
}

/** The foreground class indices whose names a case's annotated list does not name. */
function _missingClasses(named: readonly string[], classes: readonly string[]): number[] {
  const out: number[] = [];
  for (let c = 1; c < classes.length; c++) if (!named.includes(classes[c])) out.push(c);
  return out;
}

/** The classes a `removeClass` labeling may hide under `into`: `into` and the removed class. */
function _removedPair(labeling: { classIndex: number; into?: number }): number[] {
  return [labeling.into ?? 0, labeling.classIndex].sort((a, b) => a - b);
}

/** Options of {@linkcode makeTarget}. */
export interface TargetOptions {
  /**
   * `"binary"`: one map, label > 0; `"oneHot"`: one map per class; `"regions"`: one map per
   * region, 1 where the label is one of the region's values (maps overlap).
   */
  encoding: "binary" | "oneHot" | "regions";
  /** Number of classes K for one-hot. */
  classes?: number;
  /** The label values of each region, for `"regions"`. */
  regions?: readonly (readonly number[])[];
}

/**
 * The target encoding of a dataset's loss: binary, one-hot over its classes, or its regions.
 *
 * @param spec The dataset.
 * @returns The options {@linkcode makeTarget} takes.
 * @example
 * ```ts
 * import { targetOptions } from "./labeling.ts";
 * import { ACDC } from "./datasets.ts";
 * console.log(targetOptions(ACDC)); // { encoding: "oneHot", classes: 4 }
 * ```
 */
export function targetOptions(spec: DatasetSpecData): TargetOptions {
  if (spec.target === "regions") {
    return { encoding: "regions", regions: (spec.regions ?? []).map((r) => [...r.values]) };
  }
  return spec.target === "binary"
    ? { encoding: "binary" }
    : { encoding: "oneHot", classes: spec.classes.length };
}

/**
 * The number of target maps an encoding gives.
 *
 * @param options The encoding.
 * @returns 1 (binary), the classes (one-hot) or the regions.
 */
export function targetChannels(options: TargetOptions): number {
  if (options.encoding === "binary") return 1;
  return options.encoding === "regions" ? options.regions?.length ?? 0 : options.classes ?? 0;
}

/**
 * The loss target of a label map: BRATS whole tumour as one binary map (C = 1, label > 0),
 * ACDC one-hot over K maps (background, RV, MYO, LV), or one map per region (nnU-Net's
 * region-based training: map r is 1 where the label ∈ region r's values; nested regions
 * overlap). An ignored or set-labelled voxel (lib/core/voxel_labels.ts) has no leaf label: 0
 * in every map.
 *
 * @param label Class indices `[N]` (any spatial shape, flattened).
 * @param options Encoding and class count.
 * @returns Float32Array `[C, N]`.
 * @throws {RangeError} When a label is ≥ K for one-hot.
 * @example
 * ```ts
 * import { makeTarget } from "./labeling.ts";
 * const t = makeTarget(new Uint8Array([0, 2, 1]), { encoding: "oneHot", classes: 3 });
 * console.log(Array.from(t)); // [1, 0, 0, 0, 0, 1, 0, 1, 0]
 * ```
 */
export function makeTarget(label: Uint8Array, options: TargetOptions): Float32Array {
  const n = label.length;
  if (options.encoding === "binary") {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = label[i] > 0 && label[i] < FIRST_SPECIAL_LABEL ? 1 : 0;
    return out;
  }
  if (options.encoding === "regions") {
    const regions = options.regions ?? [];
    const out = new Float32Array(regions.length * n);
    regions.forEach((values, r) => {
      // Special marks (≥ FIRST_SPECIAL_LABEL) are never region values: no leaf label.
      const inside = new Uint8Array(256);
      for (const v of values) if (v >= 0 && v < FIRST_SPECIAL_LABEL) inside[v] = 1;
      const map = out.subarray(r * n, (r + 1) * n);
      for (let i = 0; i < n; i++) map[i] = inside[label[i]];
    });
    return out;
  }
  const k = options.classes ?? 0;
  const out = new Float32Array(k * n);
  for (let i = 0; i < n; i++) {
    const c = label[i];
    if (c >= FIRST_SPECIAL_LABEL) continue; // ignored or a label set: no leaf label
    if (c >= k) throw new RangeError(`Cannot one-hot encode: label ${c} at ${i} with ${k} classes`);
    out[c * n + i] = 1;
  }
  return out;
}

/** The paper's ACDC sampling ratio ED : ES = 3 : 1 (Sect. 3). */
export const ACDC_ED_ES_RATIO: Readonly<Record<string, number>> = { ED: 3, ES: 1 };

/**
 * Sampling probabilities per case such that groups are drawn in the given ratio and cases
 * uniformly within a group (the `groupRatio` of the trainer's `SampleSchedule`).
 *
 * @param groups Group of each case.
 * @param ratio Relative weight per group (e.g. {@linkcode ACDC_ED_ES_RATIO}).
 * @returns Probabilities summing to 1.
 * @throws {RangeError} When every present group has weight 0.
 * @example
 * ```ts
 * import { groupWeights } from "./labeling.ts";
 * console.log(groupWeights(["ED", "ES", "ED", "ES"], { ED: 3, ES: 1 })); // [0.375, 0.125, 0.375, 0.125]
 * ```
 */
export function groupWeights(
  groups: readonly string[],
  ratio: Readonly<Record<string, number>>,
): number[] {
  const counts = new Map<string, number>();
  for (const g of groups) counts.set(g, (counts.get(g) ?? 0) + 1);
  let total = 0;
  for (const g of counts.keys()) total += ratio[g] ?? 0;
  if (!(total > 0)) {
    throw new RangeError(
      `Cannot weight groups: every group of [${[...counts.keys()]}] has weight 0`,
    );
  }
  return groups.map((g) => (ratio[g] ?? 0) / total / counts.get(g)!);
}
