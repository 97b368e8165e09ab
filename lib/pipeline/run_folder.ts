/**
 * The run folder's files: its name, `pipeline.json` (written once, checked on resume),
 * `environment.json`, and reading the resolved run and the jobs' `result.json` back.
 *
 * ```
 * pipeline.json  environment.json  folds.json  results.json  table1.md  report.json
 * report.html  roc.svg  overlay_*.png  telemetry.svg  examples/
 * jobs/<job>/ log.txt train.jsonl epochs.jsonl checkpoint.ckpt weights.ckpt result.json
 *             predictions/<case>.nii.gz
 * ```
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../core/atomic_write.ts";
import { exists } from "../core/exists.ts";
import type { GpuContext } from "../gpu/device.ts";
import { validatePipeline } from "./define_pipeline.ts";
import { RunOptionError } from "./errors.ts";
import type { JobResult, ResolvedRun } from "./run_types.ts";

function _timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${
    p(d.getMinutes())
  }${p(d.getSeconds())}`;
}

async function _latestRun(name: string): Promise<string | undefined> {
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir("runs")) {
      if (e.isDirectory && e.name.startsWith(`${name}-`)) dirs.push(`runs/${e.name}`);
    }
  } catch {
    return undefined;
  }
  return dirs.sort().pop();
}

/**
 * The run folder: `--out`, else with `--resume` the latest `runs/<name>-*`, else a new
 * `runs/<name>-<timestamp>`.
 *
 * @param name Pipeline name.
 * @param o `out` and `resume`.
 * @returns The folder path (not created).
 */
export async function runFolderPath(
  name: string,
  o: { out?: string; resume?: boolean },
): Promise<string> {
  let dir = o.out;
  if (!dir && o.resume) dir = await _latestRun(name);
  return dir ?? `runs/${name}-${_timestamp()}`;
}

/**
 * Write `pipeline.json`, or check that the folder's one records the same run. Jobs are
 * independent and named by id, so a run may grow or shrink its selection (`--folds 2` now,
 * all folds later) as long as everything else is the same.
 *
 * @param dir Run folder (exists).
 * @param source The pipeline file.
 * @param resolved The resolved run.
 * @throws {RunOptionError} When the folder holds a different pipeline or options (naming the
 *   fields that differ).
 * @throws {Error} When its `pipeline.json` is not JSON.
 */
export async function writeRunRecord(
  dir: string,
  source: string,
  resolved: ResolvedRun,
): Promise<void> {
  const pipelineJson =
    JSON.stringify({ schema: "dicelab.pipeline/1", source, ...resolved }, null, 2) + "\n";
  if (await exists(`${dir}/pipeline.json`)) {
    const have = await Deno.readTextFile(`${dir}/pipeline.json`);
    let recorded: Record<string, unknown>;
    try {
      recorded = JSON.parse(have);
    } catch (err) {
      throw new Error(
        `Cannot run into ${dir}: its pipeline.json is not valid JSON (${
          (err as Error).message
        }); ` +
          `restore it or use another --out`,
      );
    }
    const { selection: _a, ...was } = recorded;
    const { selection: _b, ...now } = JSON.parse(pipelineJson);
    const diff = jsonDiff(was, now);
    if (diff.length > 0) {
      const shown = diff.slice(0, 6).map((d) =>
        `  ${d.path}: ${_short(d.was)} in the folder, ${_short(d.now)} now`
      );
      throw new RunOptionError(
        `Cannot run into ${dir}: it holds a different pipeline or options (pipeline.json differs ` +
          `in ${diff.length} field(s)); use another --out or the same options\n${
            shown.join("\n")
          }` +
          (diff.length > 6 ? `\n  …` : ""),
      );
    }
    if (have !== pipelineJson) await writeFileAtomic(`${dir}/pipeline.json`, pipelineJson);
  } else {
    await writeFileAtomic(`${dir}/pipeline.json`, pipelineJson);
  }
}

function _short(v: unknown): string {
  if (v === undefined) return "(absent)";
  const t = JSON.stringify(v);
  return t.length > 60 ? `${t.slice(0, 57)}…` : t;
}

/**
 * The fields in which two JSON values differ, as dotted paths (arrays and scalars compare whole).
 *
 * @param a One value.
 * @param b The other.
 * @param path Prefix.
 * @returns `{ path, was, now }` per differing field, in key order.
 */
export function jsonDiff(
  a: unknown,
  b: unknown,
  path = "",
): { path: string; was: unknown; now: unknown }[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => jsonDiff(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b)
    ? []
    : [{ path: path || "(root)", was: a, now: b }];
}

/**
 * Read a run folder's resolved pipeline.
 *
 * @param dir Run folder.
 * @returns The resolved run (validated pipeline, selection, dataset).
 * @throws {Error} When `pipeline.json` is missing or invalid.
 */
export async function readResolvedRun(dir: string): Promise<ResolvedRun> {
  let raw: ResolvedRun & { schema?: string };
  try {
    raw = JSON.parse(await Deno.readTextFile(`${dir}/pipeline.json`));
  } catch (err) {
    throw new Error(
      `Cannot read run folder ${dir}: pipeline.json is missing or unreadable (${
        (err as Error).message
      })`,
    );
  }
  return { ...raw, pipeline: validatePipeline(raw.pipeline, `${dir}/pipeline.json`) };
}

/**
 * The path of a job's `result.json`.
 *
 * @param dir Run folder.
 * @param jobId Job id.
 * @returns The path.
 */
export function jobResultPath(dir: string, jobId: string): string {
  return `${dir}/jobs/${jobId}/result.json`;
}

/**
 * Read and validate a finished job's result.
 *
 * @param dir Run folder.
 * @param jobId Job id.
 * @returns The result.
 * @throws {Deno.errors.NotFound} When the job has no `result.json` (not finished).
 * @throws {CorruptFileError} When the file is not JSON or not a result of this job.
 */
export async function readJobResult(dir: string, jobId: string): Promise<JobResult> {
  const path = jobResultPath(dir, jobId);
  const text = await Deno.readTextFile(path);
  let v: Partial<JobResult> | null;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CorruptFileError(path, `not valid JSON (${(err as Error).message})`);
  }
  const bad = (what: string) => new CorruptFileError(path, what);
  if (!v || typeof v !== "object") throw bad("not an object");
  if (!v.job || v.job.id !== jobId) {
    throw bad(`job.id is ${JSON.stringify(v.job?.id)}, expected "${jobId}"`);
  }
  if (!Array.isArray(v.rows)) throw bad("rows is not an array");
  if (!v.training || typeof v.training !== "object") throw bad("training is missing");
  if (!v.seconds || typeof v.seconds.train !== "number") throw bad("seconds is missing");
  return v as JobResult;
}

/** A run-folder file that exists but cannot be trusted. */
export class CorruptFileError extends Error {
  /** The file. */
  readonly path: string;
  /**
   * Create the error.
   *
   * @param path The file.
   * @param what What is wrong with it.
   */
  constructor(path: string, what: string) {
    super(`${path} is corrupt: ${what}`);
    this.name = "CorruptFileError";
    this.path = path;
  }
}

/**
 * Write `environment.json`: Deno, OS, CPU count and the adapter.
 *
 * @param dir Run folder.
 * @param gpu The device context.
 */
export async function writeEnvironment(dir: string, gpu: GpuContext): Promise<void> {
  let os = "unknown";
  try {
    os = `${Deno.build.os} ${Deno.osRelease()}`;
  } catch { /* no sys permission */ }
  await writeJsonAtomic(`${dir}/environment.json`, {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os,
    arch: Deno.build.arch,
    cpus: navigator.hardwareConcurrency,
    adapter: gpu.adapter,
  });
}
