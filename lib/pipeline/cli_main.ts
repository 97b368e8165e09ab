/**
 * The command-line front end: `run`, `reproduce`, `analyze`, `merge`, `compare` and `breakdown`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GpuUnavailableError } from "../gpu/device.ts";
import { TrainingDivergedError } from "../train/trainer.ts";
import { analysisTable, analyzePipeline } from "./analyze.ts";
import { loadPipeline, PipelineError } from "./define_pipeline.ts";
import { parseShard } from "./jobs.ts";
import { mergeRun, readResolvedRun } from "./merge.ts";
import { compareExperiments, type CompareRows, comparisonTable } from "./compare.ts";
import {
  BREAKDOWN_LEGEND,
  type BreakdownInput,
  breakdownResults,
  breakdownTable,
} from "../report/breakdown.ts";
import { subjectSubgroups } from "./breakdown.ts";
import { compareWithReference, diffTable, parseReference, writeReference } from "./reproduce.ts";
import { runPipeline } from "./run.ts";

const USAGE = `dicelab — Dice-loss experiments on WebGPU

Usage:
  deno task run <pipeline.ts> [--data DIR] [--out DIR] [--quick] [--folds N] [--only EXP[,EXP]]
                              [--resume] [--seed N] [--shard i/n] [--workers N]
  deno task reproduce <pipeline.ts> --expect FILE [--run DIR] [--quick] [--folds N]
                              [--only EXP[,EXP]] [--data DIR] [--out DIR] [--update]
  deno task analyze <pipeline.ts> [--data DIR] [--quick] [--json]
  deno task merge <run-dir>
  deno task compare <run-dir> --pairs A:B[,A:B] [--classes C[,C]] [--resamples N] [--json]
  deno task breakdown <run-dir> [--by FIELD] [--classes C[,C]] [--data DIR] [--json]

Without --data the matching phantom dataset is generated once (cached in .cache/phantoms).`;

class UsageError extends Error {}

function _int(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) {
    throw new UsageError(`Invalid ${flag}: expected an integer, got "${v}"`);
  }
  return n;
}

function _shard(text: string) {
  try {
    return parseShard(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** "the first n fold(s)" or "every fold" for a `--folds` selection. */
function _foldsText(folds: number | undefined): string {
  return folds ? `the first ${folds} fold(s)` : "every fold";
}

/** A comma-separated flag value as a list (undefined when absent or empty). */
function _list(v: string | undefined): string[] | undefined {
  const items = v?.split(",").map((s) => s.trim()).filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

/** An experiment selection for messages and comparison: "A,B" (sorted) or "(all)". */
function _listText(list: readonly string[] | undefined): string {
  return list ? [...list].sort().join(",") : "(all)";
}

async function _readJson(path: string, flag: string): Promise<unknown> {
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`Cannot read ${flag} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

const RUN_OPTIONS = {
  data: { type: "string" },
  out: { type: "string" },
  quick: { type: "boolean" },
  folds: { type: "string" },
  only: { type: "string" },
  resume: { type: "boolean" },
  seed: { type: "string" },
  shard: { type: "string" },
  workers: { type: "string" },
  expect: { type: "string" },
  run: { type: "string" },
  update: { type: "boolean" },
  json: { type: "boolean" },
  pairs: { type: "string" },
  classes: { type: "string" },
  resamples: { type: "string" },
  by: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Run the CLI.
 *
 * @param argv Arguments after the script (`run pipelines/acdc.ts --quick`).
 * @returns The process exit code: 0 ok, 1 failure/regression, 2 bad usage or pipeline, 3 no GPU.
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    return await _main([...argv]);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof PipelineError) {
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
    parsed = parseArgs({ args: rest, options: RUN_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const target = positionals[0];
  if (!target) {
    throw new UsageError(
      `Missing ${
        ["merge", "compare", "breakdown"].includes(command) ? "run folder" : "pipeline file"
      }`,
    );
  }
  if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}"`);
  const progress = Deno.stdout.isTerminal();

  switch (command) {
    case "run": {
      const { pipeline } = await loadPipeline(target);
      const summary = await runPipeline({
        pipeline,
        source: target,
        data: v.data,
        out: v.out,
        quick: v.quick,
        folds: _int(v.folds, "--folds"),
        only: _list(v.only),
        resume: v.resume,
        seed: _int(v.seed, "--seed"),
        shard: v.shard ? _shard(v.shard) : undefined,
        workers: _int(v.workers, "--workers"),
        progress,
      });
      console.log(
        `Done in ${(summary.seconds / 60).toFixed(1)} min: ${summary.jobs} jobs ` +
          `(${summary.skipped} already done) in ${summary.dir}` +
          (summary.reported ? `; report: ${summary.dir}/report.html` : ""),
      );
      if (summary.reported) {
        console.log(await Deno.readTextFile(`${summary.dir}/table1.md`));
      }
      return 0;
    }
    case "reproduce": {
      if (!v.expect) throw new UsageError("reproduce needs --expect FILE");
      const { pipeline } = await loadPipeline(target);
      // The reference says which folds it was made from; the run uses the same ones.
      const expected = v.update
        ? undefined
        : parseReference(await _readJson(v.expect, "--expect"), v.expect);
      if (expected && expected.quick !== Boolean(v.quick)) {
        throw new UsageError(
          `The reference ${v.expect} was made ${expected.quick ? "with" : "without"} --quick; ` +
            `run reproduce ${expected.quick ? "with" : "without"} it`,
        );
      }
      let folds = _int(v.folds, "--folds") ?? expected?.folds;
      if (expected && expected.folds !== folds) {
        throw new UsageError(
          `--folds ${folds ?? "(all)"} differs from the reference ${v.expect}, made from ` +
            _foldsText(expected.folds),
        );
      }
      let only = _list(v.only) ?? expected?.only;
      if (expected && _listText(expected.only) !== _listText(only)) {
        throw new UsageError(
          `--only ${_listText(only)} differs from the reference ${v.expect}, made from ` +
            `${expected.only ? `--only ${_listText(expected.only)}` : "every experiment"}`,
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
            `Cannot compare: ${dir} ran ${_foldsText(run.selection.folds)} but the reference ` +
              `${v.expect} was made from ${_foldsText(folds)}`,
          );
        } else if (_listText(run.selection.only) !== _listText(only)) {
          throw new Error(
            `Cannot compare: ${dir} ran experiments ${_listText(run.selection.only)} but the ` +
              `reference ${v.expect} was made from ${_listText(only)}`,
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
    case "analyze": {
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
    case "compare": {
      if (!v.pairs) throw new UsageError("compare needs --pairs A:B[,A:B…] (experiment ids)");
      const pairs = v.pairs.split(",").map((t) => {
        const m = /^\s*([^:\s]+)\s*:\s*([^:\s]+)\s*$/.exec(t);
        if (!m) throw new UsageError(`Invalid --pairs entry "${t}": expected A:B`);
        return [m[1], m[2]] as [string, string];
      });
      const results = await _readJson(`${target}/results.json`, "run folder's") as CompareRows;
      const resamples = _int(v.resamples, "--resamples") ?? 10000;
      const comparisons = compareExperiments(results, {
        pairs,
        classes: _list(v.classes),
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
    case "breakdown": {
      const run = await readResolvedRun(target);
      const results = await _readJson(`${target}/results.json`, "run folder's") as BreakdownInput;
      const by = v.by ?? "pathology";
      const subgroups = await subjectSubgroups(run, { data: v.data, key: by });
      const cells = breakdownResults(results, (s) => subgroups.get(s), {
        classes: _list(v.classes),
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
    case "merge": {
      await mergeRun(target, { require: true });
      console.log(await Deno.readTextFile(`${target}/table1.md`));
      return 0;
    }
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}
