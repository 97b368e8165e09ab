/**
 * `deno task compare <run-dir> --pairs A:B`: paired bootstrap of DSC between experiments of a
 * run, Holm-adjusted.
 *
 * @module
 */

import { compareExperiments, type CompareRows, comparisonTable } from "../compare.ts";
import { type CliValues, intFlag, listFlag, readJsonFlag, UsageError } from "./_args.ts";

/**
 * Run the `compare` command.
 *
 * @param target The run folder.
 * @param v Flags.
 * @returns The exit code.
 */
export async function compareCommand(target: string, v: CliValues): Promise<number> {
  if (!v.pairs) throw new UsageError("compare needs --pairs A:B[,A:B…] (experiment ids)");
  const pairs = v.pairs.split(",").map((t) => {
    const m = /^\s*([^:\s]+)\s*:\s*([^:\s]+)\s*$/.exec(t);
    if (!m) throw new UsageError(`Invalid --pairs entry "${t}": expected A:B`);
    return [m[1], m[2]] as [string, string];
  });
  const results = await readJsonFlag(`${target}/results.json`, "run folder's") as CompareRows;
  const resamples = intFlag(v.resamples, "--resamples") ?? 10000;
  const comparisons = compareExperiments(results, {
    pairs,
    classes: listFlag(v.classes),
    resamples,
  });
  if (v.json) console.log(JSON.stringify(comparisons, null, 2));
  else {
    console.log(
      `Paired bootstrap of the mean DSC difference over the same cases ` +
        `(${resamples} resamples, seed 1), Holm-adjusted ` +
        `over ${comparisons.length} tests:\n`,
    );
    console.log(comparisonTable(comparisons));
  }
  return 0;
}
