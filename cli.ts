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
 * ```
 *
 * @module
 */

import { main } from "./lib/pipeline/cli_main.ts";

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
