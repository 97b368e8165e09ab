/**
 * A generic pool of module Web Workers with a job queue.
 *
 * Each worker runs one job at a time; jobs wait in FIFO order for a free worker. Workers are
 * closed cooperatively (they `self.close()` after a close message) because
 * `worker.terminate()` on a worker that holds a WebGPU device crashes Deno 2.9.
 * Worker entry points use {@linkcode serveWorker} from `./serve_worker.ts`.
 *
 * @module
 */

import type { WorkerReply, WorkerRequest } from "./protocol.ts";

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * Number of workers.
   * @default navigator.hardwareConcurrency (at least 1)
   */
  size?: number;
  /** Name prefix of the workers (shows in errors). */
  name?: string;
  /**
   * Milliseconds to wait for a worker to acknowledge `close()` before terminating it.
   * @default 5000
   */
  closeTimeoutMs?: number;
}

interface _Job {
  id: number;
  payload: unknown;
  transfer: Transferable[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface _Slot {
  worker: Worker;
  job?: _Job;
  closed?: () => void;
}

/** Default pool size for this machine. */
export function defaultPoolSize(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** A pool of workers running `(payload) => result` jobs. */
export class WorkerPool<Req = unknown, Res = unknown> {
  #url: URL;
  #name: string;
  #slots: _Slot[] = [];
  #queue: _Job[] = [];
  #nextId = 1;
  #closing = false;
  #closeTimeoutMs: number;

  /**
   * Start `size` workers running the module at `url`.
   *
   * @param url Module URL of the worker entry point.
   * @param options Size and name.
   * @throws {RangeError} When size is not a positive integer.
   */
  constructor(url: URL | string, options: WorkerPoolOptions = {}) {
    this.#url = new URL(url);
    this.#name = options.name ?? this.#url.pathname.split("/").pop() ?? "worker";
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    const size = options.size ?? defaultPoolSize();
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Cannot create worker pool ${this.#name}: size is ${size}`);
    }
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn(i));
  }

  /** Number of workers. */
  get size(): number {
    return this.#slots.length;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Jobs currently running. */
  get busy(): number {
    return this.#slots.filter((s) => s.job).length;
  }

  #spawn(index: number): _Slot {
    const worker = new Worker(this.#url, { type: "module", name: `${this.#name}#${index}` });
    const slot: _Slot = { worker };
    worker.onmessage = (e: MessageEvent<WorkerReply>) => this.#onReply(slot, e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      const job = slot.job;
      slot.job = undefined;
      const err = new Error(
        `Worker ${this.#name}#${index} crashed: ${e.message} (${e.filename}:${e.lineno})`,
      );
      if (job) job.reject(err);
      // Replace the dead worker so the pool keeps its size.
      if (!this.#closing) {
        try {
          worker.terminate();
        } catch { /* already gone */ }
        const fresh = this.#spawn(index);
        this.#slots[this.#slots.indexOf(slot)] = fresh;
        this.#pump();
      }
    };
    return slot;
  }

  #onReply(slot: _Slot, msg: WorkerReply): void {
    if (msg.kind === "closed") {
      slot.closed?.();
      return;
    }
    const job = slot.job;
    if (!job || job.id !== msg.id) return;
    slot.job = undefined;
    if (msg.kind === "ok") job.resolve(msg.result);
    else {
      const err = new Error(msg.error.message);
      err.name = msg.error.name;
      err.stack = `${msg.error.name}: ${msg.error.message}\n    in worker ${this.#name}\n${
        msg.error.stack ?? ""
      }`;
      // Preserve the error class where it is a standard one.
      const Ctor = ({ TypeError, RangeError, SyntaxError } as Record<string, ErrorConstructor>)[
        msg.error.name
      ];
      job.reject(Ctor ? Object.assign(new Ctor(msg.error.message), { stack: err.stack }) : err);
    }
    this.#pump();
  }

  #pump(): void {
    for (const slot of this.#slots) {
      if (slot.job || this.#queue.length === 0) continue;
      const job = this.#queue.shift()!;
      slot.job = job;
      const req: WorkerRequest = { kind: "job", id: job.id, payload: job.payload };
      slot.worker.postMessage(req, job.transfer);
    }
  }

  /**
   * Run one job on the next free worker.
   *
   * @param payload The message for the worker's handler (structured-cloneable).
   * @param transfer Buffers to transfer instead of copying.
   * @returns The handler's result.
   * @throws {Error} The handler's error (TypeError/RangeError/SyntaxError keep their class), or
   *   an error when the pool is closed or the worker crashed.
   */
  run(payload: Req, transfer: Transferable[] = []): Promise<Res> {
    if (this.#closing) {
      return Promise.reject(new Error(`Cannot run a job: worker pool ${this.#name} is closed`));
    }
    return new Promise<Res>((resolve, reject) => {
      this.#queue.push({
        id: this.#nextId++,
        payload,
        transfer,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.#pump();
    });
  }

  /**
   * Close every worker cooperatively; queued jobs are rejected, running jobs finish first.
   *
   * @returns Resolves when every worker has closed (or was terminated after the timeout).
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const job of this.#queue.splice(0)) {
      job.reject(new Error(`Cannot run a job: worker pool ${this.#name} was closed`));
    }
    await Promise.all(this.#slots.map(async (slot) => {
      while (slot.job) await new Promise((r) => setTimeout(r, 5));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const acked = await new Promise<boolean>((resolve) => {
        slot.closed = () => resolve(true);
        timer = setTimeout(() => resolve(false), this.#closeTimeoutMs);
        slot.worker.postMessage({ kind: "close" } satisfies WorkerRequest);
      });
      clearTimeout(timer);
      if (!acked) slot.worker.terminate();
    }));
  }
}
