/**
 * `deno task breakdown <run-dir>`: a run's target class per subgroup (e.g. ACDC pathology).
 *
 * @module
 */

import {
  BREAKDOWN_LEGEND,
  type BreakdownInput,
  breakdownResults,
  breakdownTable,
} from "../../report/breakdown.ts";
import { pipelineDataset } from "../resolve.ts";
import { readResolvedRun } from "../run_folder.ts";
import { subjectSubgroups } from "../subgroups.ts";
import { type CliValues, listFlag, readJsonFlag } from "./_args.ts";

/**
 * Run the `breakdown` command.
 *
 * @param target The run folder.
 * @param v Flags.
 * @returns The exit code.
 */
export async function breakdownCommand(target: string, v: CliValues): Promise<number> {
  const run = await readResolvedRun(target);
  const results = await readJsonFlag(`${target}/results.json`, "run folder's") as BreakdownInput;
  const subgroups = await subjectSubgroups(run, { data: v.data, key: v.by });
  const by = v.by ?? pipelineDataset(run.pipeline).subgroup?.key;
  const cells = breakdownResults(results, (s) => subgroups.get(s), {
    classes: listFlag(v.classes),
  });
  if (v.json) console.log(JSON.stringify(cells, null, 2));
  else {
    console.log(`Results of ${target} by ${by}. ${BREAKDOWN_LEGEND}.\n`);
    const labels = Object.fromEntries(
      (results.experiments ?? []).map((e) => [e.name, e.label ?? e.name]),
    );
    console.log(breakdownTable(cells, results.target?.groups, labels));
  }
  return 0;
}
