/**
 * The command-line front end: parses the command and its flags and dispatches to one file per
 * command under `cli/` (`run`, `plan`, `reproduce`, `analyze`, `merge`, `compare`, `breakdown`,
 * `predict`, `export`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GpuUnavailableError } from "../gpu/device.ts";
import { TrainingDivergedError } from "../train/trainer.ts";
import { CLI_OPTIONS, type CliValues, UsageError } from "./cli/_args.ts";
import { analyzeCommand } from "./cli/analyze_command.ts";
import { breakdownCommand } from "./cli/breakdown_command.ts";
import { compareCommand } from "./cli/compare_command.ts";
import { exportCommand } from "./cli/export_command.ts";
import { mergeCommand } from "./cli/merge_command.ts";
import { planCommand } from "./cli/plan_command.ts";
import { predictCommand } from "./cli/predict_command.ts";
import { reproduceCommand } from "./cli/reproduce_command.ts";
import { runCommand } from "./cli/run_command.ts";
import { PipelineError, PipelineLoadError } from "./define_pipeline.ts";
import { RunOptionError } from "./errors.ts";

const USAGE = `dicelab — Dice-loss experiments on WebGPU

Usage:
  deno task run <pipeline.ts> [--data DIR] [--out DIR] [--quick] [--folds N] [--only EXP[,EXP]]
                              [--resume] [--seed N] [--shard i/n] [--workers N]
                              [--memory-limit BYTES]
  deno task plan <pipeline.ts> [--data DIR] [--quick] [--memory-limit BYTES] [--json]
  deno task reproduce <pipeline.ts> --expect FILE [--run DIR] [--quick] [--folds N]
                              [--only EXP[,EXP]] [--data DIR] [--out DIR] [--update]
  deno task analyze <pipeline.ts> [--data DIR] [--quick] [--json]
  deno task merge <run-dir>
  deno task compare <run-dir> --pairs A:B[,A:B] [--classes C[,C]] [--resamples N] [--json]
  deno task breakdown <run-dir> [--by FIELD] [--classes C[,C]] [--data DIR] [--json]
  deno task predict --model RUN|RUN/jobs/JOB|FILE.dicelab --input DIR|FILE --out DIR
                              [--config LABELING/EXPERIMENT/B] [--folds all|0,2] [--tta mirror]
                              [--probabilities] [--step F]
  deno task export <run-dir>[/jobs/JOB] --out FILE.dicelab [--config LABELING/EXPERIMENT/B]
                              [--folds all|0,2] [--format dicelab]

Without --data the matching phantom dataset is generated once (cached in .cache/phantoms).

Exit codes: 0 done; 1 a data or runtime error, a diverged job, or a reproduce regression;
2 a usage error, an invalid pipeline or option (reported before any work); 3 no WebGPU adapter.`;

/**
 * Run the CLI.
 *
 * @param argv Arguments after the script (`run pipelines/acdc.ts --quick`).
 * @returns The process exit code: 0 ok; 1 a data or runtime error, a diverged job or a
 *   regression; 2 a usage error, a bad pipeline or run option (before any work); 3 no GPU.
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    return await _main([...argv]);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (
      err instanceof PipelineError || err instanceof PipelineLoadError ||
      err instanceof RunOptionError
    ) {
      console.error(err.message);
      return 2;
    }
    if (err instanceof GpuUnavailableError) {
      console.error(err.message);
      return 3;
    }
    if (err instanceof TrainingDivergedError) {
      console.error(err.message);
      return 1;
    }
    console.error(`Error: ${(err as Error).message ?? err}`);
    if (Deno.env.get("DICELAB_DEBUG")) console.error((err as Error).stack);
    return 1;
  }
}

async function _main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: CLI_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { positionals } = parsed;
  const v: CliValues = parsed.values;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const progress = Deno.stdout.isTerminal();
  if (command === "predict") {
    if (positionals.length > 0) {
      throw new UsageError(`Unexpected argument "${positionals[0]}" (give --model and --input)`);
    }
    return await predictCommand(v, progress);
  }
  const target = positionals[0];
  if (!target) {
    throw new UsageError(
      `Missing ${
        ["merge", "compare", "breakdown", "export"].includes(command)
          ? "run folder"
          : "pipeline file"
      }`,
    );
  }
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}"`);

  switch (command) {
    case "run":
      return await runCommand(target, v, progress);
    case "reproduce":
      return await reproduceCommand(target, v, progress);
    case "plan":
      return await planCommand(target, v);
    case "analyze":
      return await analyzeCommand(target, v);
    case "compare":
      return await compareCommand(target, v);
    case "breakdown":
      return await breakdownCommand(target, v);
    case "merge":
      return await mergeCommand(target);
    case "export":
      return await exportCommand(target, v);
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}
