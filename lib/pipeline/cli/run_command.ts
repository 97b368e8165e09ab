/**
 * `deno task run <pipeline.ts>`: run a pipeline (or a shard of it) and print Table 1 when the
 * report is written.
 *
 * @module
 */

import { loadPipeline } from "../define_pipeline.ts";
import { runPipeline } from "../run.ts";
import type { RunSummary } from "../run_types.ts";
import {
  bytesFlag,
  type CliValues,
  intFlag,
  listFlag,
  positiveIntFlag,
  seedFlag,
  shardFlag,
} from "./_args.ts";

/**
 * Run the `run` command.
 *
 * @param target The pipeline file.
 * @param v Flags.
 * @param progress Whether to show live progress.
 * @returns The exit code: 1 when a job diverged.
 */
export async function runCommand(target: string, v: CliValues, progress: boolean): Promise<number> {
  const { pipeline } = await loadPipeline(target);
  const summary = await runPipeline({
    pipeline,
    source: target,
    data: v.data,
    out: v.out,
    quick: v.quick,
    folds: intFlag(v.folds, "--folds"),
    only: listFlag(v.only),
    resume: v.resume,
    seed: seedFlag(v.seed),
    shard: v.shard ? shardFlag(v.shard) : undefined,
    workers: positiveIntFlag(v.workers, "--workers"),
    memoryLimit: bytesFlag(v["memory-limit"], "--memory-limit"),
    progress,
  });
  console.log(
    `Done in ${(summary.seconds / 60).toFixed(1)} min: ${summary.jobs} jobs ` +
      `(${summary.skipped} already done) in ${summary.dir}` +
      (summary.reported ? `; report: ${summary.dir}/report.html` : ""),
  );
  if (summary.reported) {
    console.log(await Deno.readTextFile(`${summary.dir}/table1.md`));
  }
  return runExitCode(summary);
}

/**
 * The exit code of a finished run: 0, or 1 (with a message on stderr) when a job diverged.
 *
 * @param summary The run's summary.
 * @returns The code.
 */
export function runExitCode(summary: RunSummary): number {
  if (summary.diverged.length === 0) return 0;
  console.error(
    `Error: ${summary.diverged.length} job(s) diverged: ${summary.diverged.join(", ")} ` +
      `(see the warnings above and their log.txt; the other jobs finished)`,
  );
  return 1;
}
