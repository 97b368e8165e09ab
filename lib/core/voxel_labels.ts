/**
 * How a training label map marks voxels that carry no single class: the ignore label (the voxel
 * leaves every sum of the loss, as nnU-Net's `"ignore"` label) and label sets (the voxel is one
 * of the classes of a set, as Fidon et al.'s superset labels). Class indices stay below
 * {@linkcode FIRST_SPECIAL_LABEL}; the values from there up are these marks. Loaders, labelings,
 * the patch builder and the evaluation all read them from here.
 *
 * | value          | meaning                              |
 * | -------------- | ------------------------------------ |
 * | 0 … 191        | a class index                        |
 * | 255            | ignored (no class known)             |
 * | 255 − s (s ≥ 1) | label set s (its classes are listed by the run, set s at index s − 1) |
 *
 * @module
 */

/** The label value of an ignored voxel. */
export const IGNORE_LABEL = 255;

/** The most label sets a label map can refer to (values 254 down to 192). */
export const MAX_LABEL_SETS = 63;

/** The smallest label value that is not a class index. */
export const FIRST_SPECIAL_LABEL = IGNORE_LABEL - MAX_LABEL_SETS;

/**
 * The label value of label set `s` (1-based).
 *
 * @param s The set's number, 1 … {@linkcode MAX_LABEL_SETS}.
 * @returns `255 − s`.
 * @throws {RangeError} When `s` is out of range.
 * @example
 * ```ts
 * import { labelSetValue } from "./voxel_labels.ts";
 * console.log(labelSetValue(1)); // 254
 * ```
 */
export function labelSetValue(s: number): number {
  if (!Number.isInteger(s) || s < 1 || s > MAX_LABEL_SETS) {
    throw new RangeError(`Invalid label set number ${s}: expected 1 … ${MAX_LABEL_SETS}`);
  }
  return IGNORE_LABEL - s;
}

/**
 * The label set number of a label value: `s ≥ 1` for a set, 0 for a class index or the ignore
 * label.
 *
 * @param value A label value 0 … 255.
 * @returns The set number, or 0.
 */
export function labelSetNumber(value: number): number {
  return value >= FIRST_SPECIAL_LABEL && value < IGNORE_LABEL ? IGNORE_LABEL - value : 0;
}

/**
 * Whether a label value is a class index (a leaf label), not an ignore or label-set mark.
 *
 * @param value A label value.
 * @returns `value < FIRST_SPECIAL_LABEL`.
 */
export function isClassLabel(value: number): boolean {
  return value < FIRST_SPECIAL_LABEL;
}
