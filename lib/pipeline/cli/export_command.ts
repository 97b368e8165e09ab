/**
 * `deno task export RUN[/jobs/JOB] --out model.dicelab [--format dicelab|onnx]`: write a trained
 * model — one job, or the folds of one configuration of a run — as one self-describing
 * `.dicelab` file, or one fold's network as an ONNX model (docs/onnx.md).
 *
 * @module
 */

import { unetToOnnx } from "../../export/unet_to_onnx.ts";
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
  if (format !== "dicelab" && format !== "onnx") {
    throw new UsageError(`Invalid --format: expected "dicelab" or "onnx", got "${v.format}"`);
  }
  if ((await modelSourceKind(target)) === "file") {
    throw new RunOptionError(`Invalid run ${target}: it is a file; export a run or job folder`);
  }
  const model = await modelFromPath(target, { config: v.config, folds: foldListFlag(v.folds) });
  const slash = v.out.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(v.out.slice(0, slash), { recursive: true });
  if (format === "onnx") {
    if (model.members.length !== 1) {
      throw new RunOptionError(
        `Invalid --format onnx: ONNX holds one network, the model has folds ` +
          `${model.members.map((m) => m.fold).join(", ")}; pick one with --folds N`,
      );
    }
    const member = model.members[0];
    const pre = model.preprocessing;
    // The file carries its own preprocessing recipe (docs/onnx.md).
    const bytes = unetToOnnx(model.network, member.tensors, {
      metadata: {
        classes: JSON.stringify(model.dataset.classes),
        channels: JSON.stringify(model.dataset.channels),
        outputs: JSON.stringify(model.dataset.outputs),
        // A region-based model's label map: threshold each region map, write its value in order.
        ...(model.dataset.regions
          ? {
            regions: JSON.stringify(model.dataset.regions),
            regions_class_order: JSON.stringify(model.dataset.regionsClassOrder),
          }
          : {}),
        patch_size: JSON.stringify(model.inference.window),
        spacing: JSON.stringify(pre.spacing ?? null),
        size: JSON.stringify(pre.size ?? null),
        clip_percentiles: JSON.stringify(pre.clipPercentiles),
        zscore: String(pre.zscore),
        intensity_mask: pre.intensityMask,
        pipeline: model.provenance.pipeline,
        fold: String(member.fold),
      },
    });
    await writeFileAtomic(v.out, bytes);
    console.log(
      `Exported ${modelText(model)}, fold ${member.fold} (${member.weights}), to ${v.out} ` +
        `(ONNX, ${(bytes.length / 1024).toFixed(1)} KiB)`,
    );
    return 0;
  }
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
