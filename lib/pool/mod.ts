/**
 * Generic Web Worker pool and its worker-side adapter.
 *
 * @module
 */

export * from "./worker_pool.ts";
export * from "./serve_worker.ts";
export type * from "./protocol.ts";
