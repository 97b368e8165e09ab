/**
 * Configuration of the No New-Net style 3D U-Net: presets (BRATS, ACDC, nnn-bench, tiny),
 * overrides, and the parameter table (names, shapes, initialisation) that follows from it.
 *
 * All sizes are in tensor order [D, H, W]. The paper's "3×3×1" kernels and "2×2×1" pools
 * (x, y, z with z the slice axis) are `[1, 3, 3]` and `[1, 2, 2]` here.
 *
 * @module
 */

/** A triple in [D, H, W] order. */
export type Triple = readonly [number, number, number];

/** Activation of the conv blocks. */
export type ActivationConfig = { kind: "leakyRelu"; slope: number } | {
  kind: "prelu";
  init: number;
};

/** A fully resolved U-Net configuration. */
export interface UNetConfig {
  /** Input channels. */
  inChannels: number;
  /** Output maps. */
  outChannels: number;
  /** Feature maps per level (levels = length). */
  filters: readonly number[];
  /** Conv kernels per level; each level has as many convs as entries (encoder and decoder). */
  kernels: readonly (readonly Triple[])[];
  /** Pool window between level l and l + 1 (length = levels − 1); also the upsampling factor. */
  pools: readonly Triple[];
  /** Normalisation. */
  norm: "instance" | "batch";
  /** Activation. */
  activation: ActivationConfig;
  /** Decoder upsampling. */
  upsampling: "nearest" | "transposed";
  /** `pre`: norm → act → conv (first conv excepted); `post`: conv → norm → act. */
  order: "pre" | "post";
  /** Output activation. */
  head: "sigmoid" | "softmax";
  /** Normalisation ε. */
  normEps: number;
  /** Batch-norm running-statistics momentum (PyTorch convention). */
  bnMomentum: number;
}

/** Partial overrides of a preset (the pipeline's `model` section minus `preset`). */
export type UNetOverrides = Partial<
  Omit<UNetConfig, "kernels" | "pools" | "filters"> & {
    filters: readonly number[];
    kernels: readonly (readonly Triple[])[];
    pools: readonly Triple[];
  }
>;

/** Names of the presets. */
export type UNetPreset = "brats" | "acdc" | "nnn-bench" | "tiny";

const K333: Triple = [3, 3, 3];
const K133: Triple = [1, 3, 3];

/**
 * The preset configurations.
 * - `brats`: No New-Net as in the paper's BRATS experiments (5 levels 30…480, 3×3×3, instance
 *   norm, LeakyReLU 0.01, max-pool 2, nearest upsampling, pre-activation, sigmoid, 4 inputs).
 * - `acdc`: 16…256 filters, a 3×3×3 then a 3×3×1 conv per level, first pool 2×2×1, batch norm,
 *   PReLU, softmax over 4 maps, 1 input.
 * - `nnn-bench`: the fixed benchmark network of shared/bench/unet-bench.md (85,337 parameters).
 * - `tiny`: a 3-level, 8-filter network for tests and phantom runs.
 */
export const UNET_PRESETS: Readonly<Record<UNetPreset, UNetConfig>> = {
  "brats": {
    inChannels: 4,
    outChannels: 1,
    filters: [30, 60, 120, 240, 480],
    kernels: Array.from({ length: 5 }, () => [K333, K333]),
    pools: [[2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2]],
    norm: "instance",
    activation: { kind: "leakyRelu", slope: 0.01 },
    upsampling: "nearest",
    order: "pre",
    head: "sigmoid",
    normEps: 1e-5,
    bnMomentum: 0.1,
  },
  "acdc": {
    inChannels: 1,
    outChannels: 4,
    filters: [16, 32, 64, 128, 256],
    kernels: Array.from({ length: 5 }, () => [K333, K133]),
    pools: [[1, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2]],
    norm: "batch",
    activation: { kind: "prelu", init: 0.25 },
    upsampling: "nearest",
    order: "pre",
    head: "softmax",
    normEps: 1e-5,
    bnMomentum: 0.1,
  },
  "nnn-bench": {
    inChannels: 1,
    outChannels: 1,
    filters: [8, 16, 32],
    kernels: [[K333, K333], [K333, K333], [K333, K333]],
    pools: [[2, 2, 2], [2, 2, 2]],
    norm: "instance",
    activation: { kind: "leakyRelu", slope: 0.01 },
    upsampling: "transposed",
    order: "post",
    head: "sigmoid",
    normEps: 1e-5,
    bnMomentum: 0.1,
  },
  "tiny": {
    inChannels: 1,
    outChannels: 1,
    filters: [8, 16, 32],
    kernels: [[K333, K333], [K333, K333], [K333, K333]],
    pools: [[2, 2, 2], [2, 2, 2]],
    norm: "instance",
    activation: { kind: "leakyRelu", slope: 0.01 },
    upsampling: "nearest",
    order: "pre",
    head: "sigmoid",
    normEps: 1e-5,
    bnMomentum: 0.1,
  },
};

/**
 * Resolve a preset with overrides and validate the result.
 *
 * When `filters` changes the number of levels and `kernels`/`pools` are not given, they are
 * derived from the preset's first level kernel list and its first pools (the first pool is
 * kept, later pools repeat the preset's last pool).
 *
 * @param preset Preset name.
 * @param overrides Field overrides.
 * @returns The configuration.
 * @throws {RangeError} When the configuration is inconsistent (names the field).
 */
export function resolveUNetConfig(preset: UNetPreset, overrides: UNetOverrides = {}): UNetConfig {
  const base = UNET_PRESETS[preset];
  if (!base) throw new RangeError(`Invalid model.preset: unknown preset "${preset}"`);
  const filters = overrides.filters ?? base.filters;
  const levels = filters.length;
  const kernels = overrides.kernels ??
    Array.from({ length: levels }, (_, l) => base.kernels[Math.min(l, base.kernels.length - 1)]);
  const pools = overrides.pools ??
    Array.from({ length: levels - 1 }, (_, l) => base.pools[Math.min(l, base.pools.length - 1)]);
  const cfg: UNetConfig = {
    ...base,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
    filters,
    kernels,
    pools,
  } as UNetConfig;
  validateUNetConfig(cfg);
  return cfg;
}

/**
 * Check a configuration for consistency.
 *
 * @param cfg The configuration.
 * @throws {RangeError} Naming the inconsistent field.
 */
export function validateUNetConfig(cfg: UNetConfig): void {
  const levels = cfg.filters.length;
  if (levels < 1) throw new RangeError("Invalid model.filters: at least one level is needed");
  for (const f of cfg.filters) {
    if (!Number.isInteger(f) || f < 1) {
      throw new RangeError(`Invalid model.filters: ${f} is not a positive integer`);
    }
  }
  if (cfg.kernels.length !== levels) {
    throw new RangeError(
      `Invalid model.kernels: ${cfg.kernels.length} levels given, filters has ${levels}`,
    );
  }
  cfg.kernels.forEach((lvl, l) => {
    if (lvl.length < 1) throw new RangeError(`Invalid model.kernels[${l}]: no convolution`);
    for (const k of lvl) {
      if (k.length !== 3 || k.some((v) => !Number.isInteger(v) || v < 1 || v % 2 === 0)) {
        throw new RangeError(
          `Invalid model.kernels[${l}]: ${JSON.stringify(k)} is not three odd positive integers`,
        );
      }
    }
  });
  if (cfg.pools.length !== levels - 1) {
    throw new RangeError(
      `Invalid model.pools: ${cfg.pools.length} given, ${levels - 1} needed for ${levels} levels`,
    );
  }
  for (const p of cfg.pools) {
    if (p.length !== 3 || p.some((v) => v !== 1 && v !== 2)) {
      throw new RangeError(
        `Invalid model.pools: ${JSON.stringify(p)} (each factor must be 1 or 2)`,
      );
    }
  }
  if (cfg.upsampling === "transposed" && cfg.pools.some((p) => p.some((v) => v !== 2))) {
    throw new RangeError(
      "Invalid model.upsampling: transposed convolution supports 2×2×2 pools only",
    );
  }
  if (cfg.head === "softmax" && cfg.outChannels < 2) {
    throw new RangeError("Invalid model.head: softmax needs at least 2 output maps");
  }
  if (!Number.isInteger(cfg.inChannels) || cfg.inChannels < 1) {
    throw new RangeError(`Invalid model.inChannels: ${cfg.inChannels}`);
  }
  if (!Number.isInteger(cfg.outChannels) || cfg.outChannels < 1) {
    throw new RangeError(`Invalid model.outChannels: ${cfg.outChannels}`);
  }
}

/**
 * The smallest multiple of the total pooling factor per axis: patch sizes must be divisible
 * by it so that every level has an integer size.
 *
 * @param cfg The configuration.
 * @returns The divisor per axis [D, H, W].
 */
export function sizeDivisor(cfg: UNetConfig): Triple {
  const d = [1, 1, 1];
  for (const p of cfg.pools) for (let a = 0; a < 3; a++) d[a] *= p[a];
  return [d[0], d[1], d[2]];
}

/** How a parameter is initialised. */
export type ParamInit =
  | { kind: "heNormal"; fanIn: number }
  | { kind: "constant"; value: number };

/** One learnable tensor of the network. */
export interface ParamSpec {
  /** Unique name, e.g. `enc1.conv0.weight`. */
  name: string;
  /** Shape (PyTorch layout). */
  shape: readonly number[];
  /** Initialisation. */
  init: ParamInit;
  /** Whether L2 weight decay applies (weights yes; biases and norm parameters no). */
  decay: boolean;
}

/** One non-learnable state tensor (batch-norm running statistics). */
export interface StateSpec {
  /** Unique name, e.g. `enc1.norm0.runningMean`. */
  name: string;
  /** Number of elements. */
  size: number;
  /** Initial value. */
  value: number;
}

/** Structural description of one conv block. */
export interface BlockSpec {
  /** Name prefix. */
  name: string;
  /** Input channels. */
  cin: number;
  /** Output channels. */
  cout: number;
  /** Kernel. */
  kernel: Triple;
  /** Whether the block starts with norm → act (pre order, not the first conv). */
  preNorm: boolean;
  /** Channels normalised by this block's norm (cin for pre, cout for post). */
  normChannels: number;
}

/** The layer structure of a U-Net: encoder/decoder blocks per level, up-convs, head. */
export interface UNetLayout {
  /** Encoder blocks per level. */
  encoder: BlockSpec[][];
  /** Decoder blocks per level (index = level, 0 … levels − 2). */
  decoder: BlockSpec[][];
  /** Transposed-conv upsamplers per decoder level (transposed mode). */
  upconvs: { name: string; cin: number; cout: number }[];
  /** Channels entering each decoder level after concatenation. */
  decoderInChannels: number[];
  /** Head: 1×1×1 conv from filters[0] to outChannels; `preNorm` in pre order. */
  head: BlockSpec;
}

/**
 * Derive the block structure of a configuration.
 *
 * Encoder level l: convs `filters[l−1] → filters[l] → …` (level 0 from inChannels).
 * Decoder level l: upsample level l + 1 (nearest keeps filters[l+1] channels; transposed maps
 * them to filters[l]), concatenate with the skip (filters[l]), then convs back to filters[l].
 *
 * @param cfg The configuration.
 * @returns The layout.
 */
export function unetLayout(cfg: UNetConfig): UNetLayout {
  const L = cfg.filters.length;
  const pre = cfg.order === "pre";
  const encoder: BlockSpec[][] = [];
  for (let l = 0; l < L; l++) {
    const blocks: BlockSpec[] = [];
    let cin = l === 0 ? cfg.inChannels : cfg.filters[l - 1];
    cfg.kernels[l].forEach((kernel, i) => {
      const cout = cfg.filters[l];
      const first = l === 0 && i === 0;
      blocks.push({
        name: `enc${l}.block${i}`,
        cin,
        cout,
        kernel,
        preNorm: pre && !first,
        normChannels: pre ? cin : cout,
      });
      cin = cout;
    });
    encoder.push(blocks);
  }
  const decoder: BlockSpec[][] = [];
  const upconvs: UNetLayout["upconvs"] = [];
  const decoderInChannels: number[] = [];
  for (let l = 0; l < L - 1; l++) {
    const upChannels = cfg.upsampling === "transposed" ? cfg.filters[l] : cfg.filters[l + 1];
    if (cfg.upsampling === "transposed") {
      upconvs.push({ name: `up${l}`, cin: cfg.filters[l + 1], cout: cfg.filters[l] });
    }
    let cin = upChannels + cfg.filters[l];
    decoderInChannels.push(cin);
    const blocks: BlockSpec[] = [];
    cfg.kernels[l].forEach((kernel, i) => {
      const cout = cfg.filters[l];
      blocks.push({
        name: `dec${l}.block${i}`,
        cin,
        cout,
        kernel,
        preNorm: pre,
        normChannels: pre ? cin : cout,
      });
      cin = cout;
    });
    decoder.push(blocks);
  }
  const head: BlockSpec = {
    name: "head",
    cin: cfg.filters[0],
    cout: cfg.outChannels,
    kernel: [1, 1, 1],
    preNorm: pre,
    normChannels: cfg.filters[0],
  };
  return { encoder, decoder, upconvs, decoderInChannels, head };
}

function _blockParams(cfg: UNetConfig, b: BlockSpec, out: ParamSpec[], state: StateSpec[]): void {
  const hasNorm = b.preNorm || (cfg.order === "post" && b.name !== "head");
  if (hasNorm && b.preNorm) _normParams(cfg, `${b.name}.norm`, b.normChannels, out, state);
  const fanIn = b.cin * b.kernel[0] * b.kernel[1] * b.kernel[2];
  out.push({
    name: `${b.name}.conv.weight`,
    shape: [b.cout, b.cin, ...b.kernel],
    init: { kind: "heNormal", fanIn },
    decay: true,
  });
  out.push({
    name: `${b.name}.conv.bias`,
    shape: [b.cout],
    init: { kind: "constant", value: 0 },
    decay: false,
  });
  if (hasNorm && !b.preNorm) _normParams(cfg, `${b.name}.norm`, b.normChannels, out, state);
}

function _normParams(
  cfg: UNetConfig,
  name: string,
  channels: number,
  out: ParamSpec[],
  state: StateSpec[],
): void {
  out.push({
    name: `${name}.scale`,
    shape: [channels],
    init: { kind: "constant", value: 1 },
    decay: false,
  });
  out.push({
    name: `${name}.shift`,
    shape: [channels],
    init: { kind: "constant", value: 0 },
    decay: false,
  });
  if (cfg.activation.kind === "prelu") {
    out.push({
      name: `${name}.prelu`,
      shape: [channels],
      init: { kind: "constant", value: cfg.activation.init },
      decay: false,
    });
  }
  if (cfg.norm === "batch") {
    state.push({ name: `${name}.runningMean`, size: channels, value: 0 });
    state.push({ name: `${name}.runningVar`, size: channels, value: 1 });
  }
}

/**
 * The learnable parameters and state tensors of a configuration, in a fixed order.
 * Norm-block parameters (scale, shift, and the PReLU slope, which follows each norm) belong
 * to the block that normalises.
 *
 * @param cfg The configuration.
 * @returns Parameters and state tensors.
 */
export function unetParams(cfg: UNetConfig): { params: ParamSpec[]; state: StateSpec[] } {
  const layout = unetLayout(cfg);
  const params: ParamSpec[] = [];
  const state: StateSpec[] = [];
  for (const lvl of layout.encoder) for (const b of lvl) _blockParams(cfg, b, params, state);
  for (let l = layout.decoder.length - 1; l >= 0; l--) {
    const up = layout.upconvs[l];
    if (up) {
      params.push({
        name: `${up.name}.weight`,
        shape: [up.cin, up.cout, 2, 2, 2],
        init: { kind: "heNormal", fanIn: up.cin * 8 },
        decay: true,
      });
      params.push({
        name: `${up.name}.bias`,
        shape: [up.cout],
        init: { kind: "constant", value: 0 },
        decay: false,
      });
    }
    for (const b of layout.decoder[l]) _blockParams(cfg, b, params, state);
  }
  _blockParams(cfg, layout.head, params, state);
  return { params, state };
}

/**
 * Number of learnable scalars.
 *
 * @param cfg The configuration.
 * @returns The parameter count.
 */
export function parameterCount(cfg: UNetConfig): number {
  return unetParams(cfg).params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}
