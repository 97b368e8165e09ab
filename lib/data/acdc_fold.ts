/**
 * The ACDC challenge's fold rule, used by the paper: patient p → fold (p − 1) mod K.
 *
 * @module
 */

/**
 * Fold of an ACDC subject by the paper's rule: patient p → fold (p − 1) mod K.
 *
 * @param subject Subject id ending in its patient number, e.g. `"patient001"`.
 * @param folds Number of folds K.
 * @returns The fold index in [0, K).
 * @throws {RangeError} When the subject has no trailing number or K is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acdcFold } from "./acdc_fold.ts";
 * assert(acdcFold("patient001") === 0);
 * assert(acdcFold("patient007") === 1);
 * ```
 */
export function acdcFold(subject: string, folds = 5): number {
  if (!Number.isInteger(folds) || folds < 1) {
    throw new RangeError(`Cannot split into folds: folds is ${folds}`);
  }
  const m = /(\d+)$/.exec(subject);
  if (!m) throw new RangeError(`Cannot assign ACDC fold: subject "${subject}" has no number`);
  const p = Number(m[1]);
  if (p < 1) throw new RangeError(`Cannot assign ACDC fold: subject "${subject}" is number ${p}`);
  return (p - 1) % folds;
}
