import assert from "node:assert/strict";
import { loadCase } from "../../lib/data/load_case.ts";
import { LABELINGS } from "../../lib/data/labeling.ts";
import { WorkerPool } from "../../lib/pool/worker_pool.ts";
import { type BatchJob, buildBatch } from "../../lib/train/build_batch.ts";
import { CaseStore, createPatchPool } from "../../lib/train/case_store.ts";
import { PatchJobHandler } from "../../lib/train/patch_jobs.ts";
import type { PatchReply, PatchRequest } from "../../workers/_messages.ts";
import { TINY_PREPROCESSING, tinyPhantoms } from "./patch_fixture.ts";

const WORKER = new URL("../../workers/patch_worker.ts", import.meta.url);

function barrier(parties: number, timeoutMs = 10_000) {
  return { counter: new SharedArrayBuffer(4), parties, timeoutMs };
}

const JOB: BatchJob = {
  step: 2,
  samples: [4, 5, 6],
  cases: [2, 0, 3],
  seed: 9,
  patchSize: [6, 12, 10],
  target: { encoding: "binary" },
  labeling: LABELINGS.bratsPartial,
  augmentation: { rotationDegreesOutOfPlane: 5, flipAxes: [true, true, true] },
};

Deno.test("patch worker round trip: shared load, register, and a batch equal to buildBatch in process", async () => {
  const { brats } = await tinyPhantoms();
  const pool = new WorkerPool<PatchRequest, PatchReply>(WORKER, { size: 1, name: "patch" });
  try {
    const local = await Promise.all(brats.map((r) => loadCase(r, TINY_PREPROCESSING.brats)));
    const shared = [];
    for (const record of brats) {
      const reply = await pool.run({
        kind: "load",
        record,
        preprocessing: TINY_PREPROCESSING.brats,
      });
      assert.equal(reply.kind, "load");
      if (reply.kind !== "load") return;
      assert.ok(reply.loaded.image.buffer instanceof SharedArrayBuffer);
      assert.ok(reply.loaded.label.buffer instanceof SharedArrayBuffer);
      shared.push(reply.loaded);
    }
    shared.forEach((c, i) => {
      assert.deepEqual([...c.image], [...local[i].image]);
      assert.deepEqual([...c.label], [...local[i].label]);
      assert.deepEqual({ ...c, image: 0, label: 0 }, { ...local[i], image: 0, label: 0 });
    });

    const reg = await pool.run({
      kind: "register",
      storeId: "s1",
      cases: shared,
      barrier: barrier(1),
    });
    assert.deepEqual(reg, { kind: "register", stores: 1 });
    const reply = await pool.run({ kind: "batch", storeId: "s1", job: JOB });
    assert.equal(reply.kind, "batch");
    if (reply.kind !== "batch") return;
    assert.ok(reply.batch.image.buffer instanceof ArrayBuffer);
    assert.deepEqual(reply.batch, buildBatch(local, JOB));

    // The worker writes nothing into the shared cases.
    assert.deepEqual([...shared[2].label], [...local[2].label]);

    await assert.rejects(
      () => pool.run({ kind: "batch", storeId: "nope", job: JOB }),
      { message: /Cannot build batch 2: case store nope is not registered/ },
    );
    await assert.rejects(
      () => pool.run({ kind: "batch", storeId: "s1", job: { ...JOB, cases: [0, 1, 7] } }),
      { name: "RangeError", message: /case index 7 outside \[0, 4\)/ },
    );
    assert.deepEqual(
      await pool.run({ kind: "unregister", storeId: "s1", barrier: barrier(1) }),
      { kind: "unregister", stores: 0 },
    );
  } finally {
    await pool.close();
  }
});

Deno.test("patch worker reports a missing file with its path", async () => {
  const { acdc } = await tinyPhantoms();
  const pool = createPatchPool({ size: 1 });
  try {
    const missing = `${acdc[0].imagePaths[0]}.gone.nii.gz`;
    const record = { ...acdc[0], imagePaths: [missing] };
    await assert.rejects(
      () => pool.run({ kind: "load", record, preprocessing: {} }),
      (err: Error) => err.message === `Cannot read NIfTI ${missing}: the file does not exist`,
    );
  } finally {
    await pool.close();
  }
});

Deno.test("CaseStore registers with every worker of a 3-worker pool (barrier), batches run on all", async () => {
  const { brats } = await tinyPhantoms();
  const pool = createPatchPool({ size: 3 });
  try {
    // Registration completes only if its 3 jobs met on 3 different workers.
    await using store = await CaseStore.load(pool, brats, TINY_PREPROCESSING.brats);
    const jobs = Array.from(
      { length: 9 },
      (_, s) => pool.run({ kind: "batch", storeId: store.id, job: { ...JOB, step: s } }),
    );
    assert.equal(pool.busy, 3);
    const replies = await Promise.all(jobs);
    assert.deepEqual(replies.map((r) => r.kind === "batch" && r.batch.step), [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
    ]);
  } finally {
    await pool.close();
  }
});

Deno.test("PatchJobHandler fails a registration round whose workers do not all join", async () => {
  const handler = new PatchJobHandler();
  await assert.rejects(
    () => handler.handle({ kind: "register", storeId: "x", cases: [], barrier: barrier(2, 30) }),
    {
      message:
        "Cannot synchronise patch workers: 1 of 2 joined within 30 ms (is the pool busy with long jobs?)",
    },
  );
  assert.equal(handler.stores, 0);
});
