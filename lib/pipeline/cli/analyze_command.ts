/**
 * `deno task analyze <pipeline.ts>`: predict the Φ/ε regime of every configuration from the
 * training labels, before any training.
 *
 * @module
 */

import { analysisTable, analyzePipeline } from "../analyze.ts";
import { loadPipeline } from "../define_pipeline.ts";
import type { CliValues } from "./_args.ts";

/**
 * Run the `analyze` command.
 *
 * @param target The pipeline file.
 * @param v Flags.
 * @returns The exit code.
 */
export async function analyzeCommand(target: string, v: CliValues): Promise<number> {
  const { pipeline } = await loadPipeline(target);
  const rows = await analyzePipeline(pipeline, { data: v.data, quick: v.quick });
  if (v.json) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(analysisTable(rows, pipeline.evaluation.target.className));
    console.log(
      "\nratio = mean |∂L/∂ŷ| on empty-target maps / on labelled maps (Eq. 4, network " +
        "predicting the object everywhere). ≥ 0.05: learns empty maps; ≤ 0.001: ignores " +
        "missing labels.",
    );
  }
  return 0;
}
