/**
 * The dicelab command line:
 *
 * ```
 * deno task run pipelines/acdc.ts [--data DIR] [--out DIR] [--quick] [--folds N] [--only EXP]
 *                                 [--resume] [--seed N] [--shard i/n]
 * deno task reproduce pipelines/acdc.ts --expect results/acdc-phantom.json [--run DIR] [--quick]
 * deno task analyze pipelines/acdc.ts [--data DIR] [--quick]
 * deno task merge DIR
 * ```
 *
 * @module
 */

import { main } from "./lib/pipeline/cli_main.ts";

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
