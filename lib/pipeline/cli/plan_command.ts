/**
 * `deno task plan <pipeline.ts>`: size every job before running it — parameters, peak GPU
 * bytes, GFLOP per step, estimated step and job time on this adapter (from a short calibration)
 * and whether the job fits the adapter's limits.
 *
 * @module
 */

import { loadPipeline } from "../define_pipeline.ts";
import { formatJobPlan, jobMisfit, planPipeline } from "../plan.ts";
import { bytesFlag, type CliValues } from "./_args.ts";

/**
 * Run the `plan` command.
 *
 * @param target The pipeline file.
 * @param v Flags (`--data`, `--quick`, `--memory-limit`, `--json`).
 * @returns The exit code: 0 (also when a job does not fit: `run` refuses it).
 */
export async function planCommand(target: string, v: CliValues): Promise<number> {
  const { pipeline } = await loadPipeline(target);
  const plan = await planPipeline(pipeline, {
    data: v.data,
    quick: v.quick,
    memoryLimit: bytesFlag(v["memory-limit"], "--memory-limit"),
  });
  if (v.json) {
    console.log(JSON.stringify(plan, null, 2));
    return 0;
  }
  const { limits } = plan;
  console.log(
    `Adapter: ${plan.adapter}; calibrated ${plan.gflops.toFixed(1)} GFLOP/s; memory limit ${
      limits.memoryLimit === undefined ? "none" : `${(limits.memoryLimit / 1e9).toFixed(2)} GB`
    } (${limits.memorySource}); maxBufferSize ${limits.maxBufferSize}`,
  );
  for (const j of plan.jobs) console.log(formatJobPlan(j, limits, plan.gflops));
  const misfits = plan.jobs.filter((j) => jobMisfit(j, limits) !== undefined).length;
  if (misfits > 0) console.log(`${misfits} job(s) do not fit: run refuses them`);
  return 0;
}
