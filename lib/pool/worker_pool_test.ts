import assert from "node:assert/strict";
import { WorkerPool } from "./worker_pool.ts";

const ECHO = new URL("../../tests/workers/_echo_worker.ts", import.meta.url);

Deno.test("WorkerPool runs jobs, transfers buffers and keeps error classes", async () => {
  const pool = new WorkerPool(ECHO, { size: 2, name: "echo" });
  try {
    const data = new Float64Array([1, 2, 3.5]);
    const res = await pool.run({ op: "sum", data }, [data.buffer]) as {
      sum: number;
      data: Float64Array;
    };
    assert.equal(res.sum, 6.5);
    assert.equal(data.byteLength, 0); // transferred away
    assert.deepEqual([...res.data], [1, 2, 3.5]);
    await assert.rejects(() => pool.run({ op: "fail", kind: "range" }), {
      name: "RangeError",
      message: "value out of range in worker",
    });
    await assert.rejects(() => pool.run({ op: "fail", kind: "x" }), { message: "plain failure" });
    // Jobs beyond the pool size queue and all complete.
    const many = await Promise.all([5, 1, 3, 2, 4].map((ms) => pool.run({ op: "sleep", ms })));
    assert.deepEqual(many, [5, 1, 3, 2, 4]);
  } finally {
    await pool.close();
  }
  await assert.rejects(() => pool.run({ op: "sleep", ms: 1 }), /closed/);
});
