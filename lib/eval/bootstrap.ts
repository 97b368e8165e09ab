/**
 * Paired bootstrap, paired sign-flip permutation test and AUC bootstrap, in process. Each
 * test is a plan (validated input, a resampling job over indices [0, B), and a summary of the
 * replicates); {@linkcode BootstrapPool} runs the same plans in workers, so both give
 * bit-identical results for a seed. Definitions: docs/statistics.md.
 *
 * @module
 */

import {
  type BootstrapMethod,
  type LocationStatistic,
  locationStatistic,
  meanAndSe,
  type ResampleJob,
  resampleRange,
  type ResampleTemplate,
  type StatisticFn,
} from "./resampling.ts";
import { aucFromSamples, splitByClass } from "./roc.ts";

/** Relative tolerance when comparing |replicate| with |observed| (rounding of equal sums). */
const TIE_RTOL = 1e-9;

/** What a paired test does with a pair holding an undefined value (NaN or null). */
export type MissingPairs = "error" | "omit";

/** Options of {@linkcode pairedBootstrap}. */
export interface PairedBootstrapOptions {
  /** Number of bootstrap resamples B. */
  resamples: number;
  /** Seed; resample b uses `new Rng(seed, b)`. */
  seed: number;
  /**
   * Statistic of the paired differences dᵢ = aᵢ − bᵢ; a function runs in process only.
   * @default "mean"
   */
  statistic?: LocationStatistic | StatisticFn;
  /**
   * `"centred"`: p from |θ* − θ̂| ≥ |θ̂| and a percentile interval (any location statistic;
   * robust); `"studentized"`: bootstrap-t of the mean (better size for smooth skewed samples,
   * less power when resamples can be nearly constant; docs/statistics.md).
   * @default "centred"
   */
  method?: BootstrapMethod;
  /**
   * Confidence level of the interval.
   * @default 0.95
   */
  level?: number;
  /**
   * Pairs with an undefined value (NaN or null, e.g. a DSC under `emptyDice: "nan"`): an error,
   * or left out (`"omit"`; the result's `n` counts the pairs used).
   * @default "error"
   */
  missing?: MissingPairs;
}

/** Result of {@linkcode pairedBootstrap}. */
export interface PairedBootstrapResult {
  /** θ̂ = statistic of the differences a − b (the mean difference by default). */
  estimate: number;
  /** Confidence interval of θ at `level`. */
  ci: [number, number];
  /** Two-sided p-value of H0: θ = 0, (1 + #{extreme replicates}) / (B + 1). */
  p: number;
  /** Number of pairs n. */
  n: number;
  /** Number of resamples B. */
  resamples: number;
  /** Method used. */
  method: BootstrapMethod;
}

/** Options of {@linkcode permutationTest}. */
export interface PermutationTestOptions {
  /** Number of random sign vectors B (Monte Carlo mode). */
  resamples: number;
  /** Seed; sign vector b uses `new Rng(seed, b)`. */
  seed: number;
  /**
   * Statistic of the sign-flipped differences; a function runs in process only.
   * @default "mean"
   */
  statistic?: LocationStatistic | StatisticFn;
  /**
   * Enumerate all 2ⁿ sign vectors instead of sampling; `"auto"` when 2ⁿ ≤ resamples.
   * @default "auto"
   */
  exact?: boolean | "auto";
  /**
   * Pairs with an undefined value (NaN or null, e.g. a DSC under `emptyDice: "nan"`): an error,
   * or left out (`"omit"`; the result's `n` counts the pairs used).
   * @default "error"
   */
  missing?: MissingPairs;
}

/** Result of {@linkcode permutationTest}. */
export interface PermutationTestResult {
  /** Statistic of the differences a − b. */
  estimate: number;
  /** Two-sided p-value of H0: the differences are symmetric about 0. */
  p: number;
  /** Number of pairs n. */
  n: number;
  /** Sign vectors used (2ⁿ when exact). */
  resamples: number;
  /** Whether all sign vectors were enumerated. */
  exact: boolean;
}

/** Options of {@linkcode aucBootstrap}. */
export interface AucBootstrapOptions {
  /** Number of stratified resamples B. */
  resamples: number;
  /** Seed; resample b uses `new Rng(seed, b)`. */
  seed: number;
  /**
   * Confidence level of the percentile interval.
   * @default 0.95
   */
  level?: number;
}

/** Result of {@linkcode aucBootstrap}. */
export interface AucBootstrapResult {
  /** Exact (Mann–Whitney) AUC of the data. */
  estimate: number;
  /** Percentile interval of the stratified bootstrap. */
  ci: [number, number];
  /** Number of resamples B. */
  resamples: number;
}

/** A validated test: the job over [0, total) and how to summarise its replicates. */
export interface ResamplePlan<R> {
  /** The job without its range. */
  job: ResampleTemplate;
  /** Number of resample indices. */
  total: number;
  /** A custom statistic (then the plan runs in process only). */
  statistic?: StatisticFn;
  /** Turn the replicates of [0, total) into the result. */
  summarise(replicates: Float64Array): R;
}

/**
 * Paired bootstrap of a statistic θ of the differences dᵢ = aᵢ − bᵢ (Efron & Tibshirani 1993,
 * ch. 12 and 16). Resample b draws n pairs with replacement from `new Rng(seed, b)`. The
 * p-value of H0: θ = 0 compares the observed value with the bootstrap distribution centred
 * at the estimate, i.e. shifted to the null (Hall & Wilson 1991):
 * - `"centred"` (default): p = (1 + #{b : |θ*_b − θ̂| ≥ |θ̂|}) / (B + 1); percentile
 *   interval of θ*.
 * - `"studentized"` (mean only): T*_b = (mean*_b − mean)/se*_b, t = mean/se,
 *   p = (1 + #{b : |T*_b| ≥ |t|}) / (B + 1); bootstrap-t interval
 *   [mean − q(1 − α/2)·se, mean − q(α/2)·se] with q the quantiles of T*.
 *
 * @param a Values of the first condition (e.g. partial labelling), one per case.
 * @param b Values of the second condition for the same cases in the same order.
 * @param options Resamples, seed, statistic, method and level.
 * @returns The estimate, interval and two-sided p-value.
 * @throws {TypeError} When the lengths differ, or a custom statistic is combined with
 *   `"studentized"`.
 * @throws {RangeError} When n < 2, a value is not finite, or an option is out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pairedBootstrap } from "./bootstrap.ts";
 * const full = [0.89, 0.91, 0.85, 0.88, 0.9, 0.87];
 * const partial = [0.12, 0.3, 0.05, 0.2, 0.0, 0.25];
 * const r = pairedBootstrap(partial, full, { resamples: 999, seed: 1 });
 * assert(r.estimate < 0 && r.ci[1] < 0 && r.p === 0.001);
 * ```
 */
export function pairedBootstrap(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: PairedBootstrapOptions,
): PairedBootstrapResult {
  return runPlan(planPairedBootstrap(a, b, options));
}

/**
 * Paired sign-flip permutation test of the differences dᵢ = aᵢ − bᵢ: under H0 each dᵢ is
 * symmetric about 0, so flipping signs gives the null distribution of T = statistic(d).
 * p = #{s : |T(s ⊙ d)| ≥ |T|} / 2ⁿ when exact, else (1 + #{b : |T*_b| ≥ |T|}) / (B + 1).
 *
 * @param a Values of the first condition.
 * @param b Values of the second condition for the same cases.
 * @param options Resamples, seed, statistic and exactness.
 * @returns The estimate and the two-sided p-value.
 * @throws {TypeError} When the lengths differ.
 * @throws {RangeError} When n < 2, a value is not finite, or exact enumeration is asked for
 *   n > 24.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { permutationTest } from "./bootstrap.ts";
 * // d = [1, 2, 3]: of the 8 sign vectors only +++ and −−− reach |mean| ≥ 2 → p = 2/8
 * const r = permutationTest([2, 3, 4], [1, 1, 1], { resamples: 1000, seed: 1 });
 * assert(r.exact && r.p === 0.25);
 * ```
 */
export function permutationTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: PermutationTestOptions,
): PermutationTestResult {
  return runPlan(planPermutationTest(a, b, options));
}

/**
 * Exact AUC with a stratified bootstrap percentile interval (positives and negatives are
 * resampled separately, as in pROC's default).
 *
 * @param scores Score per case (e.g. predicted volume).
 * @param positive Whether each case belongs to the group to detect.
 * @param options Resamples, seed and level.
 * @returns The AUC and its interval.
 * @throws {TypeError} When the lengths differ.
 * @throws {RangeError} When a class is absent, a score is not finite, or an option is out of
 *   range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aucBootstrap } from "./bootstrap.ts";
 * const r = aucBootstrap([5, 4, 3, 2, 1, 0], [true, true, false, true, false, false], {
 *   resamples: 200,
 *   seed: 3,
 * });
 * assert(Math.abs(r.estimate - 8 / 9) < 1e-12 && r.ci[0] <= r.estimate);
 * ```
 */
export function aucBootstrap(
  scores: ArrayLike<number>,
  positive: ArrayLike<boolean>,
  options: AucBootstrapOptions,
): AucBootstrapResult {
  return runPlan(planAucBootstrap(scores, positive, options));
}

/**
 * Run a plan in process.
 *
 * @param plan A plan from one of the `plan*` functions.
 * @returns The plan's result.
 */
export function runPlan<R>(plan: ResamplePlan<R>): R {
  const job = { ...plan.job, start: 0, end: plan.total } as ResampleJob;
  return plan.summarise(resampleRange(job, plan.statistic));
}

/**
 * Validate the inputs of {@linkcode pairedBootstrap} and build its plan.
 *
 * @param a First condition.
 * @param b Second condition.
 * @param options Options of {@linkcode pairedBootstrap}.
 * @returns The plan.
 * @throws {TypeError} See {@linkcode pairedBootstrap}.
 * @throws {RangeError} See {@linkcode pairedBootstrap}.
 */
export function planPairedBootstrap(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: PairedBootstrapOptions,
): ResamplePlan<PairedBootstrapResult> {
  const diffs = _differences(a, b, "paired bootstrap", options.missing);
  const { resamples, seed } = options;
  _checkRun("paired bootstrap", resamples, seed);
  const level = _checkLevel("paired bootstrap", options.level ?? 0.95);
  const stat = options.statistic ?? "mean";
  const method = options.method ?? "centred";
  if (method !== "centred" && method !== "studentized") {
    throw new RangeError(`Cannot run paired bootstrap: method is "${method}"`);
  }
  const fn = typeof stat === "function" ? stat : undefined;
  if (method === "studentized" && stat !== "mean") {
    throw new TypeError("Cannot run paired bootstrap: the studentized method needs the mean");
  }
  const named: LocationStatistic = fn ? "mean" : stat as LocationStatistic;
  const estimate = fn ? fn(diffs.slice()) : locationStatistic(named, diffs.slice());
  const n = diffs.length;
  const summarise = (reps: Float64Array): PairedBootstrapResult => {
    const sorted = reps.slice().sort();
    const lo = (1 - level) / 2, hi = 1 - lo;
    if (method === "studentized") {
      const { mean, se } = meanAndSe(diffs);
      const t = se > 0 ? mean / se : mean === 0 ? 0 : Math.sign(mean) * Infinity;
      const extreme = _countExtreme(reps, t, (v) => v);
      const ci: [number, number] = se > 0
        ? [mean - quantile(sorted, hi) * se, mean - quantile(sorted, lo) * se]
        : [mean, mean];
      return { estimate, ci, p: _pValue(extreme, resamples, t), n, resamples, method };
    }
    const extreme = _countExtreme(reps, estimate, (v) => v - estimate);
    return {
      estimate,
      ci: [quantile(sorted, lo), quantile(sorted, hi)],
      p: _pValue(extreme, resamples, estimate),
      n,
      resamples,
      method,
    };
  };
  return {
    job: { kind: "pairedBootstrap", diffs, seed, statistic: named, method },
    total: resamples,
    statistic: fn,
    summarise,
  };
}

/**
 * Validate the inputs of {@linkcode permutationTest} and build its plan.
 *
 * @param a First condition.
 * @param b Second condition.
 * @param options Options of {@linkcode permutationTest}.
 * @returns The plan.
 * @throws {TypeError} See {@linkcode permutationTest}.
 * @throws {RangeError} See {@linkcode permutationTest}.
 */
export function planPermutationTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: PermutationTestOptions,
): ResamplePlan<PermutationTestResult> {
  const diffs = _differences(a, b, "permutation test", options.missing);
  const { resamples, seed } = options;
  _checkRun("permutation test", resamples, seed);
  const n = diffs.length;
  const exactOpt = options.exact ?? "auto";
  const exact = exactOpt === "auto" ? n <= 24 && 2 ** n <= resamples : exactOpt;
  if (exact && n > 24) {
    throw new RangeError(`Cannot enumerate sign flips: n is ${n}, at most 24 allowed`);
  }
  const stat = options.statistic ?? "mean";
  const fn = typeof stat === "function" ? stat : undefined;
  const named: LocationStatistic = fn ? "mean" : stat as LocationStatistic;
  const estimate = fn ? fn(diffs.slice()) : locationStatistic(named, diffs.slice());
  const total = exact ? 2 ** n : resamples;
  const summarise = (reps: Float64Array): PermutationTestResult => {
    const extreme = _countExtreme(reps, estimate, (v) => v);
    const p = exact ? extreme / total : _pValue(extreme, total, estimate);
    return { estimate, p: Math.min(1, p), n, resamples: total, exact };
  };
  return {
    job: { kind: "signFlip", diffs, seed, statistic: named, exact },
    total,
    statistic: fn,
    summarise,
  };
}

/**
 * Validate the inputs of {@linkcode aucBootstrap} and build its plan.
 *
 * @param scores Score per case.
 * @param positive Class per case.
 * @param options Options of {@linkcode aucBootstrap}.
 * @returns The plan.
 * @throws {TypeError} See {@linkcode aucBootstrap}.
 * @throws {RangeError} See {@linkcode aucBootstrap}.
 */
export function planAucBootstrap(
  scores: ArrayLike<number>,
  positive: ArrayLike<boolean>,
  options: AucBootstrapOptions,
): ResamplePlan<AucBootstrapResult> {
  const { pos, neg } = splitByClass(scores, positive);
  const { resamples, seed } = options;
  _checkRun("AUC bootstrap", resamples, seed);
  const level = _checkLevel("AUC bootstrap", options.level ?? 0.95);
  const estimate = aucFromSamples(pos, neg);
  return {
    job: { kind: "aucBootstrap", pos, neg, seed },
    total: resamples,
    summarise: (reps) => {
      const sorted = reps.slice().sort();
      const lo = (1 - level) / 2;
      return { estimate, ci: [quantile(sorted, lo), quantile(sorted, 1 - lo)], resamples };
    },
  };
}

/**
 * Quantile of sorted values by linear interpolation (Hyndman & Fan type 7, R's default).
 *
 * @param sorted Ascending values.
 * @param q Probability in [0, 1].
 * @returns The quantile (NaN for an empty array).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantile } from "./bootstrap.ts";
 * assert(quantile(new Float64Array([1, 2, 3, 4]), 0.5) === 2.5);
 * ```
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const i = Math.floor(h);
  if (i >= n - 1) return sorted[n - 1];
  const x0 = sorted[i], x1 = sorted[i + 1];
  // Infinite studentized replicates: avoid Inf − Inf.
  return x0 === x1 ? x0 : x0 + (h - i) * (x1 - x0);
}

function _countExtreme(
  reps: Float64Array,
  observed: number,
  centre: (v: number) => number,
): number {
  const bound = Math.abs(observed) * (1 - TIE_RTOL);
  let count = 0;
  for (let i = 0; i < reps.length; i++) if (Math.abs(centre(reps[i])) >= bound) count++;
  return count;
}

function _pValue(extreme: number, resamples: number, observed: number): number {
  // An observed 0 is never evidence against H0 (all replicates count as extreme).
  if (observed === 0) return 1;
  return Math.min(1, (1 + extreme) / (resamples + 1));
}

function _differences(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  what: string,
  missing: MissingPairs = "error",
): Float64Array {
  if (a.length !== b.length) {
    throw new TypeError(`Cannot run ${what}: a has ${a.length} values, b has ${b.length}`);
  }
  if (missing !== "error" && missing !== "omit") {
    throw new RangeError(`Cannot run ${what}: missing is "${missing}"`);
  }
  if (a.length < 2) throw new RangeError(`Cannot run ${what}: ${a.length} pair(s), need 2`);
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    // null would subtract as 0: it is undefined, like NaN.
    if (_undefined(x) || _undefined(y)) {
      if (missing === "omit") continue;
      throw new RangeError(`Cannot run ${what}: pair ${i} is (${x}, ${y})`);
    }
    const v = x - y;
    if (!Number.isFinite(v)) throw new RangeError(`Cannot run ${what}: pair ${i} is (${x}, ${y})`);
    d.push(v);
  }
  if (d.length < 2) {
    const omitted = a.length - d.length;
    throw new RangeError(
      `Cannot run ${what}: ${d.length} pair(s), need 2${
        omitted > 0 ? ` (${omitted} left out as undefined)` : ""
      }`,
    );
  }
  return Float64Array.from(d);
}

function _undefined(v: number | null | undefined): boolean {
  return v === null || Number.isNaN(v);
}

function _checkRun(what: string, resamples: number, seed: number): void {
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`Cannot run ${what}: resamples is ${resamples}`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`Cannot run ${what}: seed is ${seed}`);
}

function _checkLevel(what: string, level: number): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`Cannot run ${what}: level is ${level}`);
  return level;
}
