/**
 * Export of a dicelab U-Net as a standard ONNX model: the inference network of a
 * {@linkcode UNetConfig} with its weights as initializers, built from opset operators only
 * (Conv, InstanceNormalization or BatchNormalization, LeakyRelu or PRelu, MaxPool, Resize or
 * ConvTranspose, Concat, Sigmoid or Softmax). The graph reproduces {@linkcode buildUNetPlan}'s
 * forward in `"infer"` mode operator by operator; see docs/onnx.md.
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
import type { NamedTensor } from "../nn/checkpoint.ts";
import {
  type BlockSpec,
  sizeDivisor,
  type UNetConfig,
  unetLayout,
  unetParams,
  validateUNetConfig,
} from "../nn/unet_config.ts";
import { _OnnxGraph } from "./_onnx_graph.ts";

/** Name of the model's input, `[N, C, D, H, W]` float32. */
export const ONNX_INPUT_NAME = "image";
/** Name of the model's output, `[N, K, D, H, W]` float32 probabilities. */
export const ONNX_OUTPUT_NAME = "probabilities";
/** The operator-set version used when none is asked for. */
export const DEFAULT_ONNX_OPSET = 17;
/** The supported operator-set versions (Softmax has its per-axis meaning from 13 on). */
export const ONNX_OPSET_RANGE: readonly [number, number] = [13, 21];

// The lowest IR version that may carry each opset (onnx/helper.py VERSION_TABLE).
const IR_VERSION_OF_OPSET: Readonly<Record<number, number>> = {
  13: 7,
  14: 8,
  15: 8,
  16: 8,
  17: 8,
  18: 8,
  19: 9,
  20: 9,
  21: 10,
};

const RESERVED_PREFIX = "dicelab.";

/** Options of {@linkcode unetToOnnx}. */
export interface UNetToOnnxOptions {
  /** ONNX operator-set version, within {@linkcode ONNX_OPSET_RANGE}. @default 17 */
  opset?: number;
  /** Name of the ONNX graph. @default "dicelab_unet" */
  graphName?: string;
  /**
   * Extra `metadata_props`, e.g. `{ classes: '["background","RV","MYO","LV"]' }`, channel
   * names, the training patch size and spacing. Keys starting with `dicelab.` are reserved for
   * the ones the exporter writes itself (`dicelab.version`, `dicelab.config`,
   * `dicelab.size_divisor`, `dicelab.layout`).
   * @default {}
   */
  metadata?: Record<string, string>;
}

/**
 * Build the ONNX model (`ModelProto` bytes) of a U-Net's inference network.
 *
 * The graph has one input {@linkcode ONNX_INPUT_NAME} `[N, C, D, H, W]` and one output
 * {@linkcode ONNX_OUTPUT_NAME} `[N, K, D, H, W]` (float32, NCDHW, D the NIfTI k axis). N, D, H
 * and W are symbolic: any batch, and any spatial size that is a multiple of
 * {@linkcode sizeDivisor} (instance norm makes the output depend on the window, so feed windows
 * of the training patch size to reproduce dicelab's sliding-window inference). Batch norm uses
 * the running statistics (inference mode). Preprocessing (resampling, clipping, z-scoring) is
 * not part of the graph.
 *
 * Tensors are looked up by the names of {@linkcode unetParams}; state tensors may carry the
 * checkpoint prefix `state/`, and Adam moments (`adam.m/`, `adam.v/`) are ignored.
 *
 * @param config The network configuration (validated).
 * @param tensors Parameters and batch-norm running statistics, PyTorch layout.
 * @param options Opset, graph name, metadata.
 * @returns The serialised ONNX model.
 * @throws {TypeError} When a tensor is missing, unknown, given twice or of the wrong shape
 *   (naming it), or a metadata value is not a string.
 * @throws {RangeError} When the configuration is invalid (naming the field), a tensor holds a
 *   non-finite value or a negative running variance, the opset is unsupported, or a metadata
 *   key is reserved.
 * @example
 * ```ts
 * import { UNET_PRESETS, unetParams } from "../nn/unet_config.ts";
 * import { initialValues } from "../nn/param_store.ts";
 * import { unetToOnnx } from "./unet_to_onnx.ts";
 * const cfg = UNET_PRESETS.tiny;
 * const { params } = unetParams(cfg);
 * const values = initialValues(params, 1);
 * const tensors = params.map((p, i) => ({ name: p.name, shape: p.shape, data: values[i] }));
 * const bytes = unetToOnnx(cfg, tensors, { metadata: { classes: '["tumour"]' } });
 * console.log(bytes.length > 100_000); // true
 * ```
 */
export function unetToOnnx(
  config: UNetConfig,
  tensors: readonly NamedTensor[],
  options: UNetToOnnxOptions = {},
): Uint8Array {
  return _unetToOnnx(config, tensors, options, {});
}

/**
 * {@linkcode unetToOnnx} with extra exporter metadata under the reserved `dicelab.` keys
 * (internal to lib/export).
 *
 * @param config The network configuration.
 * @param tensors Parameters and running statistics.
 * @param options Opset, graph name, the caller's metadata.
 * @param exporterMetadata Further `dicelab.*` entries.
 * @returns The serialised ONNX model.
 */
export function _unetToOnnx(
  config: UNetConfig,
  tensors: readonly NamedTensor[],
  options: UNetToOnnxOptions,
  exporterMetadata: Readonly<Record<string, string>>,
): Uint8Array {
  validateUNetConfig(config);
  const opset = options.opset ?? DEFAULT_ONNX_OPSET;
  const irVersion = IR_VERSION_OF_OPSET[opset];
  if (!Number.isInteger(opset) || irVersion === undefined) {
    throw new RangeError(
      `Cannot export ONNX model: opset ${opset} is not supported (use ${ONNX_OPSET_RANGE[0]}…${
        ONNX_OPSET_RANGE[1]
      })`,
    );
  }
  const metadata = { ..._metadata(config, options.metadata ?? {}), ...exporterMetadata };
  const values = _checkTensors(config, tensors);
  const g = new _OnnxGraph();
  _emitUNet(g, config, values);
  return g.toModel({
    irVersion,
    opset,
    graphName: options.graphName ?? "dicelab_unet",
    docString: _describe(config),
    producerName: "dicelab",
    producerVersion: denoConfig.version,
    metadata,
  });
}

function _emitUNet(g: _OnnxGraph, cfg: UNetConfig, values: Map<string, Float32Array>): void {
  const layout = unetLayout(cfg);
  const L = cfg.filters.length;
  const shapes = new Map(unetParams(cfg).params.map((p) => [p.name, p.shape]));
  const used = new Set<string>();
  // Parameters enter the graph under their dicelab names, once each (state tensors as [C]).
  const param = (name: string, dims?: readonly number[]) => {
    const data = values.get(name)!;
    if (!used.has(name)) {
      used.add(name);
      g.initializer(name, dims ?? shapes.get(name) ?? [data.length], data);
    }
    return name;
  };

  // Norm followed by its fused activation, as the GPU's normApply kernel: y = f(γ·x̂ + β).
  const normAct = (x: string, name: string, channels: number): string => {
    const scale = param(`${name}.scale`);
    const shift = param(`${name}.shift`);
    const z = cfg.norm === "instance"
      ? g.node(
        "InstanceNormalization",
        [x, scale, shift],
        { epsilon: { float: cfg.normEps } },
        `${name}.out`,
      )
      : g.node(
        "BatchNormalization",
        [x, scale, shift, param(`${name}.runningMean`), param(`${name}.runningVar`)],
        // ONNX's momentum weighs the old estimate (PyTorch's the new one); inference ignores it.
        { epsilon: { float: cfg.normEps }, momentum: { float: 1 - cfg.bnMomentum } },
        `${name}.out`,
      );
    if (cfg.activation.kind === "leakyRelu") {
      return g.node("LeakyRelu", [z], { alpha: { float: cfg.activation.slope } }, `${name}.act`);
    }
    // PRelu broadcasts its slope unidirectionally from the right: [C, 1, 1, 1] against NCDHW.
    return g.node(
      "PRelu",
      [z, param(`${name}.prelu`, [channels, 1, 1, 1])],
      {},
      `${name}.act`,
    );
  };
  const conv = (x: string, b: BlockSpec): string => {
    const [kd, kh, kw] = b.kernel;
    const p = [(kd - 1) / 2, (kh - 1) / 2, (kw - 1) / 2];
    return g.node("Conv", [x, param(`${b.name}.conv.weight`), param(`${b.name}.conv.bias`)], {
      kernel_shape: { ints: b.kernel },
      pads: { ints: [...p, ...p] },
      strides: { ints: [1, 1, 1] },
      dilations: { ints: [1, 1, 1] },
      group: { int: 1 },
    }, `${b.name}.conv.out`);
  };
  // As blockForward in unet3d.ts: pre = [norm+act →] conv; post = conv → norm+act (the head's
  // conv alone).
  const block = (x: string, b: BlockSpec): string => {
    if (cfg.order === "pre") {
      return conv(b.preNorm ? normAct(x, `${b.name}.norm`, b.cin) : x, b);
    }
    const c = conv(x, b);
    return b.name === "head" ? c : normAct(c, `${b.name}.norm`, b.cout);
  };

  let x = g.input(ONNX_INPUT_NAME, ["N", cfg.inChannels, "D", "H", "W"]);
  const levelOut: string[] = [];
  for (let l = 0; l < L; l++) {
    for (const b of layout.encoder[l]) x = block(x, b);
    levelOut.push(x);
    if (l < L - 1) {
      const w = cfg.pools[l];
      x = g.node("MaxPool", [x], {
        kernel_shape: { ints: w },
        strides: { ints: w },
        pads: { ints: [0, 0, 0, 0, 0, 0] },
      }, `enc${l}.pool.out`);
    }
  }
  for (let l = L - 2; l >= 0; l--) {
    let u: string;
    if (cfg.upsampling === "transposed") {
      u = g.node("ConvTranspose", [x, param(`up${l}.weight`), param(`up${l}.bias`)], {
        kernel_shape: { ints: [2, 2, 2] },
        strides: { ints: [2, 2, 2] },
        pads: { ints: [0, 0, 0, 0, 0, 0] },
        group: { int: 1 },
      }, `up${l}.out`);
    } else {
      // y[d] = x[⌊d/f⌋] (lib/ref/upsample.ts): "asymmetric" maps d to d/f, "floor" rounds it.
      const scales = g.initializer(`up${l}.scales`, [5], [1, 1, ...cfg.pools[l]]);
      u = g.node("Resize", [x, "", scales], {
        mode: { string: "nearest" },
        coordinate_transformation_mode: { string: "asymmetric" },
        nearest_mode: { string: "floor" },
      }, `up${l}.out`);
    }
    // Channels [0, Cup) upsampled, [Cup, Cup + f) the skip (the GPU's concatenation buffer).
    x = g.node("Concat", [u, levelOut[l]], { axis: { int: 1 } }, `dec${l}.concat.out`);
    for (const b of layout.decoder[l]) x = block(x, b);
  }
  const logits = block(x, layout.head);
  if (cfg.head === "sigmoid") g.node("Sigmoid", [logits], {}, ONNX_OUTPUT_NAME);
  else g.node("Softmax", [logits], { axis: { int: 1 } }, ONNX_OUTPUT_NAME);
  g.output(ONNX_OUTPUT_NAME, ["N", cfg.outChannels, "D", "H", "W"]);
}

function _checkTensors(
  cfg: UNetConfig,
  tensors: readonly NamedTensor[],
): Map<string, Float32Array> {
  const fail = (why: string) => new TypeError(`Cannot export ONNX model: ${why}`);
  const { params, state } = unetParams(cfg);
  const expected = new Map<string, { label: string; shape: readonly number[] }>();
  for (const p of params) expected.set(p.name, { label: p.name, shape: p.shape });
  for (const s of state) expected.set(s.name, { label: `state/${s.name}`, shape: [s.size] });
  const given = new Map<string, NamedTensor>();
  for (const t of tensors) {
    if (t.name.startsWith("adam.m/") || t.name.startsWith("adam.v/")) continue;
    const key = t.name.startsWith("state/") ? t.name.slice("state/".length) : t.name;
    if (!expected.has(key)) {
      throw fail(
        `tensor "${t.name}" is not part of this network (${params.length} parameters from "${
          params[0].name
        }" to "${params[params.length - 1].name}"; is it the checkpoint of another configuration?)`,
      );
    }
    if (given.has(key)) throw fail(`tensor "${t.name}" is given twice`);
    given.set(key, t);
  }
  const out = new Map<string, Float32Array>();
  for (const [name, e] of expected) {
    const t = given.get(name);
    if (!t) {
      throw fail(
        `tensor "${e.label}" is missing (shape ${
          JSON.stringify(e.shape)
        }; ${given.size} of ${expected.size} tensors given)`,
      );
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    const sameShape = t.shape.length === e.shape.length &&
      t.shape.every((v, i) => v === e.shape[i]);
    if (!sameShape) {
      throw fail(
        `tensor "${t.name}" has shape ${JSON.stringify(t.shape)}, expected ${
          JSON.stringify(e.shape)
        }`,
      );
    }
    if (!(t.data instanceof Float32Array) || t.data.length !== n) {
      throw fail(
        `tensor "${t.name}" has ${t.data?.length ?? 0} float32 values for shape ${
          JSON.stringify(t.shape)
        }`,
      );
    }
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(t.data[i])) {
        throw new RangeError(
          `Cannot export ONNX model: tensor "${t.name}" holds ${t.data[i]} at index ${i}`,
        );
      }
      if (name.endsWith(".runningVar") && t.data[i] < 0) {
        throw new RangeError(
          `Cannot export ONNX model: tensor "${t.name}" holds a negative variance ${
            t.data[i]
          } at index ${i}`,
        );
      }
    }
    out.set(name, t.data);
  }
  return out;
}

function _metadata(
  cfg: UNetConfig,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {
    "dicelab.version": denoConfig.version,
    "dicelab.config": JSON.stringify(cfg),
    "dicelab.size_divisor": JSON.stringify(sizeDivisor(cfg)),
    "dicelab.layout": "NCDHW; D = NIfTI k (slices), H = j, W = i",
  };
  for (const [key, value] of Object.entries(extra)) {
    if (key.startsWith(RESERVED_PREFIX)) {
      throw new RangeError(
        `Cannot export ONNX model: metadata key "${key}" is reserved (keys starting with "${RESERVED_PREFIX}" are written by the exporter)`,
      );
    }
    if (typeof value !== "string") {
      throw new TypeError(
        `Cannot export ONNX model: metadata "${key}" is a ${typeof value}, not a string`,
      );
    }
    out[key] = value;
  }
  return out;
}

function _describe(cfg: UNetConfig): string {
  return `dicelab 3D U-Net (${cfg.filters.length} levels, filters ${
    JSON.stringify(cfg.filters)
  }, ${cfg.norm} norm, ${cfg.activation.kind}, ${cfg.upsampling} upsampling, ${cfg.order}-activation, ${cfg.head} head): ` +
    `${ONNX_INPUT_NAME} [N, ${cfg.inChannels}, D, H, W] → ${ONNX_OUTPUT_NAME} [N, ${cfg.outChannels}, D, H, W], ` +
    `D, H, W multiples of ${JSON.stringify(sizeDivisor(cfg))}`;
}
