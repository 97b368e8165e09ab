/**
 * A trained model from a run folder: one job (`RUN/jobs/JOB`), or the folds of one
 * configuration (labeling / experiment / B) of a run as an ensemble — with the weights the run
 * evaluated, the network, the preprocessing and window settings from `pipeline.json`, the
 * dataset's channel and class names, the loss and the provenance. What `predict` runs and
 * `export` writes.
 *
 * @module
 */

import { exists } from "../core/exists.ts";
import { targetNames } from "../data/datasets.ts";
import { DICELAB_VERSION } from "../model/dicelab_version.ts";
import { readModelFile } from "../model/model_file.ts";
import { selectMembers } from "../model/model_predictor.ts";
import type { DicelabModel, ModelMember, ModelPreprocessing } from "../model/model_types.ts";
import { loadCheckpoint } from "../nn/checkpoint.ts";
import type { UNetConfig } from "../nn/unet_config.ts";
import { jobSeed } from "./_job_config.ts";
import { RunOptionError } from "./errors.ts";
import { pipelineDataset } from "./resolve.ts";
import { readJobResult, readResolvedRun } from "./run_folder.ts";
import type { JobResult, ResolvedRun } from "./run_types.ts";
import type { ExperimentConfig } from "./pipeline_types.ts";

/** Options of {@linkcode runModel}. */
export interface RunModelOptions {
  /**
   * The configuration of a run folder, `LABELING/EXPERIMENT/B` (B with or without its `b`).
   * @default the run's only configuration
   */
  config?: string;
  /** The folds of the ensemble. @default every finished fold */
  folds?: readonly number[];
}

/** What {@linkcode modelSourceKind} finds at a path. */
export type ModelSourceKind = "run" | "job" | "file";

/**
 * What a `--model` path is: a run folder (holds `pipeline.json`), a job folder
 * (`RUN/jobs/JOB`), or a file (a `.dicelab` model).
 *
 * @param path The path.
 * @returns Its kind.
 * @throws {RunOptionError} When it does not exist or is a folder of neither kind.
 */
export async function modelSourceKind(path: string): Promise<ModelSourceKind> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new RunOptionError(`Invalid model ${path}: it does not exist`);
  }
  if (info.isFile) return "file";
  const dir = path.replace(/\/+$/, "");
  if (await exists(`${dir}/pipeline.json`)) return "run";
  const parts = dir.split("/");
  if (parts.length >= 3 && parts.at(-2) === "jobs") {
    if (await exists(`${parts.slice(0, -2).join("/")}/pipeline.json`)) return "job";
  }
  throw new RunOptionError(
    `Invalid model ${path}: not a run folder (no pipeline.json), a job folder (RUN/jobs/JOB) ` +
      `or a model file`,
  );
}

/**
 * The model of a job folder or of one configuration of a run folder.
 *
 * @param path `RUN` or `RUN/jobs/JOB`.
 * @param options Configuration and folds (run folders).
 * @returns The model (one member per fold), with the weights each job evaluated (`best.ckpt`
 *   when its `result.json` says it evaluated the best-validation weights, else `weights.ckpt`).
 * @throws {RunOptionError} When the path is neither, the configuration is ambiguous or
 *   unknown (listing the choices), a fold is not finished, or a job diverged.
 * @throws {SyntaxError} When a checkpoint is corrupt.
 */
export async function runModel(path: string, options: RunModelOptions = {}): Promise<DicelabModel> {
  const kind = await modelSourceKind(path);
  if (kind === "file") {
    throw new RunOptionError(`Invalid run ${path}: it is a file, not a run or job folder`);
  }
  const dir = path.replace(/\/+$/, "");
  const runDir = kind === "job" ? dir.split("/").slice(0, -2).join("/") : dir;
  const run = await readResolvedRun(runDir);
  let results: JobResult[];
  if (kind === "job") {
    const id = dir.split("/").at(-1)!;
    if (options.config) {
      throw new RunOptionError(`Invalid --config: ${path} is one job (give its run folder)`);
    }
    results = [await _finished(runDir, id)];
    if (options.folds && !options.folds.every((f) => f === results[0].job.fold)) {
      throw new RunOptionError(
        `Invalid --folds: job ${id} is fold ${results[0].job.fold} (give its run folder for more)`,
      );
    }
  } else {
    results = _selectFolds(await _configuration(runDir, options.config), options.folds, runDir);
  }
  for (const r of results) {
    if (r.diverged) {
      throw new RunOptionError(
        `Cannot use job ${r.job.id} of ${runDir}: its training diverged (no trained weights)`,
      );
    }
  }
  return await _model(runDir, run, results);
}

/**
 * The model a path names: a `.dicelab` file, a job folder, or one
 * configuration of a run folder, with the folds selected.
 *
 * @param path The path.
 * @param o `--config` and `--folds`.
 * @returns The model with only the selected members.
 * @throws {RunOptionError} When the model cannot be chosen (listing the choices) or a fold
 *   is not in it.
 * @throws {SyntaxError} When a model file or checkpoint is corrupt.
 */
export async function modelFromPath(
  path: string,
  o: { config?: string; folds?: number[] },
): Promise<DicelabModel> {
  if ((await modelSourceKind(path)) !== "file") return await runModel(path, o);
  if (o.config) {
    throw new RunOptionError(`Invalid --config: ${path} is a model file (one configuration)`);
  }
  const model = await readModelFile(path);
  try {
    return { ...model, members: selectMembers(model, o.folds) };
  } catch (err) {
    throw new RunOptionError(`Invalid --folds: ${(err as Error).message} (${path})`);
  }
}

/**
 * A model in one phrase: `partial/I/b2 of tiny-acdc`.
 *
 * @param model The model.
 * @returns The phrase.
 */
export function modelText(model: DicelabModel): string {
  const p = model.provenance;
  return `${p.labeling}/${p.experiment}/b${p.batchSize} of ${p.pipeline}`;
}

async function _finished(runDir: string, id: string): Promise<JobResult> {
  try {
    return await readJobResult(runDir, id);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new RunOptionError(
        `Cannot use job ${id} of ${runDir}: it is not finished (no result.json)`,
      );
    }
    throw err;
  }
}

/** The key of a job's configuration: `LABELING/EXPERIMENT/bB`. */
function _key(r: JobResult): string {
  return `${r.job.labeling}/${r.job.experiment}/b${r.job.batchSize}`;
}

/** The finished jobs of one configuration of a run, by fold. */
async function _configuration(runDir: string, config?: string): Promise<JobResult[]> {
  const byKey = new Map<string, JobResult[]>();
  try {
    for await (const e of Deno.readDir(`${runDir}/jobs`)) {
      if (!e.isDirectory || !(await exists(`${runDir}/jobs/${e.name}/result.json`))) continue;
      const r = await readJobResult(runDir, e.name);
      byKey.set(_key(r), [...(byKey.get(_key(r)) ?? []), r]);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (byKey.size === 0) {
    throw new RunOptionError(`Cannot use run ${runDir}: it has no finished job`);
  }
  const choices = () =>
    [...byKey].sort(([a], [b]) => a.localeCompare(b)).map(([k, rs]) =>
      `  ${k} (fold${rs.length > 1 ? "s" : ""} ${rs.map((r) => r.job.fold).sort().join(", ")})`
    ).join("\n");
  let key: string;
  if (config) {
    const m = /^([^/]+)\/([^/]+)\/b?(\d+)$/.exec(config.trim());
    key = m ? `${m[1]}/${m[2]}/b${Number(m[3])}` : "";
    if (!m || !byKey.has(key)) {
      throw new RunOptionError(
        `Invalid --config ${config}: ${
          m ? "the run has no finished job of it" : "expected LABELING/EXPERIMENT/B"
        }; the run has\n${choices()}`,
      );
    }
  } else if (byKey.size > 1) {
    throw new RunOptionError(
      `Cannot choose a model in ${runDir}: it has ${byKey.size} configurations; pick one with ` +
        `--config LABELING/EXPERIMENT/B:\n${choices()}`,
    );
  } else key = [...byKey.keys()][0];
  return byKey.get(key)!.sort((a, b) => a.job.fold - b.job.fold);
}

function _selectFolds(
  results: JobResult[],
  folds: readonly number[] | undefined,
  runDir: string,
): JobResult[] {
  if (!folds) return results;
  const have = results.map((r) => r.job.fold);
  const missing = folds.filter((f) => !have.includes(f));
  if (missing.length > 0) {
    throw new RunOptionError(
      `Invalid --folds: fold ${missing.join(", ")} of ${_key(results[0])} is not finished in ` +
        `${runDir} (finished: ${have.join(", ")})`,
    );
  }
  return results.filter((r) => folds.includes(r.job.fold));
}

async function _model(
  runDir: string,
  run: ResolvedRun,
  results: readonly JobResult[],
): Promise<DicelabModel> {
  const p = run.pipeline;
  const ds = pipelineDataset(p);
  const first = results[0].job;
  let network: UNetConfig | undefined;
  const members: ModelMember[] = [];
  for (const r of results) {
    const evaluated = (r.training as { evaluated?: { kind: string; epoch?: number } }).evaluated;
    const best = evaluated?.kind === "best";
    const ckpt = await loadCheckpoint(
      `${runDir}/jobs/${r.job.id}/${best ? "best.ckpt" : "weights.ckpt"}`,
    );
    const cfg = ckpt.config as UNetConfig;
    if (network && JSON.stringify(cfg) !== JSON.stringify(network)) {
      throw new RunOptionError(
        `Cannot combine the folds of ${_key(r)}: job ${r.job.id} has another network`,
      );
    }
    network = cfg;
    members.push({
      fold: r.job.fold,
      job: r.job.id,
      seed: jobSeed(p, r.job.fold),
      weights: best ? "best" : "final",
      ...(best && evaluated?.epoch !== undefined ? { epoch: evaluated.epoch } : {}),
      epsilon: r.epsilon,
      tensors: ckpt.tensors,
    });
  }
  const K = network!.outChannels;
  const recorded = run as ResolvedRun & { source?: string };
  return {
    network: network!,
    preprocessing: modelPreprocessing(run.preprocessing, ds.intensityMask),
    inference: {
      window: [...p.training.patchSize],
      overlap: p.evaluation.window.overlap,
      blending: p.evaluation.window.blending,
      batch: first.batchSize,
      // SlidingWindowPredictor's default, which the run's evaluation used.
      threshold: 0.5,
    },
    dataset: {
      kind: ds.kind,
      title: ds.title,
      channels: [...ds.channels],
      classes: [...ds.classes],
      target: ds.target,
      outputs: ds.target === "regions"
        ? targetNames(ds)
        : K === ds.classes.length
        ? [...ds.classes]
        : ds.classes.slice(1, 1 + K),
      ...(ds.regions && ds.regionsClassOrder
        ? {
          regions: ds.regions.map((r) => ({ name: r.name, values: [...r.values] })),
          regionsClassOrder: [...ds.regionsClassOrder],
        }
        : {}),
    },
    loss: _trainedLoss(p.experiments[first.experiment]),
    provenance: {
      pipeline: p.name,
      source: recorded.source ?? "",
      run: runDir,
      labeling: first.labeling,
      experiment: first.experiment,
      batchSize: first.batchSize,
      seed: p.seed,
      phantom: run.phantom,
      quick: run.quick,
      dicelabVersion: DICELAB_VERSION,
      createdAt: new Date().toISOString(),
    },
    members,
  };
}

/**
 * A run's preprocessing with every default resolved as `preprocessVolumes` resolves it
 * (clip at the 0.5th/99.5th percentiles, z-score, the dataset's intensity mask), so that a
 * model does not depend on a later build's defaults.
 *
 * @param pre The run's preprocessing (`pipeline.json`).
 * @param datasetMask The dataset's intensity mask.
 * @returns The resolved rules.
 */
export function modelPreprocessing(
  pre: ResolvedRun["preprocessing"],
  datasetMask: "nonzero" | "all",
): ModelPreprocessing {
  return {
    ...(pre.spacing ? { spacing: [...pre.spacing] } : {}),
    ...(pre.size ? { size: [...pre.size] } : {}),
    clipPercentiles: pre.clipPercentiles === undefined
      ? [0.5, 99.5]
      : pre.clipPercentiles && [...pre.clipPercentiles],
    zscore: pre.zscore ?? true,
    intensityMask: pre.intensityMask ?? datasetMask,
  };
}

/** The loss a configuration trained with: the experiment's, with how it saw removed labels. */
function _trainedLoss(e: ExperimentConfig): Record<string, unknown> {
  const loss = structuredClone(e.loss) as Record<string, unknown>;
  return e.removedLabels === undefined ? loss : { ...loss, removedLabels: e.removedLabels };
}
