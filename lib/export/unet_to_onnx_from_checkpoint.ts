/**
 * ONNX export straight from a dicelab checkpoint file (`weights.ckpt`, `best.ckpt`, or a
 * training `checkpoint.ckpt`): the network configuration stored in the checkpoint's header and
 * its tensors go through {@linkcode unetToOnnx}.
 *
 * @module
 */

import { type Checkpoint, loadCheckpoint } from "../nn/checkpoint.ts";
import type { Triple, UNetConfig } from "../nn/unet_config.ts";
import { _unetToOnnx, type UNetToOnnxOptions } from "./unet_to_onnx.ts";

/**
 * Read a checkpoint and build the ONNX model of its network.
 *
 * Besides the metadata of `unetToOnnx`, the model records the checkpoint's kind,
 * creation time and `meta` (e.g. the training step) as `dicelab.checkpoint`.
 *
 * @param path Checkpoint path.
 * @param options Opset, graph name, extra metadata.
 * @returns The serialised ONNX model.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {SyntaxError} When the file is not a valid checkpoint (names the path).
 * @throws {TypeError} When its `config` is not a U-Net configuration (names the path and the
 *   field) or a tensor is missing or misshapen (names the tensor).
 * @throws {RangeError} As {@linkcode unetToOnnx}.
 * @example
 * ```ts ignore
 * import { unetToOnnxFromCheckpoint } from "./unet_to_onnx_from_checkpoint.ts";
 * const bytes = await unetToOnnxFromCheckpoint("runs/x/jobs/j/weights.ckpt", {
 *   metadata: { classes: '["background","RV","MYO","LV"]' },
 * });
 * await Deno.writeFile("model.onnx", bytes);
 * ```
 */
export async function unetToOnnxFromCheckpoint(
  path: string,
  options: UNetToOnnxOptions = {},
): Promise<Uint8Array> {
  const ckpt = await loadCheckpoint(path);
  const config = unetConfigOfCheckpoint(ckpt, path);
  try {
    return _unetToOnnx(config, ckpt.tensors, options, {
      "dicelab.checkpoint": JSON.stringify({
        kind: ckpt.kind,
        createdAt: ckpt.createdAt,
        meta: ckpt.meta,
      }),
    });
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) {
      const E = err instanceof TypeError ? TypeError : RangeError;
      throw new E(`${err.message} (checkpoint ${path})`, { cause: err });
    }
    throw err;
  }
}

/**
 * The U-Net configuration stored in a checkpoint's header, checked field by field.
 *
 * @param ckpt The checkpoint.
 * @param source Name for error messages (a path).
 * @returns The configuration (not yet validated for consistency: see `validateUNetConfig`).
 * @throws {TypeError} When a field is missing or of the wrong type (names it).
 * @example
 * ```ts
 * import { UNET_PRESETS } from "../nn/unet_config.ts";
 * import { unetConfigOfCheckpoint } from "./unet_to_onnx_from_checkpoint.ts";
 * const ckpt = {
 *   kind: "weights" as const, createdAt: "", tensors: [], meta: {},
 *   config: JSON.parse(JSON.stringify(UNET_PRESETS.tiny)),
 * };
 * console.log(unetConfigOfCheckpoint(ckpt, "x.ckpt").filters); // [8, 16, 32]
 * ```
 */
export function unetConfigOfCheckpoint(ckpt: Checkpoint, source: string): UNetConfig {
  const fail = (field: string, why: string) =>
    new TypeError(`Cannot read the network configuration of checkpoint ${source}: ${field} ${why}`);
  const c = ckpt.config as Record<string, unknown> | null;
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw fail("config", `is ${JSON.stringify(c)}, not an object`);
  }
  const num = (field: string): number => {
    const v = c[field];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw fail(`config.${field}`, `is ${JSON.stringify(v)}, not a number`);
    }
    return v;
  };
  const oneOf = <T extends string>(field: string, values: readonly T[]): T => {
    const v = c[field];
    if (!values.includes(v as T)) {
      throw fail(`config.${field}`, `is ${JSON.stringify(v)}, not one of ${values.join(", ")}`);
    }
    return v as T;
  };
  const triple = (field: string, v: unknown): Triple => {
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== "number")) {
      throw fail(field, `is ${JSON.stringify(v)}, not three numbers`);
    }
    return [v[0], v[1], v[2]];
  };
  const array = (field: string): unknown[] => {
    const v = c[field];
    if (!Array.isArray(v)) throw fail(`config.${field}`, `is ${JSON.stringify(v)}, not an array`);
    return v;
  };
  const filters = array("filters").map((f, i) => {
    if (typeof f !== "number") throw fail(`config.filters[${i}]`, `is ${JSON.stringify(f)}`);
    return f;
  });
  const kernels = array("kernels").map((lvl, l) => {
    if (!Array.isArray(lvl)) {
      throw fail(`config.kernels[${l}]`, `is ${JSON.stringify(lvl)}, not an array`);
    }
    return lvl.map((k, i) => triple(`config.kernels[${l}][${i}]`, k));
  });
  const pools = array("pools").map((p, l) => triple(`config.pools[${l}]`, p));
  const a = c.activation as Record<string, unknown> | null;
  let activation: UNetConfig["activation"];
  if (a?.kind === "leakyRelu" && typeof a.slope === "number") {
    activation = { kind: "leakyRelu", slope: a.slope };
  } else if (a?.kind === "prelu" && typeof a.init === "number") {
    activation = { kind: "prelu", init: a.init };
  } else {
    throw fail(
      "config.activation",
      `is ${JSON.stringify(a)}, not { kind: "leakyRelu", slope } or { kind: "prelu", init }`,
    );
  }
  return {
    inChannels: num("inChannels"),
    outChannels: num("outChannels"),
    filters,
    kernels,
    pools,
    norm: oneOf("norm", ["instance", "batch"]),
    activation,
    upsampling: oneOf("upsampling", ["nearest", "transposed"]),
    order: oneOf("order", ["pre", "post"]),
    head: oneOf("head", ["sigmoid", "softmax"]),
    normEps: num("normEps"),
    // Training-only; older configurations may lack it.
    bnMomentum: c.bnMomentum === undefined ? 0.1 : num("bnMomentum"),
  };
}
