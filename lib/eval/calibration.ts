/**
 * Calibration of the paired tests by simulation: the fraction of simulated datasets in which
 * a test rejects at level α. Under the null (mean difference 0) it estimates the size, which
 * should be near α; under a known shift it estimates the power. Used by the tests and by
 * `bench/bootstrap_bench.ts --calibration` (numbers in docs/statistics.md).
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { pairedBootstrap, permutationTest } from "./bootstrap.ts";

/** Test being calibrated. */
export type CalibratedTest = "studentized" | "centred" | "permutation";

/** Options of {@linkcode rejectionRate}. */
export interface RejectionRateOptions {
  /** Paired bootstrap `"studentized"` or `"centred"`, or the sign-flip `"permutation"` test. */
  test: CalibratedTest;
  /** Number of simulated datasets m. */
  datasets: number;
  /** Pairs per dataset n. */
  n: number;
  /** Resamples per test B. */
  resamples: number;
  /**
   * Level α.
   * @default 0.05
   */
  alpha?: number;
  /**
   * True mean difference, in units of the differences' standard deviation.
   * @default 0
   */
  shift?: number;
  /**
   * Distribution of the differences: standard normal, or Exp(1) − 1 (skewed, mean 0, sd 1).
   * @default "normal"
   */
  differences?: "normal" | "skewed";
  /**
   * Master seed: dataset i is drawn from `new Rng(seed, i)` and tested with seed
   * `seed + 7919·(i + 1)`.
   * @default 1
   */
  seed?: number;
}

/** Result of {@linkcode rejectionRate}. */
export interface RejectionRateResult {
  /** Fraction of datasets with p < α. */
  rate: number;
  /** Number of rejections. */
  rejections: number;
  /** Number of datasets m. */
  datasets: number;
  /** Binomial standard error √(rate(1 − rate)/m). */
  se: number;
}

/**
 * Simulate `datasets` paired samples with differences dᵢ = shift + εᵢ and count how often the
 * test rejects H0: mean difference = 0 at level α. Each dataset also carries a shared
 * per-subject effect (so a and b are correlated, as paired results are), which the paired
 * tests must cancel.
 *
 * @param options Test, sizes, α, shift, distribution and seed.
 * @returns The rejection rate and its binomial standard error.
 * @throws {RangeError} When a size is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rejectionRate } from "./calibration.ts";
 * const r = rejectionRate({ test: "studentized", datasets: 20, n: 20, resamples: 99, shift: 2 });
 * assert(r.rate === 1);
 * ```
 */
export function rejectionRate(options: RejectionRateOptions): RejectionRateResult {
  const { test, datasets, n, resamples } = options;
  const alpha = options.alpha ?? 0.05;
  const shift = options.shift ?? 0;
  const seed = options.seed ?? 1;
  for (const [k, v] of [["datasets", datasets], ["n", n], ["resamples", resamples]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`Cannot simulate rejection rate: ${k} is ${v}`);
    }
  }
  const a = new Float64Array(n), b = new Float64Array(n);
  let rejections = 0;
  for (let i = 0; i < datasets; i++) {
    const rng = new Rng(seed, i);
    for (let j = 0; j < n; j++) {
      const subject = 0.8 + 0.1 * rng.normal();
      const e = options.differences === "skewed" ? -Math.log(1 - rng.float()) - 1 : rng.normal();
      b[j] = subject;
      a[j] = subject + shift + e;
    }
    const testSeed = seed + 7919 * (i + 1);
    const p = test === "permutation"
      ? permutationTest(a, b, { resamples, seed: testSeed, exact: false }).p
      : pairedBootstrap(a, b, {
        resamples,
        seed: testSeed,
        method: test,
      }).p;
    if (p < alpha) rejections++;
  }
  const rate = rejections / datasets;
  return { rate, rejections, datasets, se: Math.sqrt((rate * (1 - rate)) / datasets) };
}
