/**
 * `deno task predict --model MODEL --input DIR|FILE --out DIR`: segment new scans with a
 * trained model — a job folder, one configuration of a run folder (an ensemble over its folds)
 * or a `.dicelab` file — writing `CASE.nii.gz` (and `CASE_prob.nii.gz`) on each scan's grid,
 * flat into the output folder; the summary names the files left out as not scans (a dataset
 * layout's labels and auxiliary volumes).
 *
 * @module
 */

import { resolve } from "node:path";
import { BufferPool } from "../../gpu/buffer_pool.ts";
import { requestGpu } from "../../gpu/device.ts";
import { GpuRuntime } from "../../gpu/runtime.ts";
import { ModelPredictor } from "../../model/model_predictor.ts";
import {
  findPredictionInputs,
  type PredictionInput,
  readPredictionInput,
  type SkippedInput,
  skippedSummary,
} from "../../model/prediction_inputs.ts";
import { writePrediction } from "../../model/write_prediction.ts";
import { DataError, RunOptionError } from "../errors.ts";
import { modelFromPath, modelText } from "../run_model.ts";
import { type CliValues, foldListFlag, stepFlag, UsageError } from "./_args.ts";
import { Progress } from "./_progress.ts";

/**
 * Run the `predict` command.
 *
 * @param v Flags (`--model`, `--input`, `--out`, `--folds`, `--config`, `--tta`, `--step`,
 *   `--probabilities`).
 * @param tty Whether stdout is a terminal (progress redrawn in place).
 * @returns The exit code (0).
 * @throws {UsageError} On a missing or malformed flag.
 * @throws {RunOptionError} When the model cannot be chosen or the output would overwrite an
 *   input.
 * @throws {DataError} When a case misses a channel or has the wrong channel count (before any
 *   GPU work).
 */
export async function predictCommand(v: CliValues, tty: boolean): Promise<number> {
  if (!v.model) throw new UsageError("predict needs --model RUN|RUN/jobs/JOB|FILE.dicelab");
  if (!v.input) throw new UsageError("predict needs --input DIR|FILE");
  if (!v.out) throw new UsageError("predict needs --out DIR");
  const tta = v.tta ?? "none";
  if (tta !== "none" && tta !== "mirror") {
    throw new UsageError(`Invalid --tta: expected "mirror" or "none", got "${v.tta}"`);
  }
  const step = stepFlag(v.step);
  const folds = foldListFlag(v.folds);
  const model = await modelFromPath(v.model, { config: v.config, folds });
  const members = model.members.map((m) => m.fold);

  // Everything about the inputs is checked before the GPU is touched.
  try {
    await Deno.stat(v.input);
  } catch {
    throw new RunOptionError(`Invalid --input: ${v.input} does not exist`);
  }
  const channels = model.dataset.channels;
  let cases: PredictionInput[];
  let skipped: SkippedInput[];
  try {
    ({ cases, skipped } = await findPredictionInputs(v.input, channels, {
      kind: model.dataset.kind,
    }));
    for (const c of cases) await readPredictionInput(c, channels);
  } catch (err) {
    throw new DataError((err as Error).message);
  }
  _checkOut(v.out, cases);
  await Deno.mkdir(v.out, { recursive: true });

  const what = modelText(model);
  console.log(
    `Predicting ${cases.length} case(s) with ${what} (fold${members.length > 1 ? "s" : ""} ` +
      `${members.join(", ")}${tta === "mirror" ? ", mirrored TTA ×8" : ""}) into ${v.out}`,
  );
  const gpu = await requestGpu();
  const rt = new GpuRuntime(gpu.device);
  const pool = new BufferPool(gpu.device);
  let predictor: ModelPredictor | undefined;
  const progress = new Progress(cases.length, { tty });
  try {
    predictor = new ModelPredictor(rt, pool, model, { tta, step });
    for (const c of cases) {
      const scan = await readPredictionInput(c, channels);
      const prediction = await predictor.predict(scan, { probabilities: v.probabilities });
      await writePrediction(v.out, prediction);
      progress.tick(c.id);
    }
  } finally {
    predictor?.dispose();
    pool.destroy();
    gpu.device.destroy();
  }
  console.log(
    `Done: ${cases.length} case(s) in ${progress.seconds.toFixed(1)} s; labels` +
      `${v.probabilities ? " and probabilities" : ""} in ${v.out}` +
      (skipped.length > 0 ? `; skipped ${skippedSummary(skipped)} (not scans)` : ""),
  );
  return 0;
}

/** `--out` must not be a file, nor make an output overwrite an input. */
function _checkOut(out: string, cases: readonly PredictionInput[]): void {
  try {
    if (!Deno.statSync(out).isDirectory) {
      throw new RunOptionError(`Invalid --out: ${out} exists and is not a folder`);
    }
  } catch (err) {
    if (err instanceof RunOptionError) throw err;
  }
  const inputs = new Set(cases.flatMap((c) => c.files.map((f) => resolve(f))));
  for (const c of cases) {
    for (const name of [`${c.id}.nii.gz`, `${c.id}_prob.nii.gz`]) {
      if (inputs.has(resolve(out, name))) {
        throw new RunOptionError(
          `Invalid --out: ${out}/${name} would overwrite an input; choose another folder`,
        );
      }
    }
  }
}
