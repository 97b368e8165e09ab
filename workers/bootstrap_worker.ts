// Bootstrap worker: runs lib/eval's resampling core on a range of resample indices.
import { serveWorker } from "../lib/pool/serve_worker.ts";
import { resampleRange } from "../lib/eval/resampling.ts";
import type { BootstrapReply, BootstrapRequest } from "./_messages.ts";

serveWorker<BootstrapRequest, BootstrapReply>((job) => {
  const replicates = resampleRange(job);
  return { result: { replicates }, transfer: [replicates.buffer as ArrayBuffer] };
});
