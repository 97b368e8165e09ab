/**
 * Worker-side adapter for {@linkcode WorkerPool}: turns a pure handler into a worker.
 *
 * @module
 */

import type { WorkerReply, WorkerRequest } from "./protocol.ts";

/** What a handler returns: the result, and buffers to transfer back instead of copying. */
export interface HandlerResult<T> {
  /** The result sent back to the pool. */
  result: T;
  /** Buffers to transfer. */
  transfer?: Transferable[];
}

/**
 * Serve jobs in this worker with `handler`, until the pool asks it to close.
 *
 * @param handler Receives a job payload, returns its result (optionally with transfers).
 * @param onClose Called before the worker closes (e.g. to destroy a GPU device).
 */
export function serveWorker<Req, Res>(
  handler: (payload: Req) => Promise<HandlerResult<Res>> | HandlerResult<Res>,
  onClose?: () => void | Promise<void>,
): void {
  // The worker's global scope: Deno's main-program lib types `self` as a Window, and the worker
  // lib cannot be loaded beside it, so the few members used here are declared.
  const scope = self as unknown as {
    onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
    postMessage(msg: WorkerReply, transfer?: Transferable[]): void;
    close(): void;
  };
  scope.onmessage = async (e: MessageEvent<WorkerRequest>) => {
    const msg = e.data;
    if (msg.kind === "close") {
      await onClose?.();
      scope.postMessage({ kind: "closed" });
      scope.close();
      return;
    }
    try {
      const { result, transfer } = await handler(msg.payload as Req);
      scope.postMessage({ kind: "ok", id: msg.id, result }, transfer ?? []);
    } catch (err) {
      const e2 = err instanceof Error ? err : new Error(String(err));
      scope.postMessage({
        kind: "error",
        id: msg.id,
        error: { name: e2.name, message: e2.message, stack: e2.stack },
      });
    }
  };
}
