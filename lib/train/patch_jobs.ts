/**
 * The jobs a patch worker (`workers/patch_worker.ts`) runs, and the pure functions behind
 * them: load a case into `SharedArrayBuffer`s, keep a registry of the cases of each
 * {@linkcode CaseStore} (by store id and case index), and build batches from it.
 *
 * Registration reaches every worker of a pool exactly once through a barrier: the store
 * posts one `register` job per worker, and each job blocks (`Atomics.wait`) until all of
 * them have arrived, so no worker can take two of them.
 *
 * @module
 */

import type { HandlerResult } from "../pool/serve_worker.ts";
import type { PreprocessingOptions } from "../data/preprocess.ts";
import { loadCase } from "../data/load_case.ts";
import type { CaseRecord, LoadedCase } from "../data/types.ts";
import { type BatchJob, type BatchResult, buildBatch } from "./build_batch.ts";

/** A barrier shared by the `parties` jobs of one registration round. */
export interface JobBarrier {
  /** One Int32 counter of arrived jobs. */
  counter: SharedArrayBuffer;
  /** Number of jobs that must arrive (the pool size). */
  parties: number;
  /** Milliseconds to wait for the others before failing. */
  timeoutMs: number;
}

/** A job for a patch worker. */
export type PatchJob =
  | {
    /** Load and preprocess one case into shared memory. */
    kind: "load";
    /** The case on disk. */
    record: CaseRecord;
    /** Preprocessing options. */
    preprocessing: PreprocessingOptions;
  }
  | {
    /** Keep the cases of a store in this worker's registry. */
    kind: "register";
    /** Store id. */
    storeId: string;
    /** The store's cases (SharedArrayBuffer-backed arrays; nothing is copied). */
    cases: LoadedCase[];
    /** The round's barrier. */
    barrier: JobBarrier;
  }
  | {
    /** Drop a store from this worker's registry. */
    kind: "unregister";
    /** Store id. */
    storeId: string;
    /** The round's barrier. */
    barrier: JobBarrier;
  }
  | {
    /** Build one batch from a registered store. */
    kind: "batch";
    /** Store id. */
    storeId: string;
    /** What to build; `job.cases` index the store. */
    job: BatchJob;
  };

/** What a patch worker returns for each job kind. */
export type PatchJobResult =
  | {
    /** Reply to `load`. */
    kind: "load";
    /** The case, image and label in SharedArrayBuffers. */
    loaded: LoadedCase;
  }
  | {
    /** Reply to `register` / `unregister`. */
    kind: "register" | "unregister";
    /** Stores now registered in this worker. */
    stores: number;
  }
  | {
    /** Reply to `batch`. */
    kind: "batch";
    /** The batch (its buffers transferred). */
    batch: BatchResult;
  };

/**
 * Load and preprocess a case (`loadCase`) and move its image and label into
 * `SharedArrayBuffer`s, so that workers and the main thread can share them without copies.
 *
 * @param record The case on disk.
 * @param preprocessing Preprocessing options.
 * @returns The case, with `image` and `label` backed by SharedArrayBuffers.
 * @throws {Deno.errors.NotFound} When a file is missing (its path is in the message).
 * @throws {SyntaxError} When a file is not valid NIfTI.
 * @throws {TypeError} When image and label do not share a grid.
 * @throws {RangeError} When a label value or spacing is invalid.
 * @example
 * ```ts ignore
 * const c = await loadSharedCase(record, PHANTOM_PREPROCESSING.brats);
 * console.log(c.image.buffer instanceof SharedArrayBuffer); // true
 * ```
 */
export async function loadSharedCase(
  record: CaseRecord,
  preprocessing: PreprocessingOptions = {},
): Promise<LoadedCase> {
  const loaded = await loadCase(record, preprocessing);
  const image = new Float32Array(new SharedArrayBuffer(loaded.image.byteLength));
  image.set(loaded.image);
  const label = new Uint8Array(new SharedArrayBuffer(loaded.label.byteLength));
  label.set(loaded.label);
  return { ...loaded, image, label };
}

/**
 * Arrive at a barrier and block until all `parties` have arrived.
 *
 * @param barrier The shared counter, party count and timeout.
 * @throws {Error} When the others do not arrive within the timeout.
 * @example
 * ```ts
 * import { arriveAndWait } from "./patch_jobs.ts";
 * arriveAndWait({ counter: new SharedArrayBuffer(4), parties: 1, timeoutMs: 10 }); // returns at once
 * ```
 */
export function arriveAndWait(barrier: JobBarrier): void {
  const c = new Int32Array(barrier.counter);
  Atomics.add(c, 0, 1);
  Atomics.notify(c, 0);
  const deadline = performance.now() + barrier.timeoutMs;
  for (;;) {
    const seen = Atomics.load(c, 0);
    if (seen >= barrier.parties) return;
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new Error(
        `Cannot synchronise patch workers: ${seen} of ${barrier.parties} joined within ` +
          `${barrier.timeoutMs} ms (is the pool busy with long jobs?)`,
      );
    }
    Atomics.wait(c, 0, seen, left);
  }
}

/** The state of one patch worker: its registry of stores, and the job dispatcher. */
export class PatchJobHandler {
  #stores = new Map<string, LoadedCase[]>();

  /** Number of stores registered. */
  get stores(): number {
    return this.#stores.size;
  }

  /**
   * Run one job.
   *
   * @param job The job.
   * @returns The result, and the buffers to transfer (a batch's arrays).
   * @throws {Error} When a batch names a store that is not registered here, or a barrier
   *   times out; otherwise the errors of {@linkcode loadSharedCase} and `buildBatch`.
   * @example
   * ```ts ignore
   * const handler = new PatchJobHandler();
   * serveWorker<PatchJob, PatchJobResult>((job) => handler.handle(job));
   * ```
   */
  async handle(job: PatchJob): Promise<HandlerResult<PatchJobResult>> {
    switch (job.kind) {
      case "load":
        return {
          result: { kind: "load", loaded: await loadSharedCase(job.record, job.preprocessing) },
        };
      case "register":
        this.#stores.set(job.storeId, job.cases);
        try {
          arriveAndWait(job.barrier);
        } catch (err) {
          this.#stores.delete(job.storeId);
          throw err;
        }
        return { result: { kind: "register", stores: this.#stores.size } };
      case "unregister":
        this.#stores.delete(job.storeId);
        arriveAndWait(job.barrier);
        return { result: { kind: "unregister", stores: this.#stores.size } };
      case "batch": {
        const cases = this.#stores.get(job.storeId);
        if (!cases) {
          throw new Error(
            `Cannot build batch ${job.job.step}: case store ${job.storeId} is not registered ` +
              `in this worker (closed, or the worker was restarted)`,
          );
        }
        const batch = buildBatch(cases, job.job);
        return {
          result: { kind: "batch", batch },
          transfer: [
            batch.image.buffer as ArrayBuffer,
            batch.target.buffer as ArrayBuffer,
            batch.annotated.buffer as ArrayBuffer,
            ...(batch.mask ? [batch.mask.buffer as ArrayBuffer] : []),
            ...(batch.labelSetIndex ? [batch.labelSetIndex.buffer as ArrayBuffer] : []),
          ],
        };
      }
    }
  }
}
