// Test worker: echoes, sums a transferred buffer, or throws on request.
import { serveWorker } from "../../lib/pool/serve_worker.ts";

type Req = { op: "sum"; data: Float64Array } | { op: "fail"; kind: string } | {
  op: "sleep";
  ms: number;
};

serveWorker<Req, unknown>(async (req) => {
  if (req.op === "sum") {
    let s = 0;
    for (const v of req.data) s += v;
    return { result: { sum: s, data: req.data }, transfer: [req.data.buffer as ArrayBuffer] };
  }
  if (req.op === "sleep") {
    await new Promise((r) => setTimeout(r, req.ms));
    return { result: req.ms };
  }
  if (req.kind === "range") throw new RangeError("value out of range in worker");
  throw new Error("plain failure");
});
