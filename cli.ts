/**
 * The dicelab command line (the usage text of `lib/pipeline/cli_main.ts` is the full reference):
 *
 * ```
 * deno task run <pipeline.ts> [--data DIR] [--out DIR] [--quick] [--folds N] [--only EXP[,EXP]]
 *                             [--resume] [--seed N] [--shard i/n] [--workers N]
 * deno task reproduce <pipeline.ts> --expect FILE [--run DIR] [--quick] [--folds N]
 *                             [--only EXP[,EXP]] [--data DIR] [--out DIR] [--update]
 * deno task analyze <pipeline.ts> [--data DIR] [--quick] [--json]
 * deno task merge <run-dir>
 * deno task compare <run-dir> --pairs A:B[,A:B] [--classes C[,C]] [--resamples N] [--json]
 * deno task breakdown <run-dir> [--by FIELD] [--classes C[,C]] [--data DIR] [--json]
 * deno task predict --model RUN|RUN/jobs/JOB|FILE.dicelab --input DIR|FILE --out DIR
 *                             [--config LABELING/EXPERIMENT/B] [--folds all|0,2] [--tta mirror]
 *                             [--probabilities] [--step F]
 * deno task export <run-dir>[/jobs/JOB] --out FILE.dicelab [--config LABELING/EXPERIMENT/B]
 *                             [--folds all|0,2] [--format dicelab]
 * ```
 *
 * @module
 */

import { main } from "./lib/pipeline/cli_main.ts";

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
