/**
 * The shipped pipelines pass the pre-run checks, on the phantom and on real data (the paper's
 * networks and patch sizes), so the checks that stop bad settings never stop a good one.
 */

import assert from "node:assert/strict";
import { loadPipeline } from "../../lib/pipeline/define_pipeline.ts";
import { pipelineIssues } from "../../lib/pipeline/preflight.ts";
import { describeDataset, resolveDataset } from "../../lib/pipeline/dataset_root.ts";
import { awaitsDescription, effectivePipeline } from "../../lib/pipeline/resolve.ts";
import { ROOT } from "./_faults.ts";

const CACHE = `${ROOT}.cache/phantoms`;
const files: string[] = [];
for await (const e of Deno.readDir(`${ROOT}pipelines`)) {
  if (e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_")) files.push(e.name);
}

Deno.test("every shipped pipeline passes the pre-run checks", async () => {
  assert.ok(files.length >= 7);
  for (const f of files.sort()) {
    const { pipeline } = await loadPipeline(`${ROOT}pipelines/${f}`);
    for (const phantom of [true, false]) {
      for (const quick of [false, true]) {
        let p = effectivePipeline(pipeline, { phantom, quick });
        if (awaitsDescription(p)) {
          // Datasets described by their own files: checked against the phantom's description.
          if (!phantom) continue;
          const root = await resolveDataset(p, { cacheDir: CACHE }, () => {});
          p = await describeDataset(p, root.root);
        }
        assert.deepEqual(pipelineIssues(p, { phantom }), [], `${f} (phantom ${phantom})`);
      }
    }
  }
});
