// Patch-streaming throughput: augmented training patches per second from the patch-worker
// pool, for the BRATS-like and ACDC-like phantoms at their default grids and preprocessing,
// with 1 and 2 workers. Prints one JSON line per (dataset, workers), plus the in-process
// cost of one patch (buildBatch on the main thread) as a baseline.
//
//   deno run --allow-read --allow-write --allow-env bench/data_bench.ts [--batches 200]
//
// The phantoms (default grid and spacing, fewer cases) are cached in .cache/phantoms.

import { ensurePhantom } from "../lib/data/ensure_phantom.ts";
import { LABELINGS } from "../lib/data/labeling.ts";
import { listDataset } from "../lib/data/list_dataset.ts";
import { PHANTOM_PREPROCESSING } from "../lib/data/preprocess.ts";
import type { Vec3 } from "../lib/data/types.ts";
import { buildBatch } from "../lib/train/build_batch.ts";
import { CaseStore, createPatchPool } from "../lib/train/case_store.ts";
import { PatchStream, type PatchStreamOptions } from "../lib/train/patch_stream.ts";

const argBatches = Deno.args.indexOf("--batches");
const BATCHES = argBatches >= 0 ? Number(Deno.args[argBatches + 1]) : 200;
const WARMUP = 3;

interface Setup {
  kind: "acdc" | "brats";
  phantom: Record<string, unknown>;
  patchSize: Vec3;
  batchSize: number;
  stream: Omit<PatchStreamOptions, "cases" | "seed" | "patchSize" | "batchSize">;
}

const SETUPS: Setup[] = [
  {
    kind: "brats",
    phantom: { hgg: 8, lgg: 4 },
    patchSize: [16, 32, 32],
    batchSize: 2,
    stream: { target: { encoding: "binary" }, labeling: LABELINGS.bratsPartial },
  },
  {
    kind: "acdc",
    phantom: { patientsPerGroup: 2 },
    patchSize: [8, 48, 48],
    batchSize: 4,
    stream: { target: { encoding: "oneHot", classes: 4 }, labeling: LABELINGS.acdcPartial },
  },
];

for (const setup of SETUPS) {
  const root = await ensurePhantom(setup.kind, ".cache/phantoms", setup.phantom);
  const records = await listDataset(setup.kind, root);
  const preprocessing = PHANTOM_PREPROCESSING[setup.kind];
  const cases = records.map((_, i) => i);
  const options: PatchStreamOptions = {
    ...setup.stream,
    cases,
    seed: 1,
    patchSize: setup.patchSize,
    batchSize: setup.batchSize,
  };

  let inProcessMs = 0;
  for (const workers of [1, 2]) {
    const pool = createPatchPool({ size: workers });
    try {
      let t = performance.now();
      await using store = await CaseStore.load(pool, records, preprocessing);
      const loadS = (performance.now() - t) / 1000;
      if (workers === 1) {
        // Baseline: the same batches built on this thread.
        const local = Array.from({ length: store.size }, (_, i) => store.get(i));
        const run = () => {
          for (let s = 0; s < 5; s++) {
            buildBatch(local, {
              step: s,
              samples: Array.from({ length: setup.batchSize }, (_, j) => s * setup.batchSize + j),
              cases: Array.from({ length: setup.batchSize }, (_, j) => (s + j) % store.size),
              seed: 1,
              patchSize: setup.patchSize,
              target: setup.stream.target,
              labeling: setup.stream.labeling,
              augmentation: {},
            });
          }
        };
        run(); // warm-up: JIT, foreground indices, margins
        t = performance.now();
        run();
        inProcessMs = (performance.now() - t) / (5 * setup.batchSize);
      }
      await using stream = new PatchStream(store, options);
      for (let i = 0; i < WARMUP; i++) await stream.next();
      stream.resetStats();
      t = performance.now();
      for (let i = 0; i < BATCHES; i++) await stream.next();
      const seconds = (performance.now() - t) / 1000;
      const patches = BATCHES * setup.batchSize;
      console.log(JSON.stringify({
        bench: "patch_stream",
        dataset: setup.kind,
        workers,
        cases: store.size,
        case_shape: store.get(0).shape,
        channels: store.get(0).channels,
        patch: setup.patchSize,
        batch_size: setup.batchSize,
        prefetch: stream.prefetch,
        augmentation: "default",
        batches: BATCHES,
        patches_per_s: +(patches / seconds).toFixed(1),
        batches_per_s: +(BATCHES / seconds).toFixed(2),
        ms_per_patch_in_process: +inProcessMs.toFixed(2),
        store_load_s: +loadS.toFixed(2),
        store_mb: +(store.bytes / 2 ** 20).toFixed(1),
        cores: navigator.hardwareConcurrency,
      }));
    } finally {
      await pool.close();
    }
  }
}
