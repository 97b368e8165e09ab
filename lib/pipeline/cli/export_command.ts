/**
 * `deno task export RUN[/jobs/JOB] --out model.dicelab`: write a trained model — one job, or
 * the folds of one configuration of a run — as one self-describing `.dicelab` file.
 *
 * @module
 */

import { encodeModel } from "../../model/model_file.ts";
import { writeFileAtomic } from "../../core/atomic_write.ts";
import { RunOptionError } from "../errors.ts";
import { modelFromPath, modelSourceKind, modelText } from "../run_model.ts";
import { type CliValues, foldListFlag, UsageError } from "./_args.ts";

/**
 * Run the `export` command.
 *
 * @param target A run folder or a job folder.
 * @param v Flags (`--out`, `--format`, `--config`, `--folds`).
 * @returns The exit code (0).
 * @throws {UsageError} On a missing `--out` or an unknown `--format`.
 * @throws {RunOptionError} When the model cannot be chosen (listing the choices).
 */
export async function exportCommand(target: string, v: CliValues): Promise<number> {
  if (!v.out) throw new UsageError("export needs --out FILE (e.g. --out model.dicelab)");
  const format = v.format ?? "dicelab";
  if (format === "onnx") {
    // TODO(#14): wire unetToOnnx
    throw new UsageError("Invalid --format onnx: ONNX export is not in this build");
  }
  if (format !== "dicelab") {
    throw new UsageError(`Invalid --format: expected "dicelab" or "onnx", got "${v.format}"`);
  }
  if ((await modelSourceKind(target)) === "file") {
    throw new RunOptionError(`Invalid run ${target}: it is a file; export a run or job folder`);
  }
  const model = await modelFromPath(target, { config: v.config, folds: foldListFlag(v.folds) });
  const slash = v.out.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(v.out.slice(0, slash), { recursive: true });
  const bytes = await encodeModel(model);
  await writeFileAtomic(v.out, bytes);
  const digest = new Uint8Array(bytes.subarray(bytes.length - 32));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  const folds = model.members.map((m) => `${m.fold} (${m.weights})`).join(", ");
  console.log(
    `Exported ${modelText(model)}, fold${model.members.length > 1 ? "s" : ""} ${folds}, ` +
      `to ${v.out} (${(bytes.length / 1024).toFixed(1)} KiB, sha256 ${hex.slice(0, 16)}…)`,
  );
  return 0;
}
