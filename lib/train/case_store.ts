/**
 * The preprocessed cases of a run, loaded once in a pool of patch workers and shared with
 * every worker and the main thread through `SharedArrayBuffer`s: the workers sample training
 * patches from them ({@linkcode PatchStream}), the main thread evaluates on them. One store
 * serves every training job of a process that uses the same cases and preprocessing.
 *
 * @module
 */

import { defaultPoolSize, WorkerPool } from "../pool/worker_pool.ts";
import type { PreprocessingOptions } from "../data/preprocess.ts";
import type { CaseRecord, LoadedCase } from "../data/types.ts";
import type { JobBarrier, PatchJob, PatchJobResult } from "./patch_jobs.ts";

/** A pool of patch workers (`workers/patch_worker.ts`). */
export type PatchPool = WorkerPool<PatchJob, PatchJobResult>;

const PATCH_WORKER_URL = new URL("../../workers/patch_worker.ts", import.meta.url);

/** Options of {@linkcode createPatchPool}. */
export interface PatchPoolOptions {
  /**
   * Number of workers.
   * @default navigator.hardwareConcurrency
   */
  size?: number;
}

/**
 * Start a pool of patch workers. Close it with `await pool.close()` after the stores and
 * streams that use it.
 *
 * @param options Pool size.
 * @returns The pool.
 * @throws {RangeError} When the size is not a positive integer.
 * @example
 * ```ts
 * import { createPatchPool } from "./case_store.ts";
 * const pool = createPatchPool({ size: 1 });
 * await pool.close();
 * ```
 */
export function createPatchPool(options: PatchPoolOptions = {}): PatchPool {
  return new WorkerPool<PatchJob, PatchJobResult>(PATCH_WORKER_URL, {
    size: options.size ?? defaultPoolSize(),
    name: "patch",
  });
}

/** Options of {@linkcode CaseStore.load}. */
export interface CaseStoreOptions {
  /**
   * Milliseconds each worker waits for the others while registering the cases (they join
   * as soon as they finish their current job).
   * @default 120000
   */
  registerTimeoutMs?: number;
}

let _nextStore = 0;

/** Preprocessed cases in shared memory, registered with every worker of a patch pool. */
export class CaseStore {
  /** Id of the store in the workers' registries. */
  readonly id: string;
  #pool: PatchPool;
  #records: readonly CaseRecord[];
  #cases: LoadedCase[];
  #timeoutMs: number;
  #closed = false;

  private constructor(
    pool: PatchPool,
    records: readonly CaseRecord[],
    cases: LoadedCase[],
    timeoutMs: number,
  ) {
    this.id = `store-${Deno.pid}-${++_nextStore}`;
    this.#pool = pool;
    this.#records = records;
    this.#cases = cases;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Load and preprocess the cases in the pool's workers (one job per case, in parallel),
   * keeping images and labels in SharedArrayBuffers, then register them with every worker.
   *
   * @param pool A pool of patch workers ({@linkcode createPatchPool}).
   * @param records The cases, in store index order.
   * @param preprocessing Preprocessing of every case.
   * @param options Registration timeout.
   * @returns The store (case i is `records[i]`).
   * @throws {Error} The first failing case's error, in record order (a missing file names its
   *   path); every load has settled by then.
   * @throws {Error} When registration times out or the pool is closed.
   * @example
   * ```ts ignore
   * const pool = createPatchPool({ size: 2 });
   * const store = await CaseStore.load(pool, await listBrats(root), PHANTOM_PREPROCESSING.brats);
   * console.log(store.size, store.get(0).shape);
   * await store.close();
   * await pool.close();
   * ```
   */
  static async load(
    pool: PatchPool,
    records: readonly CaseRecord[],
    preprocessing: PreprocessingOptions = {},
    options: CaseStoreOptions = {},
  ): Promise<CaseStore> {
    const settled = await Promise.allSettled(
      records.map((record) => pool.run({ kind: "load", record, preprocessing })),
    );
    const cases: LoadedCase[] = [];
    for (const s of settled) {
      if (s.status === "rejected") throw s.reason;
      if (s.value.kind !== "load") throw new Error(`Cannot load case: reply ${s.value.kind}`);
      cases.push(s.value.loaded);
    }
    const store = new CaseStore(
      pool,
      [...records],
      cases,
      options.registerTimeoutMs ?? 120_000,
    );
    await store.#everyWorker((barrier) => ({
      kind: "register",
      storeId: store.id,
      cases,
      barrier,
    }));
    return store;
  }

  /** Runs one job per worker, each on a different worker (they meet at a barrier). */
  async #everyWorker(make: (barrier: JobBarrier) => PatchJob): Promise<void> {
    const barrier: JobBarrier = {
      counter: new SharedArrayBuffer(4),
      parties: this.#pool.size,
      timeoutMs: this.#timeoutMs,
    };
    // Enqueued in one synchronous loop, so the pool's FIFO queue keeps them contiguous.
    const jobs = Array.from({ length: this.#pool.size }, () => this.#pool.run(make(barrier)));
    await Promise.all(jobs);
  }

  /** Number of cases (also after close). */
  get size(): number {
    return this.#records.length;
  }

  /** The case records, in store index order. */
  get records(): readonly CaseRecord[] {
    return this.#records;
  }

  /** The pool the cases are registered with. */
  get pool(): PatchPool {
    return this.#pool;
  }

  /** Whether {@linkcode CaseStore.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes of shared memory held (images and labels). */
  get bytes(): number {
    return this.#cases.reduce((s, c) => s + c.image.byteLength + c.label.byteLength, 0);
  }

  /**
   * Case `i` with full labels, its arrays backed by SharedArrayBuffers: read them, do not
   * write (the workers share them). `device.queue.writeBuffer` takes them as they are.
   *
   * @param i Store index.
   * @returns The loaded case.
   * @throws {RangeError} When `i` is out of range or the store is closed.
   */
  get(i: number): LoadedCase {
    if (this.#closed) throw new RangeError(`Cannot get case ${i}: case store ${this.id} is closed`);
    if (!Number.isInteger(i) || i < 0 || i >= this.#cases.length) {
      throw new RangeError(`Cannot get case ${i}: case store holds ${this.#cases.length} cases`);
    }
    return this.#cases[i];
  }

  /**
   * Store index of a case id.
   *
   * @param id Case id (`"patient001_ED"`).
   * @returns Its index, or −1.
   */
  indexOf(id: string): number {
    return this.#records.findIndex((r) => r.id === id);
  }

  /**
   * Drop the cases from every worker's registry and from this store, so the shared memory
   * can be reclaimed. Streams on this store fail afterwards. Safe to call twice, and after
   * the pool was closed.
   *
   * @returns Resolves when every worker has dropped the store.
   * @throws {Error} When unregistering times out.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cases = [];
    try {
      await this.#everyWorker((barrier) => ({ kind: "unregister", storeId: this.id, barrier }));
    } catch (err) {
      // A closed pool has no workers left that could hold the store.
      if (!/worker pool .* (is|was) closed/.test((err as Error).message)) throw err;
    }
  }

  /** `await using store = await CaseStore.load(...)` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
