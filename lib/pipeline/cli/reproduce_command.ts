/**
 * `deno task reproduce <pipeline.ts> --expect FILE`: run (or read) a run and compare it with a
 * stored reference; `--update` writes the reference instead. Exits 1 on a regression.
 *
 * @module
 */

import { loadPipeline } from "../define_pipeline.ts";
import {
  compareWithReference,
  diffTable,
  parseReference,
  referenceMismatch,
  writeReference,
} from "../reproduce.ts";
import { runPipeline } from "../run.ts";
import { readResolvedRun } from "../run_folder.ts";
import {
  type CliValues,
  foldsText,
  intFlag,
  listFlag,
  listText,
  readJsonFlag,
  UsageError,
} from "./_args.ts";

/**
 * Run the `reproduce` command.
 *
 * @param target The pipeline file.
 * @param v Flags.
 * @param progress Whether to show live progress.
 * @returns The exit code.
 */
export async function reproduceCommand(
  target: string,
  v: CliValues,
  progress: boolean,
): Promise<number> {
  if (!v.expect) throw new UsageError("reproduce needs --expect FILE");
  const { pipeline } = await loadPipeline(target);
  // The reference says which folds it was made from; the run uses the same ones.
  const expected = v.update
    ? undefined
    : parseReference(await readJsonFlag(v.expect, "--expect"), v.expect);
  const mismatch = expected ? referenceMismatch(expected, pipeline) : [];
  if (mismatch.length > 0) {
    throw new UsageError(
      `The reference ${v.expect} does not fit ${target}: ${mismatch.join("; ")}`,
    );
  }
  if (expected && expected.quick !== Boolean(v.quick)) {
    throw new UsageError(
      `The reference ${v.expect} was made ${expected.quick ? "with" : "without"} --quick; ` +
        `run reproduce ${expected.quick ? "with" : "without"} it`,
    );
  }
  let folds = intFlag(v.folds, "--folds") ?? expected?.folds;
  if (expected && expected.folds !== folds) {
    throw new UsageError(
      `--folds ${folds ?? "(all)"} differs from the reference ${v.expect}, made from ` +
        foldsText(expected.folds),
    );
  }
  let only = listFlag(v.only) ?? expected?.only;
  if (expected && listText(expected.only) !== listText(only)) {
    throw new UsageError(
      `--only ${listText(only)} differs from the reference ${v.expect}, made from ` +
        `${expected.only ? `--only ${listText(expected.only)}` : "every experiment"}`,
    );
  }
  let dir = v.run;
  if (!dir) {
    const s = await runPipeline({
      pipeline,
      source: target,
      data: v.data,
      out: v.out,
      quick: v.quick,
      folds,
      only,
      resume: Boolean(v.out),
      progress,
    });
    dir = s.dir;
  } else {
    const run = await readResolvedRun(dir);
    if (run.pipeline.name !== pipeline.name) {
      throw new Error(
        `Cannot compare: ${dir} holds pipeline "${run.pipeline.name}", not "${pipeline.name}"`,
      );
    }
    if (v.update) {
      folds = run.selection.folds;
      only = run.selection.only;
    } else if (run.selection.folds !== folds) {
      throw new Error(
        `Cannot compare: ${dir} ran ${foldsText(run.selection.folds)} but the reference ` +
          `${v.expect} was made from ${foldsText(folds)}`,
      );
    } else if (listText(run.selection.only) !== listText(only)) {
      throw new Error(
        `Cannot compare: ${dir} ran experiments ${listText(run.selection.only)} but the ` +
          `reference ${v.expect} was made from ${listText(only)}`,
      );
    }
  }
  const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  if (v.update) {
    let old;
    try {
      old = parseReference(JSON.parse(await Deno.readTextFile(v.expect)), v.expect);
    } catch { /* new reference */ }
    const ref = await writeReference(v.expect, results, {
      quick: Boolean(v.quick),
      folds,
      only,
      tolerances: old?.tolerances ?? { dsc: 0.08, deltaVolumeMl: 5, auc: 0.15 },
      claims: old?.claims,
      note: old?.note,
    });
    console.log(
      `Wrote reference ${v.expect} (${ref.cells.length} cells, ${ref.claims.length} claims)`,
    );
    return 0;
  }
  const { lines, ok } = compareWithReference(results, expected!);
  console.log(diffTable(lines));
  const failed = lines.filter((l) => !l.ok).length;
  console.log(
    ok
      ? `reproduce: OK — ${lines.length} checks within tolerance (${v.expect})`
      : `reproduce: REGRESSION — ${failed} of ${lines.length} checks failed (${v.expect})`,
  );
  return ok ? 0 : 1;
}
