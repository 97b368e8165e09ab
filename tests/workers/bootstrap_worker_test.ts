import assert from "node:assert/strict";
import { WorkerPool } from "../../lib/pool/worker_pool.ts";
import { BootstrapPool } from "../../lib/eval/bootstrap_pool.ts";
import { aucBootstrap, pairedBootstrap, permutationTest } from "../../lib/eval/bootstrap.ts";
import { resampleRange } from "../../lib/eval/resampling.ts";
import { Rng } from "../../lib/core/rng.ts";
import type { BootstrapReply, BootstrapRequest } from "../../workers/_messages.ts";

const rng = new Rng(99, 0);
const B_VALUES = Array.from({ length: 61 }, () => 0.8 + 0.1 * rng.normal());
const A_VALUES = B_VALUES.map((v) => v - 0.03 + 0.05 * rng.normal());

Deno.test("bootstrap worker round trip returns the replicates of its range", async () => {
  const pool = new WorkerPool<BootstrapRequest, BootstrapReply>(
    new URL("../../workers/bootstrap_worker.ts", import.meta.url),
    { size: 1 },
  );
  try {
    const job: BootstrapRequest = {
      kind: "signFlip",
      diffs: new Float64Array([0.1, -0.3, 0.2, 0.05]),
      seed: 4,
      statistic: "mean",
      exact: false,
      start: 10,
      end: 30,
    };
    const reply = await pool.run(job);
    assert.ok(reply.replicates instanceof Float64Array);
    assert.deepEqual([...reply.replicates], [...resampleRange(job)]);
    await assert.rejects(() => pool.run({ ...job, start: 5, end: 2 }), RangeError);
  } finally {
    await pool.close();
  }
});

Deno.test("BootstrapPool gives results identical to the in-process tests for 1, 2 and 3 workers", async () => {
  const opts = { resamples: 1001, seed: 17 };
  const scores = B_VALUES.map((v, i) => v + (i % 4 === 0 ? -0.1 : 0));
  const positive = B_VALUES.map((_, i) => i % 4 !== 0);
  const expected = {
    centred: pairedBootstrap(A_VALUES, B_VALUES, opts),
    studentized: pairedBootstrap(A_VALUES, B_VALUES, { ...opts, method: "studentized" }),
    median: pairedBootstrap(A_VALUES, B_VALUES, { ...opts, statistic: "median" }),
    flip: permutationTest(A_VALUES, B_VALUES, opts),
    exact: permutationTest(A_VALUES.slice(0, 9), B_VALUES.slice(0, 9), opts),
    auc: aucBootstrap(scores, positive, opts),
  };
  for (const size of [1, 2, 3]) {
    await using pool = new BootstrapPool({ size });
    const actual = {
      centred: await pool.pairedBootstrap(A_VALUES, B_VALUES, opts),
      studentized: await pool.pairedBootstrap(A_VALUES, B_VALUES, {
        ...opts,
        method: "studentized",
      }),
      median: await pool.pairedBootstrap(A_VALUES, B_VALUES, { ...opts, statistic: "median" }),
      flip: await pool.permutationTest(A_VALUES, B_VALUES, opts),
      exact: await pool.permutationTest(A_VALUES.slice(0, 9), B_VALUES.slice(0, 9), opts),
      auc: await pool.aucBootstrap(scores, positive, opts),
    };
    assert.deepEqual(actual, expected, `pool size ${size}`);
  }
});

Deno.test("BootstrapPool rejects custom statistics and invalid input as promises", async () => {
  await using pool = new BootstrapPool({ size: 1 });
  await assert.rejects(
    () => pool.pairedBootstrap([1, 2], [0, 0], { resamples: 9, seed: 1, statistic: (v) => v[0] }),
    /functions cannot be sent to workers/,
  );
  await assert.rejects(() => pool.pairedBootstrap([1], [0], { resamples: 9, seed: 1 }), RangeError);
});
