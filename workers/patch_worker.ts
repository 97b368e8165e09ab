// Patch worker: loads cases into shared memory, keeps a registry of case stores, and builds
// training batches (lib/train/patch_jobs.ts), transferring the batch buffers.
import { serveWorker } from "../lib/pool/serve_worker.ts";
import { PatchJobHandler } from "../lib/train/patch_jobs.ts";
import type { PatchReply, PatchRequest } from "./_messages.ts";

const handler = new PatchJobHandler();

serveWorker<PatchRequest, PatchReply>((job) => handler.handle(job));
