/**
 * End-to-end runs of the tiny presets: a whole protocol (phantom generation, training,
 * sliding-window evaluation, metrics, bootstrap, report), shard + merge equal to a single run,
 * and `reproduce` against a stored reference (passing, and failing on a perturbed one).
 */

import assert from "node:assert/strict";
import { validatePipeline } from "../../lib/pipeline/define_pipeline.ts";
import { mergeRun } from "../../lib/pipeline/merge.ts";
import { runPipeline } from "../../lib/pipeline/run.ts";
import {
  compareWithReference,
  parseReference,
  writeReference,
} from "../../lib/pipeline/reproduce.ts";
import tinyBrats from "../../pipelines/tiny_brats.ts";
import { gpuTest } from "../_helpers/gpu.ts";

const CACHE = ".cache/phantoms";
const quiet = () => {};

interface Row {
  job: { experiment: string; labeling: string; batchSize: number; fold: number };
  caseId: string;
  className: string;
  dsc: number | null;
  predVolumeMl: number;
}

async function readRows(dir: string): Promise<Row[]> {
  return JSON.parse(await Deno.readTextFile(`${dir}/results.json`)).rows;
}

const sortKey = (r: Row) =>
  `${r.job.fold}|${r.job.labeling}|${r.job.experiment}|${r.job.batchSize}|${r.caseId}|${r.className}`;

gpuTest(
  "the tiny BRATS protocol runs end to end; shards merged equal one run; reproduce guards it",
  async () => {
    const pipeline = validatePipeline(tinyBrats, "pipelines/tiny_brats.ts");
    const root = await Deno.makeTempDir({ prefix: "dicelab-e2e-" });
    try {
      // 1. One run of the whole (tiny) protocol: 2 folds × 2 labelings × 2 experiments × B = 2.
      const single = `${root}/single`;
      const s = await runPipeline({
        pipeline,
        source: "pipelines/tiny_brats.ts",
        out: single,
        cacheDir: CACHE,
        log: quiet,
      });
      assert.equal(s.jobs, 8);
      assert.equal(s.reported, true);
      for (const f of ["results.json", "table1.md", "report.html", "report.json", "folds.json"]) {
        await Deno.stat(`${single}/${f}`);
      }
      const rows = await readRows(single);
      assert.ok(rows.length > 0);
      // Full labels, Φ = I: the tumour is found on held-out cases. A 4/8-filter network after three
      // short epochs on 12 cases is far from converged; 0.3 mean DSC is well above what an
      // untrained network (≈ 0.1, the foreground fraction) or an empty prediction (0) scores.
      const full = rows.filter((r) => r.job.labeling === "full" && r.job.experiment === "I");
      const mean = full.reduce((a, r) => a + (r.dsc ?? 0), 0) / full.length;
      console.log(`tiny protocol: mean DSC (full, I) ${mean.toFixed(3)}`);
      assert.ok(mean > 0.3, `mean DSC ${mean}`);
      // Predictions were written as NIfTI for every test case of every job.
      const preds = [...Deno.readDirSync(`${single}/jobs/f0-full-I-b2/predictions`)];
      assert.ok(preds.length > 0 && preds.every((e) => e.name.endsWith(".nii.gz")));

      // 2. The same protocol as two shards into one folder, then merge: identical rows.
      const sharded = `${root}/sharded`;
      const a = await runPipeline({
        pipeline,
        source: "pipelines/tiny_brats.ts",
        out: sharded,
        cacheDir: CACHE,
        shard: { index: 1, count: 2 },
        log: quiet,
      });
      assert.equal(a.reported, false, "one shard alone does not report");
      await assert.rejects(() => mergeRun(sharded, { log: quiet }), /not finished/);
      await runPipeline({
        pipeline,
        source: "pipelines/tiny_brats.ts",
        out: sharded,
        cacheDir: CACHE,
        shard: { index: 2, count: 2 },
        log: quiet,
      });
      assert.equal(await mergeRun(sharded, { log: quiet }), true);
      const r1 = (await readRows(single)).sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
      const r2 = (await readRows(sharded)).sort((x, y) => sortKey(x).localeCompare(sortKey(y)));
      assert.deepEqual(r2, r1);

      // 3. A run may change its selection on resume (first fold only, then all again); any other
      // change to the pipeline is refused before anything is written.
      const firstFold = await runPipeline({
        pipeline,
        source: "pipelines/tiny_brats.ts",
        out: single,
        cacheDir: CACHE,
        resume: true,
        folds: 1,
        log: quiet,
      });
      assert.equal(firstFold.jobs, 4);
      assert.equal(firstFold.skipped, 4);
      await assert.rejects(
        () =>
          runPipeline({
            pipeline: { ...pipeline, seed: pipeline.seed + 1 },
            source: "pipelines/tiny_brats.ts",
            out: single,
            cacheDir: CACHE,
            resume: true,
            log: quiet,
          }),
        /holds a different pipeline/,
      );
      // A rerun with resume skips every finished job.
      const again = await runPipeline({
        pipeline,
        source: "pipelines/tiny_brats.ts",
        out: single,
        cacheDir: CACHE,
        resume: true,
        log: quiet,
      });
      assert.equal(again.skipped, 8);

      // 4. reproduce: the run matches a reference written from it, and a perturbed reference fails.
      const results = JSON.parse(await Deno.readTextFile(`${single}/results.json`));
      const refPath = `${root}/ref.json`;
      await writeReference(refPath, results, {
        quick: false,
        tolerances: { dsc: 0.05, deltaVolumeMl: 1, auc: 0.1 },
        claims: [{
          id: "partial I keeps LGG within 0.5 of full",
          kind: "ratio",
          a: { labeling: "partial", experiment: "I", batchSize: 2, group: "LGG", metric: "dsc" },
          b: { labeling: "full", experiment: "I", batchSize: 2, group: "LGG", metric: "dsc" },
          min: 0,
        }],
      });
      const ref = parseReference(JSON.parse(await Deno.readTextFile(refPath)), refPath);
      assert.ok(ref.cells.length >= 8);
      assert.equal(compareWithReference(results, ref).ok, true);
      const perturbed = structuredClone(ref);
      const cell = perturbed.cells.find((c) => c.metric === "dsc" && c.value !== null)!;
      cell.value = cell.value! + 0.2;
      const cmp = compareWithReference(results, perturbed);
      assert.equal(cmp.ok, false);
      assert.equal(cmp.lines.filter((l) => !l.ok).length, 1);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);
