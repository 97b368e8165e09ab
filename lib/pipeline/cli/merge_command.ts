/**
 * `deno task merge <run-dir>`: build the report of a sharded run once every job is done.
 *
 * @module
 */

import { mergeRun } from "../merge.ts";

/**
 * Run the `merge` command.
 *
 * @param target The run folder.
 * @returns The exit code.
 */
export async function mergeCommand(target: string): Promise<number> {
  await mergeRun(target, { require: true });
  console.log(await Deno.readTextFile(`${target}/table1.md`));
  return 0;
}
