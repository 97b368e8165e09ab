/**
 * The bootstrap and permutation tests in a pool of Web Workers (`workers/bootstrap_worker.ts`):
 * the resample indices [0, B) of each test are split into one contiguous range per worker,
 * and the replicates are put back in index order before the same summary as in process, so
 * results are bit-identical to {@linkcode pairedBootstrap} and friends for any pool size.
 *
 * @module
 */

import { defaultPoolSize, WorkerPool } from "../pool/worker_pool.ts";
import {
  type AucBootstrapOptions,
  type AucBootstrapResult,
  type PairedBootstrapOptions,
  type PairedBootstrapResult,
  type PermutationTestOptions,
  type PermutationTestResult,
  planAucBootstrap,
  planPairedBootstrap,
  planPermutationTest,
  type ResamplePlan,
} from "./bootstrap.ts";
import type { ResampleJob } from "./resampling.ts";

const WORKER_URL = new URL("../../workers/bootstrap_worker.ts", import.meta.url);

/** Options of {@linkcode BootstrapPool}. */
export interface BootstrapPoolOptions {
  /**
   * Number of workers.
   * @default navigator.hardwareConcurrency
   */
  size?: number;
}

/** A pool of bootstrap workers. Close it (or use `await using`) when done. */
export class BootstrapPool {
  #pool: WorkerPool<ResampleJob, { replicates: Float64Array }>;

  /**
   * Start the workers.
   *
   * @param options Pool size.
   * @throws {RangeError} When the size is not a positive integer.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BootstrapPool } from "./bootstrap_pool.ts";
   * await using pool = new BootstrapPool({ size: 2 });
   * const r = await pool.pairedBootstrap([1, 2, 3, 4], [0, 1, 1, 2], { resamples: 200, seed: 1 });
   * assert(r.estimate === 1.5);
   * ```
   */
  constructor(options: BootstrapPoolOptions = {}) {
    this.#pool = new WorkerPool(WORKER_URL, {
      size: options.size ?? defaultPoolSize(),
      name: "bootstrap",
    });
  }

  /** Number of workers. */
  get size(): number {
    return this.#pool.size;
  }

  /**
   * {@linkcode pairedBootstrap} in the workers (named statistics only).
   *
   * @param a First condition.
   * @param b Second condition, same cases in the same order.
   * @param options Resamples, seed, statistic, method and level.
   * @returns The same result as the in-process version.
   * @throws {TypeError} When `statistic` is a function, or see {@linkcode pairedBootstrap}.
   * @throws {RangeError} See {@linkcode pairedBootstrap}.
   */
  async pairedBootstrap(
    a: ArrayLike<number>,
    b: ArrayLike<number>,
    options: PairedBootstrapOptions,
  ): Promise<PairedBootstrapResult> {
    return await this.#run(planPairedBootstrap(a, b, options));
  }

  /**
   * {@linkcode permutationTest} in the workers (named statistics only).
   *
   * @param a First condition.
   * @param b Second condition.
   * @param options Resamples, seed, statistic and exactness.
   * @returns The same result as the in-process version.
   * @throws {TypeError} When `statistic` is a function, or see {@linkcode permutationTest}.
   * @throws {RangeError} See {@linkcode permutationTest}.
   */
  async permutationTest(
    a: ArrayLike<number>,
    b: ArrayLike<number>,
    options: PermutationTestOptions,
  ): Promise<PermutationTestResult> {
    return await this.#run(planPermutationTest(a, b, options));
  }

  /**
   * {@linkcode aucBootstrap} in the workers.
   *
   * @param scores Score per case.
   * @param positive Class per case.
   * @param options Resamples, seed and level.
   * @returns The same result as the in-process version.
   * @throws {TypeError} See {@linkcode aucBootstrap}.
   * @throws {RangeError} See {@linkcode aucBootstrap}.
   */
  async aucBootstrap(
    scores: ArrayLike<number>,
    positive: ArrayLike<boolean>,
    options: AucBootstrapOptions,
  ): Promise<AucBootstrapResult> {
    return await this.#run(planAucBootstrap(scores, positive, options));
  }

  /**
   * Close the workers (running jobs finish first).
   *
   * @returns Resolves when every worker has closed.
   */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Close the workers at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run<R>(plan: ResamplePlan<R>): Promise<R> {
    if (plan.statistic) {
      throw new TypeError(
        "Cannot run a custom statistic in the bootstrap pool: functions cannot be sent to workers; use the in-process function",
      );
    }
    const chunks = Math.max(1, Math.min(this.size, plan.total));
    const step = Math.ceil(plan.total / chunks);
    const replicates = new Float64Array(plan.total);
    const parts: Promise<void>[] = [];
    for (let start = 0; start < plan.total; start += step) {
      const end = Math.min(plan.total, start + step);
      const job = { ...plan.job, start, end } as ResampleJob;
      parts.push(this.#pool.run(job).then((r) => replicates.set(r.replicates, start)));
    }
    await Promise.all(parts);
    return plan.summarise(replicates);
  }
}
