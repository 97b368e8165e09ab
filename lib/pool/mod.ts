/**
 * Generic Web Worker pool and its worker-side adapter.
 *
 * @module
 */

export { defaultPoolSize, WorkerPool, type WorkerPoolOptions } from "./worker_pool.ts";
export { type HandlerResult, serveWorker } from "./serve_worker.ts";
export type { WorkerReply, WorkerRequest } from "./protocol.ts";
