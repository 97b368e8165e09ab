/**
 * Messages between {@linkcode WorkerPool} and {@linkcode serveWorker}.
 *
 * @module
 */

/** Pool → worker. */
export type WorkerRequest =
  | { kind: "job"; id: number; payload: unknown }
  | { kind: "close" };

/** Worker → pool. */
export type WorkerReply =
  | { kind: "ok"; id: number; result: unknown }
  | { kind: "error"; id: number; error: { name: string; message: string; stack?: string } }
  | { kind: "closed" };
