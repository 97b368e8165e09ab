/**
 * The report's overlay examples (internal to lib/pipeline): the example predictions of the
 * shown jobs over the case's display channel, with its full and training labels.
 *
 * @module
 */

import { applyLabeling } from "../data/labeling.ts";
import { loadCase } from "../data/load_case.ts";
import type { Labeling } from "../data/types.ts";
import { writeExample } from "../report/examples.ts";
import type { OverlayPrediction } from "../report/overlay.ts";
import type { Job } from "./jobs.ts";
import { pipelineDataset } from "./resolve.ts";
import type { ResolvedRun } from "./run_types.ts";

/**
 * Assemble overlay examples from the per-job example predictions.
 *
 * @param dir Run folder.
 * @param run The resolved run.
 * @param jobs Finished jobs.
 */
export async function writeExamples(
  dir: string,
  run: ResolvedRun,
  jobs: readonly Job[],
): Promise<void> {
  const p = run.pipeline;
  const partial = Object.keys(p.labelings).find((l) => l !== "full");
  const fold = Math.min(...jobs.map((j) => j.fold));
  const shown = jobs.filter((j) =>
    j.fold === fold && (j.labeling === partial || (!partial && j.labeling === "full"))
  );
  if (shown.length === 0) return;
  const bMax = Math.max(...shown.map((j) => j.batchSize));
  const pick = shown.filter((j) =>
    j.batchSize === bMax || p.experiments[j.experiment].batchSizes?.length === 1
  );
  const ids = new Set<string>();
  for (const j of pick) {
    try {
      for await (const e of Deno.readDir(`${dir}/jobs/${j.id}/examples`)) {
        ids.add(e.name.replace(/\.u8$/, ""));
      }
    } catch { /* no examples */ }
  }
  if (ids.size === 0) return;
  const ds = pipelineDataset(p);
  let records;
  try {
    records = await ds.list(run.root);
  } catch {
    return; // dataset no longer available (e.g. merged elsewhere): report without overlays
  }
  for (const id of [...ids].sort()) {
    const rec = records.find((r) => r.id === id);
    if (!rec) continue;
    const c = await loadCase(rec, run.preprocessing);
    const labeling: Labeling | undefined = partial ? p.labelings[partial] : undefined;
    const train = labeling ? applyLabeling(c, labeling).label : undefined;
    const V = c.shape[0] * c.shape[1] * c.shape[2];
    const image = c.image.subarray(ds.displayChannel * V, (ds.displayChannel + 1) * V);
    const predictions: OverlayPrediction[] = [];
    for (const j of pick) {
      try {
        const labels = await Deno.readFile(`${dir}/jobs/${j.id}/examples/${id}.u8`);
        predictions.push({
          label: `${p.experiments[j.experiment].label ?? j.experiment} B=${j.batchSize}`,
          labels,
        });
      } catch { /* this job has no map for the case */ }
    }
    await writeExample(`${dir}/examples`, id, {
      caseId: id,
      group: c.group,
      shape: c.shape,
      image: Float32Array.from(image),
      truth: c.label,
      truthTrain: train,
      predictions,
    });
  }
}
