import assert from "node:assert/strict";
import { LABELINGS } from "../data/labeling.ts";
import { extractRegion } from "../data/region.ts";
import type { CaseRecord } from "../data/types.ts";
import { TINY_PREPROCESSING, tinyPhantoms } from "../../tests/workers/patch_fixture.ts";
import { CaseStore, createPatchPool, type PatchPool } from "./case_store.ts";
import {
  type PatchBatch,
  PatchStream,
  type PatchStreamOptions,
  VALIDATION_STREAM,
  validationBatches,
} from "./patch_stream.ts";
import { SampleSchedule } from "./sampling.ts";

const BRATS_STREAM = {
  cases: [0, 1, 2, 3],
  seed: 11,
  patchSize: [8, 16, 16],
  batchSize: 3,
  target: { encoding: "binary" },
} satisfies PatchStreamOptions;

/** Run `fn` with a pool of `size` workers and a store of `records`; closes both. */
async function withStore<T>(
  size: number,
  records: CaseRecord[],
  kind: "acdc" | "brats",
  fn: (store: CaseStore, pool: PatchPool) => Promise<T>,
): Promise<T> {
  const pool = createPatchPool({ size });
  try {
    const store = await CaseStore.load(pool, records, TINY_PREPROCESSING[kind]);
    try {
      return await fn(store, pool);
    } finally {
      await store.close();
    }
  } finally {
    await pool.close();
  }
}

async function take(stream: PatchStream, n: number): Promise<PatchBatch[]> {
  const out: PatchBatch[] = [];
  for (let i = 0; i < n; i++) out.push(await stream.next());
  return out;
}

Deno.test("PatchStream gives bit-identical batches with 1 and 2 workers, in step order", async () => {
  const { brats } = await tinyPhantoms();
  const runs: PatchBatch[][] = [];
  for (const size of [1, 2]) {
    runs.push(
      await withStore(size, brats, "brats", async (store) => {
        await using stream = new PatchStream(store, { ...BRATS_STREAM, prefetch: 4 });
        return await take(stream, 6);
      }),
    );
  }
  assert.deepEqual(runs[0], runs[1]);
  const schedule = new SampleSchedule(4, { seed: 11 });
  runs[0].forEach((b, s) => {
    assert.equal(b.step, s);
    assert.deepEqual(b.samples, [3 * s, 3 * s + 1, 3 * s + 2]);
    assert.deepEqual(b.cases, b.samples.map((g) => schedule.caseOf(g)));
    assert.deepEqual(b.groups, b.cases.map((i) => (i < 2 ? "HGG" : "LGG")));
    assert.deepEqual(b.imageShape, [3, 4, 8, 16, 16]);
    assert.deepEqual(b.targetShape, [3, 1, 8, 16, 16]);
    assert.equal(b.image.length, 3 * 4 * 8 * 16 * 16);
    assert.ok(!(b.image.buffer instanceof SharedArrayBuffer));
  });
  // An epoch (4 samples) visits every training case once.
  assert.deepEqual(runs[0].flatMap((b) => b.cases).slice(0, 4).sort(), [0, 1, 2, 3]);
});

Deno.test("PatchStream.seek and startStep resume exactly where the uninterrupted stream is", async () => {
  const { brats } = await tinyPhantoms();
  await withStore(2, brats, "brats", async (store) => {
    const opts = { ...BRATS_STREAM, prefetch: 3 };
    await using full = new PatchStream(store, opts);
    const expected = await take(full, 9);
    await using s = new PatchStream(store, opts);
    const head = await take(s, 2);
    s.seek(6); // while steps 2..4 are in flight: they are discarded
    const tail = await take(s, 3);
    s.seek(1);
    const again = await take(s, 2);
    assert.deepEqual([...head, ...tail, ...again], [
      ...expected.slice(0, 2),
      ...expected.slice(6, 9),
      ...expected.slice(1, 3),
    ]);
    assert.ok(s.stats.maxInFlight <= 3, `maxInFlight ${s.stats.maxInFlight}`);
    await using resumed = new PatchStream(store, { ...opts, startStep: 4 });
    assert.equal(resumed.step, 4);
    assert.deepEqual(await take(resumed, 2), expected.slice(4, 6));
  });
});

Deno.test("PatchStream applies emptyGroup in the workers: LGG targets are empty, store labels are full", async () => {
  const { brats } = await tinyPhantoms();
  await withStore(2, brats, "brats", async (store) => {
    await using s = new PatchStream(store, {
      ...BRATS_STREAM,
      labeling: LABELINGS.bratsPartial,
      foregroundProbability: 1,
    });
    const n = 8 * 16 * 16;
    let hggPositive = 0;
    for (const b of await take(s, 4)) {
      b.groups.forEach((g, j) => {
        const t = b.target.subarray(j * n, (j + 1) * n);
        if (g === "LGG") {
          assert.ok(t.every((v) => v === 0), `LGG patch ${j} of step ${b.step}`);
          assert.equal(b.annotated[j], 0);
        } else {
          if (t.some((v) => v === 1)) hggPositive++;
          assert.equal(b.annotated[j], 1);
        }
      });
    }
    assert.ok(hggPositive > 0);
    for (const i of [2, 3]) {
      assert.equal(store.get(i).group, "LGG");
      assert.ok(store.get(i).label.some((v) => v === 1), "the store keeps LGG tumour labels");
    }
  });
});

Deno.test("PatchStream applies removeClass at ES: the MYO map is empty, ED keeps it (one-hot)", async () => {
  const { acdc } = await tinyPhantoms();
  await withStore(2, acdc, "acdc", async (store) => {
    const cases = Array.from({ length: store.size }, (_, i) => i);
    await using s = new PatchStream(store, {
      cases,
      seed: 5,
      patchSize: [8, 24, 24],
      batchSize: 2,
      target: { encoding: "oneHot", classes: 4 },
      labeling: LABELINGS.acdcPartial,
      foregroundProbability: 1,
    });
    const n = 8 * 24 * 24;
    let edMyo = 0;
    for (const b of await take(s, 5)) {
      assert.deepEqual(b.targetShape, [2, 4, 8, 24, 24]);
      b.groups.forEach((g, j) => {
        const myo = b.target.subarray((j * 4 + 2) * n, (j * 4 + 3) * n);
        if (g === "ES") assert.ok(myo.every((v) => v === 0), `ES patch ${j} of ${b.step}`);
        else if (myo.some((v) => v === 1)) edMyo++;
        for (let i = 0; i < n; i += 97) {
          let sum = 0;
          for (let k = 0; k < 4; k++) sum += b.target[(j * 4 + k) * n + i];
          assert.equal(sum, 1);
        }
      });
    }
    assert.ok(edMyo > 0);
    const es = store.get(store.indexOf("patient001_ES"));
    assert.ok(es.label.some((v) => v === 2), "the store keeps ES myocardium");
  });
});

Deno.test("PatchStream never has more than `prefetch` batches in flight (backpressure)", async () => {
  const { brats } = await tinyPhantoms();
  await withStore(2, brats, "brats", async (store, pool) => {
    const s = new PatchStream(store, { ...BRATS_STREAM, prefetch: 2 });
    try {
      // Nobody consumes: once the window is built the stream requests nothing more.
      for (let t = 0; s.stats.inFlight > 0 && t < 1000; t++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(s.stats.inFlight, 0);
      assert.equal(s.stats.requested, 2);
      for (let i = 0; i < 6; i++) {
        assert.ok(pool.busy + pool.queued <= 2);
        await s.next();
        await new Promise((r) => setTimeout(r, 5)); // a slow consumer
      }
      // Overlapping calls wait for window space instead of over-requesting.
      const batches = await Promise.all([s.next(), s.next(), s.next(), s.next()]);
      assert.deepEqual(batches.map((b) => b.step), [6, 7, 8, 9]);
      // A call still waiting for window space fails on seek; requested ones still arrive.
      const [a, b, c] = [s.next(), s.next(), s.next()];
      const cFails = assert.rejects(c, /Cannot get batch 12: seek\(\) moved the stream/);
      s.seek(0);
      s.seek(20);
      assert.equal((await a).step, 10);
      assert.equal((await b).step, 11);
      await cFails;
      assert.equal((await s.next()).step, 20);
      const st = s.stats;
      assert.ok(st.maxInFlight <= 2, `maxInFlight ${st.maxInFlight}`);
      assert.equal(st.batches, 13);
      assert.ok(st.waitMs >= 0 && st.waitMs <= st.elapsedMs);
      assert.ok(st.waitFraction >= 0 && st.waitFraction <= 1);
      s.resetStats();
      assert.equal(s.stats.batches, 0);
      assert.equal(s.stats.elapsedMs, 0);
    } finally {
      await s.close();
    }
    assert.equal(s.stats.inFlight, 0);
    await assert.rejects(() => s.next(), /patch stream is closed/);
  });
});

Deno.test("CaseStore shares SAB-backed cases, validates indices, and surfaces a bad path", async () => {
  const { brats } = await tinyPhantoms();
  const pool = createPatchPool({ size: 2 });
  try {
    await using store = await CaseStore.load(pool, brats, TINY_PREPROCESSING.brats);
    assert.equal(store.size, 4);
    const c = store.get(0);
    assert.ok(c.image.buffer instanceof SharedArrayBuffer);
    assert.ok(c.label.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(c.shape, [16, 24, 24]);
    assert.equal(store.bytes, 4 * (4 * 4 + 1) * 16 * 24 * 24);
    assert.throws(() => store.get(4), RangeError);
    assert.throws(() => new PatchStream(store, { ...BRATS_STREAM, cases: [0, 9] }), RangeError);
    assert.throws(
      () =>
        new PatchStream(store, {
          ...BRATS_STREAM,
          schedule: new SampleSchedule(3, { seed: 1 }),
        }),
      /schedule has 3 cases/,
    );

    const missing = `${brats[1].labelPath}.missing.nii.gz`;
    const bad = [brats[0], { ...brats[1], labelPath: missing }];
    await assert.rejects(
      () => CaseStore.load(pool, bad, TINY_PREPROCESSING.brats),
      (err: Error) => err.message.includes(missing),
    );

    // Closing the store under a running stream: the workers name the store.
    const other = await CaseStore.load(pool, brats.slice(0, 1), TINY_PREPROCESSING.brats);
    await using live = new PatchStream(other, { ...BRATS_STREAM, cases: [0], prefetch: 1 });
    assert.equal((await live.next()).step, 0);
    await other.close();
    // Step 1 was requested when step 0 was served (before the close): it still arrives.
    assert.equal((await live.next()).step, 1);
    assert.equal(other.size, 1);
    assert.throws(() => other.get(0), /is closed/);
    await assert.rejects(() => live.next(), new RegExp(`case store ${other.id} is not registered`));
    assert.throws(() => new PatchStream(other, { ...BRATS_STREAM, cases: [0] }), /is closed/);
  } finally {
    await pool.close();
  }
});

Deno.test("validationBatches are fixed, un-augmented, foreground-centred, for any worker count", async () => {
  const { brats } = await tinyPhantoms();
  const opts = {
    seed: 3,
    patchSize: [8, 16, 16] as [number, number, number],
    batchSize: 3,
    target: { encoding: "binary" } as const,
  };
  const runs = [];
  for (const size of [1, 2]) {
    runs.push(
      await withStore(size, brats, "brats", async (store) => {
        const val = await validationBatches(store, [3, 0, 1, 2], opts);
        assert.deepEqual(val, await validationBatches(store, [3, 0, 1, 2], opts));
        const n = 8 * 16 * 16;
        assert.deepEqual(val.map((b) => [b.step, b.cases]), [[0, [3, 0, 1]], [1, [2]]]);
        for (const b of val) {
          b.cases.forEach((i, j) => {
            const c = store.get(i);
            const crop = extractRegion(
              { data: c.image, shape: c.shape, channels: c.channels },
              { origin: b.origins[j], size: opts.patchSize },
              { padValue: c.padValue },
            );
            assert.deepEqual(b.image.subarray(j * 4 * n, (j + 1) * 4 * n), crop);
            assert.equal(b.samples[j], VALIDATION_STREAM + i);
            assert.equal(b.foreground[j], true);
            // The centre voxel is foreground (unless the clamp to the volume moved it).
            assert.ok(b.target.subarray(j * n, (j + 1) * n).some((v) => v === 1));
          });
        }
        return val;
      }),
    );
  }
  assert.deepEqual(runs[0], runs[1]);
});
