/**
 * Multiple-comparison adjustment of p-values: Holm's step-down family-wise error control
 * (Holm 1979) and the Benjamini–Hochberg false-discovery rate (1995).
 *
 * @module
 */

/** Adjustment method: none, Holm (FWER) or Benjamini–Hochberg (FDR). */
export type PAdjustMethod = "none" | "holm" | "bh";

/**
 * Holm-adjusted p-values: with p₍₁₎ ≤ … ≤ p₍ₘ₎,
 * p̃₍ᵢ₎ = max over j ≤ i of min(1, (m − j + 1)·p₍ⱼ₎). Rejecting p̃ < α controls the
 * family-wise error rate at α. NaN entries stay NaN and do not count in m.
 *
 * @param p Raw p-values.
 * @returns Adjusted p-values in the input order.
 * @throws {RangeError} When a p-value is outside [0, 1].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holm } from "./multiple_comparisons.ts";
 * // sorted 0.01, 0.02, 0.04 → 3·0.01, max(0.03, 2·0.02), max(0.04, 0.04)
 * assert(holm([0.04, 0.01, 0.02]).join() === "0.04,0.03,0.04");
 * ```
 */
export function holm(p: readonly number[]): number[] {
  const idx = _sortedFinite(p, "Holm");
  const m = idx.length;
  const out = p.map(() => NaN);
  let running = 0;
  idx.forEach((i, j) => {
    running = Math.max(running, Math.min(1, (m - j) * p[i]));
    out[i] = running;
  });
  return out;
}

/**
 * Benjamini–Hochberg adjusted p-values (q-values): p̃₍ᵢ₎ = min over j ≥ i of
 * min(1, m·p₍ⱼ₎/j). Rejecting p̃ < α controls the false-discovery rate at α for independent or
 * positively dependent tests. NaN entries stay NaN and do not count in m.
 *
 * @param p Raw p-values.
 * @returns Adjusted p-values in the input order.
 * @throws {RangeError} When a p-value is outside [0, 1].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benjaminiHochberg } from "./multiple_comparisons.ts";
 * // sorted 0.01, 0.02, 0.04 → min(0.03, 0.03, 0.04) …
 * assert(benjaminiHochberg([0.04, 0.01, 0.02]).join() === "0.04,0.03,0.03");
 * ```
 */
export function benjaminiHochberg(p: readonly number[]): number[] {
  const idx = _sortedFinite(p, "Benjamini–Hochberg");
  const m = idx.length;
  const out = p.map(() => NaN);
  let running = 1;
  for (let j = m - 1; j >= 0; j--) {
    const i = idx[j];
    running = Math.min(running, (m * p[i]) / (j + 1));
    out[i] = running;
  }
  return out;
}

/**
 * Adjust p-values by the named method.
 *
 * @param p Raw p-values.
 * @param method `"none"`, `"holm"` or `"bh"`.
 * @returns Adjusted p-values in the input order.
 * @throws {RangeError} When the method is unknown or a p-value is outside [0, 1].
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adjustPValues } from "./multiple_comparisons.ts";
 * assert(adjustPValues([0.01, 0.02], "holm").join() === "0.02,0.02");
 * ```
 */
export function adjustPValues(p: readonly number[], method: PAdjustMethod): number[] {
  if (method === "none") {
    _sortedFinite(p, "none");
    return [...p];
  }
  if (method === "holm") return holm(p);
  if (method === "bh") return benjaminiHochberg(p);
  throw new RangeError(`Cannot adjust p-values: unknown method "${method}"`);
}

function _sortedFinite(p: readonly number[], what: string): number[] {
  const idx: number[] = [];
  p.forEach((v, i) => {
    if (Number.isNaN(v)) return;
    if (!(v >= 0 && v <= 1)) {
      throw new RangeError(`Cannot adjust p-values (${what}): p[${i}] is ${v}`);
    }
    idx.push(i);
  });
  // Stable: equal p-values keep their input order.
  return idx.sort((i, j) => p[i] - p[j] || i - j);
}
