/**
 * Running a pipeline: dataset (real or phantom), fold split, the jobs (fold × labeling ×
 * experiment × B: training, sliding-window evaluation, metrics), then results.json and the
 * report. Runs are resumable (finished jobs are skipped, an interrupted job resumes from its
 * checkpoint) and shardable (`--shard i/n` into a shared folder; `merge` builds the report).
 * The run folder's files are described in `run_folder.ts`.
 *
 * @module
 */

import { writeJsonAtomic } from "../core/atomic_write.ts";
import { exists } from "../core/exists.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
import { requestGpu } from "../gpu/device.ts";
import { runtimeLimits } from "../gpu/memory_plan.ts";
import { GpuRuntime } from "../gpu/runtime.ts";
import { parameterCount } from "../nn/unet_config.ts";
import { CaseStore, createPatchPool } from "../train/case_store.ts";
import { exampleCases } from "./_job_config.ts";
import { type RunContext, runJob } from "./_run_job.ts";
import { describeDataset, resolveDataset } from "./dataset_root.ts";
import { enumerateJobs, type Job, shardJobs } from "./jobs.ts";
import { mergeRun } from "./merge.ts";
import { RunOptionError } from "./errors.ts";
import { checkJobsFit, fitLimits, jobTrainCases, planJobs } from "./plan.ts";
import { checkRecords, checkRunnable } from "./preflight.ts";
import { effectivePipeline, modelConfig, pipelineDataset, pipelineFolds } from "./resolve.ts";
import { divergenceText, runProblems } from "./job_outcome.ts";
import {
  CorruptFileError,
  readJobResult,
  runFolderPath,
  writeEnvironment,
  writeRunRecord,
} from "./run_folder.ts";
import type { JobResult, ResolvedRun, RunOptions, RunSummary } from "./run_types.ts";
import type { Pipeline } from "./pipeline_types.ts";

/**
 * Run a pipeline (or one shard of it) into a run folder, then merge and report when every
 * job of the run is done.
 *
 * @param o Options.
 * @returns Summary.
 * @throws {Error} When the run folder holds a different pipeline, or a job fails.
 */
export async function runPipeline(o: RunOptions): Promise<RunSummary> {
  const log = o.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const phantom = !(o.data ?? o.pipeline.dataset.root);
  const p0 = effectivePipeline(o.pipeline, { ...o, phantom });
  // Everything that can be checked without the data is checked before anything is written.
  checkRunnable(p0, { source: o.source, phantom });
  const all = enumerateJobs(p0, { quick: o.quick, only: o.only, folds: o.folds });
  _checkWorkers(o.workers);
  const dir = await runFolderPath(p0.name, o);
  await _checkOut(dir);
  if (o.resume && !(await exists(`${dir}/pipeline.json`))) {
    log(
      o.out
        ? `--resume: no run in ${dir} yet, starting a fresh run there`
        : `--resume: no earlier run of ${p0.name} in runs/, starting a fresh run in ${dir}`,
    );
  }
  const ds = await resolveDataset(p0, o, log);
  const p = await describeDataset(p0, ds.root);
  if (p !== p0) checkRunnable(p, { source: o.source, phantom });
  await Deno.mkdir(`${dir}/jobs`, { recursive: true });
  log(`Run folder: ${dir}`);

  const resolved: ResolvedRun = {
    pipeline: p,
    quick: Boolean(o.quick),
    phantom: ds.phantom,
    root: ds.root,
    preprocessing: ds.preprocessing,
    selection: { only: o.only, folds: o.folds },
  };
  await writeRunRecord(dir, o.source, resolved);

  const records = await pipelineDataset(p).list(ds.root);
  checkRecords(p, records, ds.root);
  const split = pipelineFolds(p, records);
  await writeJsonAtomic(`${dir}/folds.json`, split);

  const mine = o.shard ? shardJobs(all, o.shard) : all;
  let skipped = 0;
  const todo: Job[] = [];
  for (const j of mine) {
    const state = await _jobState(dir, j.id);
    if (state === "done") skipped++;
    else {
      if (state instanceof CorruptFileError) {
        const kept = `${state.path}.corrupt`;
        await Deno.rename(state.path, kept);
        log(`${state.message}: kept as ${kept}; the job runs again (from its checkpoint)`);
      }
      todo.push(j);
    }
  }
  log(
    `Jobs: ${mine.length}${
      o.shard ? ` (shard ${o.shard.index}/${o.shard.count} of ${all.length})` : ""
    }` +
      `, ${skipped} already done`,
  );

  if (todo.length > 0) {
    const gpu = await requestGpu();
    log(`Adapter: ${gpu.adapter.description}`);
    await writeEnvironment(dir, gpu);
    const rt = new GpuRuntime(gpu.device);
    const pool = new BufferPool(gpu.device);
    const workers = o.workers ?? (p.training.workers === "auto" ? undefined : p.training.workers);
    const patchPool = createPatchPool({ size: workers });
    try {
      // Refuse a job that cannot fit before any training (or loading) starts.
      const fit = fitLimits(rt, o.memoryLimit);
      checkJobsFit(planJobs(p, todo, runtimeLimits(rt), jobTrainCases(p, records, split)), fit);
      const tl = performance.now();
      const store = await CaseStore.load(patchPool, records, ds.preprocessing);
      log(`Loaded ${store.size} cases in ${((performance.now() - tl) / 1000).toFixed(1)} s`);
      try {
        const model = modelConfig(p);
        log(
          `Model: ${p.model.preset} preset, filters ${JSON.stringify(model.filters)}, ` +
            `${parameterCount(model).toLocaleString("en-US")} parameters; patch ${
              JSON.stringify(p.training.patchSize)
            }, ${p.training.epochs} epochs`,
        );
        const ctx: RunContext = {
          pipeline: p,
          dir,
          gpu,
          rt,
          pool,
          patchPool,
          store,
          split,
          model,
          log,
          progress: Boolean(o.progress),
          exampleCases: exampleCases(split, records, p.evaluation.examples),
        };
        let done = 0;
        const tj = performance.now();
        for (const job of todo) {
          const r = await runJob(ctx, job);
          done++;
          const el = (performance.now() - tj) / 1000;
          const eta = (el / done) * (todo.length - done);
          log(
            `[${done}/${todo.length}] ${job.id}: ${
              r.diverged ? divergenceText(r.diverged) : _jobLine(r, p)
            } (${(r.seconds.train + r.seconds.evaluate).toFixed(0)} s; ETA ${Math.round(eta)} s)`,
          );
        }
      } finally {
        await store.close();
      }
    } finally {
      await patchPool.close();
      pool.destroy();
      gpu.device.destroy();
    }
  }
  const reported = await mergeRun(dir, { log, require: false });
  const finished = await Promise.all(mine.map((j) => readJobResult(dir, j.id)));
  const { diverged, warnings } = runProblems(finished);
  for (const w of warnings) log(`Warning: ${w}`);
  return {
    dir,
    jobs: mine.length,
    skipped,
    reported,
    seconds: (performance.now() - t0) / 1000,
    diverged,
    warnings,
  };
}

/** Whether a job is done, not started (or unfinished), or has a corrupt `result.json`. */
async function _jobState(dir: string, id: string): Promise<"done" | "todo" | CorruptFileError> {
  try {
    await readJobResult(dir, id);
    return "done";
  } catch (err) {
    if (err instanceof CorruptFileError) return err;
    if (err instanceof Deno.errors.NotFound) return "todo";
    throw err;
  }
}

/** `workers` must be a positive integer when given. */
function _checkWorkers(workers: number | undefined): void {
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) {
    throw new RunOptionError(`Invalid --workers: expected a positive integer, got ${workers}`);
  }
}

/** The run folder must be a folder (or not exist yet). */
async function _checkOut(dir: string): Promise<void> {
  let info;
  try {
    info = await Deno.stat(dir);
  } catch {
    return;
  }
  if (!info.isDirectory) {
    throw new RunOptionError(`Invalid --out: ${dir} exists and is not a folder`);
  }
}

function _jobLine(r: JobResult, p: Pipeline): string {
  const target = p.evaluation.target.className;
  const [g1, g2] = p.evaluation.target.groups;
  const mean = (g: string) => {
    const xs = r.rows.filter((x) => x.className === target && x.group === g && x.dsc !== null);
    return xs.length ? (xs.reduce((s, x) => s + (x.dsc ?? 0), 0) / xs.length).toFixed(3) : "-";
  };
  return `DSC ${target} ${g1} ${mean(g1)} ${g2} ${mean(g2)}`;
}
