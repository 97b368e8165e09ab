/**
 * The resampling core shared by the in-process statistics and the bootstrap worker: a job
 * computes the replicates of resample indices [start, end). Resample b draws from its own
 * stream `new Rng(seed, b)`, so the replicates — and every result built from them — do not
 * depend on how the indices are split across workers.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";

/** A named location statistic of the paired differences (named ones can run in workers). */
export type LocationStatistic = "mean" | "median";

/**
 * How the paired bootstrap turns replicates into a p-value and interval:
 * `"centred"` (replicates of the statistic, centred at the estimate; percentile interval) or
 * `"studentized"` (bootstrap-t of the mean; bootstrap-t interval).
 */
export type BootstrapMethod = "centred" | "studentized";

/** Fields shared by every job. */
interface _RangeFields {
  /** Master seed; resample b uses `new Rng(seed, b)`. */
  seed: number;
  /** First resample index (inclusive). */
  start: number;
  /** Last resample index (exclusive). */
  end: number;
}

/** Replicates of a paired bootstrap of the differences `diffs` (a − b). */
export interface PairedBootstrapJob extends _RangeFields {
  /** Job kind. */
  kind: "pairedBootstrap";
  /** Paired differences aᵢ − bᵢ. */
  diffs: Float64Array;
  /** Statistic of the differences. */
  statistic: LocationStatistic;
  /** `"centred"`: replicate θ*; `"studentized"`: replicate (mean* − mean)/se*. */
  method: BootstrapMethod;
}

/** Replicates of a sign-flip permutation test of the differences. */
export interface SignFlipJob extends _RangeFields {
  /** Job kind. */
  kind: "signFlip";
  /** Paired differences aᵢ − bᵢ. */
  diffs: Float64Array;
  /** Statistic of the sign-flipped differences. */
  statistic: LocationStatistic;
  /** Enumerate all 2ⁿ sign vectors: index b's bits are the signs (no randomness). */
  exact: boolean;
}

/** Replicates of a stratified bootstrap of the AUC. */
export interface AucBootstrapJob extends _RangeFields {
  /** Job kind. */
  kind: "aucBootstrap";
  /** Scores of the positive cases. */
  pos: Float64Array;
  /** Scores of the negative cases. */
  neg: Float64Array;
}

/** A job for {@linkcode resampleRange}, structured-cloneable (sent to the bootstrap worker). */
export type ResampleJob = PairedBootstrapJob | SignFlipJob | AucBootstrapJob;

/** A job without its range: what a test plans before the indices are split. */
export type ResampleTemplate =
  | Omit<PairedBootstrapJob, "start" | "end">
  | Omit<SignFlipJob, "start" | "end">
  | Omit<AucBootstrapJob, "start" | "end">;

/** A custom statistic of a sample (in-process only: functions cannot be sent to workers). */
export type StatisticFn = (values: Float64Array) => number;

/**
 * Evaluate a named location statistic.
 *
 * @param name `"mean"` or `"median"`.
 * @param values The sample (the median sorts it in place).
 * @returns The statistic.
 * @throws {RangeError} When the name is unknown.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { locationStatistic } from "./resampling.ts";
 * assert(locationStatistic("median", new Float64Array([3, 1, 2, 10])) === 2.5);
 * ```
 */
export function locationStatistic(name: LocationStatistic, values: Float64Array): number {
  const n = values.length;
  if (name === "mean") {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[i];
    return s / n;
  }
  if (name === "median") {
    values.sort();
    const h = n >> 1;
    return n % 2 === 1 ? values[h] : (values[h - 1] + values[h]) / 2;
  }
  throw new RangeError(`Cannot compute statistic: unknown statistic "${name}"`);
}

/**
 * Compute the replicates of resample indices [job.start, job.end).
 *
 * @param job The job.
 * @param statistic Custom statistic replacing `job.statistic` (in-process only).
 * @returns One replicate per index, in index order.
 * @throws {RangeError} When the range or the job kind is invalid.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resampleRange } from "./resampling.ts";
 * const diffs = new Float64Array([0.1, -0.2, 0.3]);
 * const job = { kind: "pairedBootstrap", diffs, seed: 1, statistic: "mean", method: "centred" } as const;
 * const all = resampleRange({ ...job, start: 0, end: 10 });
 * const tail = resampleRange({ ...job, start: 6, end: 10 });
 * assert(tail.every((v, i) => v === all[6 + i]));
 * ```
 */
export function resampleRange(job: ResampleJob, statistic?: StatisticFn): Float64Array {
  const { start, end } = job;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
    throw new RangeError(`Cannot resample: range is [${start}, ${end})`);
  }
  const out = new Float64Array(end - start);
  switch (job.kind) {
    case "pairedBootstrap":
      _pairedBootstrap(job, statistic, out);
      break;
    case "signFlip":
      _signFlip(job, statistic, out);
      break;
    case "aucBootstrap":
      _aucBootstrap(job, out);
      break;
    default:
      throw new RangeError(
        `Cannot resample: unknown job kind "${(job as { kind: string }).kind}"`,
      );
  }
  return out;
}

/**
 * Mean and standard error s/√n (s with the n − 1 denominator) of a sample.
 *
 * @param values The sample.
 * @returns The mean and the standard error (0 when n < 2).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanAndSe } from "./resampling.ts";
 * assert(meanAndSe([1, 3]).se === 1);
 * ```
 */
export function meanAndSe(values: ArrayLike<number>): { mean: number; se: number } {
  const n = values.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, se: n > 1 ? Math.sqrt(ss / (n - 1) / n) : 0 };
}

function _pairedBootstrap(job: PairedBootstrapJob, fn: StatisticFn | undefined, out: Float64Array) {
  const d = job.diffs, n = d.length;
  const scratch = new Float64Array(n);
  if (job.method === "studentized") {
    // Bootstrap-t: T* = (mean* − mean) / se*, with se* from the resample itself.
    const { mean } = meanAndSe(d);
    for (let b = job.start; b < job.end; b++) {
      const rng = new Rng(job.seed, b);
      for (let i = 0; i < n; i++) scratch[i] = d[rng.int(n)];
      const r = meanAndSe(scratch);
      const dev = r.mean - mean;
      out[b - job.start] = r.se > 0 ? dev / r.se : dev === 0 ? 0 : Math.sign(dev) * Infinity;
    }
    return;
  }
  const named = fn ? undefined : job.statistic;
  for (let b = job.start; b < job.end; b++) {
    const rng = new Rng(job.seed, b);
    if (named === "mean") {
      let s = 0;
      for (let i = 0; i < n; i++) s += d[rng.int(n)];
      out[b - job.start] = s / n;
    } else {
      for (let i = 0; i < n; i++) scratch[i] = d[rng.int(n)];
      out[b - job.start] = fn ? fn(scratch) : locationStatistic(named!, scratch);
    }
  }
}

function _signFlip(job: SignFlipJob, fn: StatisticFn | undefined, out: Float64Array) {
  const d = job.diffs, n = d.length;
  if (job.exact && n > 30) throw new RangeError(`Cannot enumerate sign flips: n is ${n} (> 30)`);
  const scratch = new Float64Array(n);
  const named = fn ? undefined : job.statistic;
  for (let b = job.start; b < job.end; b++) {
    let bits = 0, left = 0;
    const rng = job.exact ? undefined : new Rng(job.seed, b);
    let s = 0;
    for (let i = 0; i < n; i++) {
      let negative: boolean;
      if (rng) {
        if (left === 0) {
          bits = rng.nextU32();
          left = 32;
        }
        negative = (bits & 1) === 1;
        bits >>>= 1;
        left--;
      } else {
        negative = Math.floor(b / 2 ** i) % 2 === 1;
      }
      const v = negative ? -d[i] : d[i];
      if (named === "mean") s += v;
      else scratch[i] = v;
    }
    out[b - job.start] = named === "mean"
      ? s / n
      : fn
      ? fn(scratch)
      : locationStatistic(named!, scratch);
  }
}

function _aucBootstrap(job: AucBootstrapJob, out: Float64Array) {
  const { pos, neg } = job;
  const np = pos.length, nn = neg.length;
  const p = new Float64Array(np), q = new Float64Array(nn);
  for (let b = job.start; b < job.end; b++) {
    // Stratified: positives and negatives are resampled separately, keeping n⁺ and n⁻.
    const rng = new Rng(job.seed, b);
    for (let i = 0; i < np; i++) p[i] = pos[rng.int(np)];
    for (let i = 0; i < nn; i++) q[i] = neg[rng.int(nn)];
    p.sort();
    q.sort();
    let wins = 0, lo = 0, hi = 0;
    for (let i = 0; i < np; i++) {
      const x = p[i];
      while (lo < nn && q[lo] < x) lo++;
      if (hi < lo) hi = lo;
      while (hi < nn && q[hi] <= x) hi++;
      wins += lo + 0.5 * (hi - lo);
    }
    out[b - job.start] = wins / (np * nn);
  }
}
