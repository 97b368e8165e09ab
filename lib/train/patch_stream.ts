/**
 * The trainer's data feed: batches of augmented training patches built by the patch workers
 * of a {@linkcode CaseStore}, requested ahead through a bounded window (prefetch with
 * backpressure) and served strictly in step order. Batch s holds the global samples
 * `g = s·B + j`; the {@linkcode SampleSchedule} picks each sample's case and
 * `new Rng(seed, g)` its patch and augmentation, so the stream is bit-identical for any
 * worker count, timing or resume point.
 *
 * @module
 */

import type { AugmentOptions } from "../data/augment.ts";
import type { Labeling, TargetOptions } from "../data/labeling.ts";
import type { Vec3 } from "../data/types.ts";
import type { BatchJob, BatchResult } from "./build_batch.ts";
import type { CaseStore } from "./case_store.ts";
import type { PatchJob } from "./patch_jobs.ts";
import { SampleSchedule } from "./sampling.ts";

/** A batch of training patches, as {@linkcode PatchStream.next} serves it. */
export type PatchBatch = BatchResult;

/** Options of {@linkcode PatchStream}. */
export interface PatchStreamOptions {
  /** Store indices of the training cases (the schedule's case k is `cases[k]`). */
  cases: readonly number[];
  /** Seed of the run (patches use `new Rng(seed, g)`). */
  seed: number;
  /** Patch size `[d, h, w]`. */
  patchSize: Vec3;
  /** Patches per batch B. */
  batchSize: number;
  /**
   * Loss target encoding and class count (K = 1 for binary, `classes` for one-hot, one map per
   * region of `regions`).
   */
  target: TargetOptions;
  /** Training labeling, applied in the workers. @default { kind: "full" } */
  labeling?: Labeling;
  /**
   * Which training case each global sample uses.
   * @default new SampleSchedule(cases.length, { seed }) (one permutation per epoch)
   */
  schedule?: SampleSchedule;
  /** Augmentation, or `false` for none. @default {} (the `DEFAULT_AUGMENTATION`) */
  augmentation?: AugmentOptions | false;
  /** Margin around patches before augmentation (see `BatchJob`). @default "auto" */
  augmentMargin?: Vec3 | "auto";
  /** Probability that a patch is centred on foreground. @default 0.5 */
  foregroundProbability?: number;
  /** Label values that count as foreground. @default every value > 0 */
  foregroundClasses?: readonly number[];
  /**
   * Batches requested ahead of the consumer (including the one it waits for); also the most
   * batch jobs ever in the pool for this stream.
   * @default 2 × pool size
   */
  prefetch?: number;
  /** First step served. @default 0 */
  startStep?: number;
}

/** Counters of a {@linkcode PatchStream}. */
export interface PatchStreamStats {
  /** Batches served by `next()`. */
  batches: number;
  /**
   * Milliseconds during which at least one caller was waiting inside `next()` (overlapping
   * calls count once; a wait in progress counts up to now).
   */
  waitMs: number;
  /** Milliseconds since the first `next()` (0 before it). */
  elapsedMs: number;
  /** `waitMs / elapsedMs` (0 before the first `next()`): the data-wait fraction. */
  waitFraction: number;
  /** Batch jobs of this stream in the pool now (requested, not settled). */
  inFlight: number;
  /** Largest `inFlight` seen. */
  maxInFlight: number;
  /** Batch jobs requested in total (including ones discarded by `seek`). */
  requested: number;
}

interface _Slot {
  promise: Promise<PatchBatch>;
  settled: boolean;
}

/** An ordered, prefetching stream of training batches. Close it when done. */
export class PatchStream {
  #store: CaseStore;
  #o: Required<Omit<PatchStreamOptions, "labeling" | "foregroundClasses" | "startStep">> & {
    labeling: Labeling;
    foregroundClasses?: readonly number[];
  };
  /** Next step `next()` serves. */
  #step: number;
  /** Next step to request. */
  #ahead: number;
  /** Requested, unconsumed steps of the current window. */
  #window = new Map<number, _Slot>();
  /** Jobs in the pool (current window and discarded ones). */
  #inFlight = 0;
  /** Jobs discarded by seek/close that are still in the pool. */
  #discarded = 0;
  /** Every job still in the pool, for close(). */
  #pending = new Set<Promise<unknown>>();
  #maxInFlight = 0;
  #requested = 0;
  #served = 0;
  #waitMs = 0;
  #firstAt: number | undefined;
  #closed = false;
  /** next() calls in progress, and when the first of them started waiting. */
  #waiters = 0;
  #waitStart = 0;
  /** Number of seek() calls, to fail next() calls that waited across one. */
  #seeks = 0;
  #idle: (() => void)[] = [];

  /**
   * Create the stream and start prefetching at `startStep`.
   *
   * @param store The cases (registered with the pool that builds the batches).
   * @param options Cases, seed, patch and batch size, target, labeling, schedule,
   *   augmentation and prefetch depth.
   * @throws {RangeError} When there are no training cases, an index is outside the store,
   *   the batch size, prefetch or start step is not a positive (or, for the start step,
   *   non-negative) integer, or the schedule's case count differs from `cases.length`.
   * @throws {TypeError} When a one-hot target has no class count.
   * @throws {Error} When the store is closed.
   * @example
   * ```ts ignore
   * const stream = new PatchStream(store, {
   *   cases: [0, 1, 2], seed: 1, patchSize: [16, 32, 32], batchSize: 2,
   *   target: { encoding: "binary" }, labeling: LABELINGS.bratsPartial,
   * });
   * const batch = await stream.next(); // step 0: image [2, 4, 16, 32, 32], target [2, 1, 16, 32, 32]
   * await stream.close();
   * ```
   */
  constructor(store: CaseStore, options: PatchStreamOptions) {
    if (store.closed) {
      throw new Error(`Cannot create patch stream: case store ${store.id} is closed`);
    }
    const cases = [...options.cases];
    if (cases.length === 0) throw new RangeError("Cannot create patch stream: no training cases");
    for (const i of cases) {
      if (!Number.isInteger(i) || i < 0 || i >= store.size) {
        throw new RangeError(
          `Cannot create patch stream: case index ${i} outside the store's [0, ${store.size})`,
        );
      }
    }
    _positiveInt("batchSize", options.batchSize);
    const prefetch = options.prefetch ?? 2 * store.pool.size;
    _positiveInt("prefetch", prefetch);
    const start = options.startStep ?? 0;
    if (!Number.isInteger(start) || start < 0) {
      throw new RangeError(`Cannot create patch stream: startStep is ${start}`);
    }
    if (options.target.encoding === "oneHot" && !(options.target.classes! >= 1)) {
      throw new TypeError("Cannot create patch stream: a one-hot target needs target.classes");
    }
    if (options.target.encoding === "regions" && !(options.target.regions?.length! >= 1)) {
      throw new TypeError("Cannot create patch stream: a region target needs target.regions");
    }
    const schedule = options.schedule ?? new SampleSchedule(cases.length, { seed: options.seed });
    if (schedule.cases !== cases.length) {
      throw new RangeError(
        `Cannot create patch stream: the schedule has ${schedule.cases} cases, ` +
          `options.cases ${cases.length}`,
      );
    }
    this.#store = store;
    this.#o = {
      cases,
      seed: options.seed,
      patchSize: [...options.patchSize],
      batchSize: options.batchSize,
      target: { ...options.target },
      labeling: options.labeling ?? { kind: "full" },
      schedule,
      augmentation: options.augmentation ?? {},
      augmentMargin: options.augmentMargin ?? "auto",
      foregroundProbability: options.foregroundProbability ?? 0.5,
      foregroundClasses: options.foregroundClasses,
      prefetch,
    };
    this.#step = start;
    this.#ahead = start;
    this.#pump();
  }

  /** Step that the next call of {@linkcode PatchStream.next} serves. */
  get step(): number {
    return this.#step;
  }

  /** Prefetch depth. */
  get prefetch(): number {
    return this.#o.prefetch;
  }

  /** Counters (a snapshot). */
  get stats(): PatchStreamStats {
    const now = performance.now();
    const elapsedMs = this.#firstAt === undefined ? 0 : now - this.#firstAt;
    const waitMs = this.#waitMs + (this.#waiters > 0 ? now - this.#waitStart : 0);
    return {
      batches: this.#served,
      waitMs,
      elapsedMs,
      waitFraction: elapsedMs > 0 ? waitMs / elapsedMs : 0,
      inFlight: this.#inFlight,
      maxInFlight: this.#maxInFlight,
      requested: this.#requested,
    };
  }

  /**
   * Reset the served/wait counters and the clock (e.g. after warm-up); the clock restarts
   * at the next `next()`.
   */
  resetStats(): void {
    this.#served = 0;
    this.#waitMs = 0;
    // A call waiting right now keeps the clock running from here.
    const now = performance.now();
    this.#waitStart = now;
    this.#firstAt = this.#waiters > 0 ? now : undefined;
  }

  /**
   * The global sample indices and store case indices of a step's batch.
   *
   * @param step The step.
   * @returns `samples[j] = step·B + j` and their store indices.
   */
  plan(step: number): { samples: number[]; cases: number[] } {
    const B = this.#o.batchSize;
    const samples = Array.from({ length: B }, (_, j) => step * B + j);
    return { samples, cases: samples.map((g) => this.#o.cases[this.#o.schedule.caseOf(g)]) };
  }

  /**
   * The batch of the next step (0, 1, 2, … from the start step), in order. Calls may
   * overlap; each gets its own step.
   *
   * @returns The batch; its arrays are owned by the caller.
   * @throws {Error} The worker's error for this step (e.g. the store was closed), or when the
   *   stream is closed, or when `seek` was called while this call waited for window space
   *   (a call whose batch was already requested still gets it).
   */
  async next(): Promise<PatchBatch> {
    if (this.#closed) throw new Error("Cannot get next batch: patch stream is closed");
    const t0 = performance.now();
    this.#firstAt ??= t0;
    // Wait time is wall-clock time with at least one caller blocked (overlapping calls
    // count once), so it never exceeds the elapsed time.
    if (this.#waiters++ === 0) this.#waitStart = t0;
    const step = this.#step++;
    const seeks = this.#seeks;
    let slot: _Slot | undefined;
    try {
      // Requests up to step + prefetch − 1, as far as the in-flight bound allows.
      this.#pump();
      slot = this.#window.get(step);
      while (!slot) {
        // The window is full (overlapping next() calls, or jobs discarded by seek still in
        // the pool): wait until a request is made.
        await new Promise<void>((resolve) => this.#idle.push(resolve));
        if (this.#closed) throw new Error("Cannot get next batch: patch stream is closed");
        if (this.#seeks !== seeks) {
          throw new Error(
            `Cannot get batch ${step}: seek() moved the stream while this call waited`,
          );
        }
        slot = this.#window.get(step);
      }
      const batch = await slot.promise;
      this.#served++;
      return batch;
    } finally {
      // A seek back may already have requested this step again: leave that slot alone.
      if (slot && this.#window.get(step) === slot) this.#window.delete(step);
      if (--this.#waiters === 0) this.#waitMs += performance.now() - this.#waitStart;
      this.#pump();
    }
  }

  /**
   * Restart the stream at `step` (for resume): batches already requested are discarded,
   * and the stream serves exactly what an uninterrupted stream serves from that step on.
   *
   * @param step The next step to serve.
   * @throws {RangeError} When the step is not a non-negative integer.
   */
  seek(step: number): void {
    if (!Number.isInteger(step) || step < 0) {
      throw new RangeError(`Cannot seek patch stream: step is ${step}`);
    }
    this.#discard();
    this.#seeks++;
    this.#step = step;
    this.#ahead = step;
    this.#pump();
    // next() calls still waiting for window space belonged to the old position.
    for (const wake of this.#idle.splice(0)) wake();
  }

  /** Empties the window; unsettled jobs keep counting against the bound until they settle. */
  #discard(): void {
    for (const slot of this.#window.values()) if (!slot.settled) this.#discarded++;
    this.#window.clear();
  }

  #pump(): void {
    if (this.#closed) return;
    const limit = this.#step + this.#o.prefetch;
    // Held results and jobs in the pool (current or discarded) never exceed the prefetch
    // depth: that bounds both the pool queue and the memory of finished batches.
    while (this.#ahead < limit && this.#window.size + this.#discarded < this.#o.prefetch) {
      this.#request(this.#ahead++);
    }
  }

  #request(step: number): void {
    const { samples, cases } = this.plan(step);
    const o = this.#o;
    const job: BatchJob = {
      step,
      samples,
      cases,
      seed: o.seed,
      patchSize: o.patchSize,
      labeling: o.labeling,
      target: o.target,
      augmentation: o.augmentation,
      augmentMargin: o.augmentMargin,
      foregroundProbability: o.foregroundProbability,
      foregroundClasses: o.foregroundClasses ? [...o.foregroundClasses] : undefined,
    };
    const payload: PatchJob = { kind: "batch", storeId: this.#store.id, job };
    this.#inFlight++;
    this.#requested++;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    const slot: _Slot = {
      promise: this.#store.pool.run(payload).then((r) => {
        if (r.kind !== "batch") throw new Error(`Cannot get batch ${step}: reply ${r.kind}`);
        return r.batch;
      }),
      settled: false,
    };
    this.#window.set(step, slot);
    const settle = () => {
      this.#inFlight--;
      this.#pending.delete(done);
      if (this.#window.get(step) === slot) slot.settled = true;
      else this.#discarded--;
      this.#pump();
    };
    // Errors reach the caller through next(); this only keeps the books.
    const done = slot.promise.then(settle, settle);
    this.#pending.add(done);
    for (const wake of this.#idle.splice(0)) wake();
  }

  /**
   * Stop requesting batches and wait until this stream's jobs have left the pool (so the
   * pool or store can be closed next). Pending `next()` calls for unrequested steps reject.
   *
   * @returns Resolves when nothing of this stream is in flight.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#discard();
    for (const wake of this.#idle.splice(0)) wake();
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** `await using stream = new PatchStream(...)` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function _positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`Cannot create patch stream: ${name} is ${v}`);
  }
}

/**
 * First Rng stream of validation patches: case i uses stream `VALIDATION_STREAM + i`, apart
 * from every training sample stream `g < 2^40`.
 */
export const VALIDATION_STREAM = 2 ** 40;

/** Options of {@linkcode validationBatches}. */
export interface ValidationBatchOptions {
  /** Seed of the run. */
  seed: number;
  /** Patch size `[d, h, w]`. */
  patchSize: Vec3;
  /** Patches per batch (the last batch may be smaller). */
  batchSize: number;
  /** Loss target encoding and class count. */
  target: TargetOptions;
  /** Labeling of the validation targets. @default { kind: "full" } */
  labeling?: Labeling;
  /** Probability that a patch is centred on foreground. @default 1 */
  foregroundProbability?: number;
  /** Label values that count as foreground. @default every value > 0 */
  foregroundClasses?: readonly number[];
}

/**
 * A fixed, deterministic set of un-augmented validation patches: one per case, centred on a
 * foreground voxel (by default), drawn from `new Rng(seed, VALIDATION_STREAM + i)` for store
 * index i, so a case gets the same patch in every fold and job with the same seed. Built in
 * the store's workers, one job per batch.
 *
 * @param store The cases.
 * @param caseIndices Store indices of the validation cases, in batch order.
 * @param options Seed, patch and batch size, target and labeling.
 * @returns Batches of `batchSize` patches (`step` = batch number), in order.
 * @throws {RangeError} When an index is outside the store or the batch size is not a
 *   positive integer.
 * @throws {Error} When the store is closed, or a worker's error.
 * @example
 * ```ts ignore
 * const val = await validationBatches(store, [3, 4], {
 *   seed: 1, patchSize: [16, 32, 32], batchSize: 2, target: { encoding: "binary" },
 * });
 * console.log(val.length, val[0].imageShape); // 1 [2, 4, 16, 32, 32]
 * ```
 */
export function validationBatches(
  store: CaseStore,
  caseIndices: readonly number[],
  options: ValidationBatchOptions,
): Promise<PatchBatch[]> {
  const B = options.batchSize;
  if (!Number.isInteger(B) || B < 1) {
    return Promise.reject(new RangeError(`Cannot build validation batches: batchSize is ${B}`));
  }
  if (store.closed) {
    return Promise.reject(
      new Error(`Cannot build validation batches: case store ${store.id} is closed`),
    );
  }
  for (const i of caseIndices) {
    if (!Number.isInteger(i) || i < 0 || i >= store.size) {
      return Promise.reject(
        new RangeError(
          `Cannot build validation batches: case index ${i} outside the store's [0, ${store.size})`,
        ),
      );
    }
  }
  const jobs: Promise<PatchBatch>[] = [];
  for (let start = 0, step = 0; start < caseIndices.length; start += B, step++) {
    const cases = caseIndices.slice(start, start + B);
    const job: BatchJob = {
      step,
      samples: cases.map((i) => VALIDATION_STREAM + i),
      cases,
      seed: options.seed,
      patchSize: [...options.patchSize],
      labeling: options.labeling ?? { kind: "full" },
      target: { ...options.target },
      augmentation: false,
      foregroundProbability: options.foregroundProbability ?? 1,
      foregroundClasses: options.foregroundClasses ? [...options.foregroundClasses] : undefined,
    };
    jobs.push(
      store.pool.run({ kind: "batch", storeId: store.id, job }).then((r) => {
        if (r.kind !== "batch") throw new Error(`Cannot get validation batch: reply ${r.kind}`);
        return r.batch;
      }),
    );
  }
  return Promise.all(jobs);
}
