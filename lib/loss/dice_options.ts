/**
 * Options of the Dice-loss family and their validation: the reduction sets Φ, the smoothing
 * term ε (numerator and denominator, per class), the kept classes, the variant (plain, leaf,
 * marginal, label-set marginal), which maps are labelled, the voxel mask, the squared
 * denominator and the label sets. Shared by the float64 reference and the GPU kernels.
 *
 * @module
 */

/** The paper's reduction sets: image-, class-, batch- and all-wise (Tilborghs et al. 2022, Fig. 1). */
export type Phi = "I" | "CI" | "BI" | "BCI";

/** The spelled-out aliases of Φ. */
export type PhiAlias = "image" | "class" | "batch" | "all";

/** Φ as accepted from users: the paper's symbols or their spelled-out aliases. */
export type PhiInput = Phi | PhiAlias;

/** The reduction sets in their canonical order (the GPU kernels' Φ codes are these indices). */
export const PHI_SETS: readonly ["I", "CI", "BI", "BCI"] = ["I", "CI", "BI", "BCI"];

/** Each alias of Φ and the symbol it stands for. */
export const PHI_ALIASES: Readonly<Record<PhiAlias, Phi>> = {
  image: "I",
  class: "CI",
  batch: "BI",
  all: "BCI",
};

/** Every accepted spelling of Φ: the symbols, then the aliases. */
export const PHI_NAMES: readonly [PhiInput, ...PhiInput[]] = [
  ...PHI_SETS,
  ...(Object.keys(PHI_ALIASES) as PhiAlias[]),
];

/** What an invalid Φ is told: the accepted spellings. */
export const PHI_HINT: string = `expected ${PHI_SETS.map((p) => `"${p}"`).join(", ")} (or ${
  Object.keys(PHI_ALIASES).map((p) => `"${p}"`).join(", ")
})`;

/** Separate smoothing terms for the numerator and the denominator of the soft Dice. */
export interface EpsilonPair {
  /** ε added to 2Σyŷ. */
  numerator: number;
  /** ε added to Σy + Σŷ. */
  denominator: number;
}

/** ε as accepted from users: one number, a pair, or one number/pair per kept class. */
export type EpsilonInput = number | EpsilonPair | ReadonlyArray<number | EpsilonPair>;

/** The Dice-loss variants. */
export type DiceVariant = "plain" | "leaf" | "marginal" | "labelSetMarginal";

/**
 * The variants in their canonical order (the GPU kernels' variant codes are these indices:
 * plain 0, leaf 1, marginal 2, labelSetMarginal 3). New variants are appended so that
 * existing codes never change.
 */
export const DICE_VARIANTS: readonly ["plain", "leaf", "marginal", "labelSetMarginal"] = [
  "plain",
  "leaf",
  "marginal",
  "labelSetMarginal",
];

/**
 * A voxel mask: 1 = the voxel is counted, 0 = it is ignored (it leaves every sum and gets a
 * zero gradient). Either one value per voxel of each image (`[B, ...spatial]`, shared by all
 * channels, like nnU-Net's `loss_mask` and MONAI's `MaskedDiceLoss` mask) or one per voxel of
 * each map (`[B, C, ...spatial]`); the length tells which.
 */
export type DiceMask = Uint8Array | Float32Array | Float64Array;

/** Per-voxel label-set indices `[B, ...spatial]`: 0 = a leaf label, s ≥ 1 = `labelSets[s − 1]`. */
export type LabelSetIndex = Uint8Array | Uint16Array | Uint32Array;

/** Options of {@linkcode diceLoss}. */
export interface DiceLossOptions {
  /**
   * Reduction sets Φ: `"I"` one subset per image and class, `"CI"` per image (classes pooled),
   * `"BI"` per class (batch pooled), `"BCI"` one subset. Aliases `"image"`, `"class"`,
   * `"batch"`, `"all"`.
   * @default "I"
   */
  phi?: PhiInput;
  /**
   * Smoothing ε: a number (same in numerator and denominator), `{ numerator, denominator }`,
   * or an array with one number or pair per kept class. For Φ = CI or BCI, whose subsets span
   * several classes, a per-class array contributes the sum over the kept classes.
   * @default 1e-7
   */
  epsilon?: EpsilonInput;
  /**
   * Channel indices kept in the loss, e.g. `[1, 2, 3]` to drop the background.
   * @default all channels
   */
  classes?: readonly number[];
  /**
   * `"plain"` (Eq. 3), `"leaf"` (Fidon et al. 2021), `"marginal"` (Shi et al. 2021: missing
   * classes merged into the background per image) or `"labelSetMarginal"` (Fidon et al. 2021:
   * per voxel, the members of the voxel's label set share its marginal probability; needs
   * `labelSets` and `labelSetIndex`).
   * @default "plain"
   */
  variant?: DiceVariant;
  /**
   * `labeled[b][c]`: whether map (b, c) is labelled. Only used by the leaf and marginal
   * variants.
   * @default a map is missing when its target is empty
   */
  labeled?: ReadonlyArray<ReadonlyArray<boolean>>;
  /**
   * Background channel for the marginal variant.
   * @default 0
   */
  background?: number;
  /**
   * Voxel mask (ignore label / loss mask), values exactly 0 or 1: `[B, ...spatial]` (one value
   * per voxel, all channels) or `[B, C, ...spatial]` (one per voxel of each map). A 0 removes
   * the voxel from every sum (Σyŷ, Σy, Σŷ, and Σy², Σŷ² with `squaredDenominator`) and from
   * the leaf's "is the map labelled" test; its gradient is exactly 0. Applied after the
   * marginal and label-set merges (a merged channel uses its own channel's mask).
   * @default every voxel counted
   */
  mask?: DiceMask;
  /**
   * Square the denominator's terms: D = Σŷ² + Σy² + ε_dr (Milletari et al. 2016, V-Net; MONAI
   * `squared_pred`, Fidon's `squared`). The numerator stays 2Σyŷ + ε_nr.
   * @default false
   */
  squaredDenominator?: boolean;
  /**
   * Label sets (Fidon et al. 2021): `labelSets[s − 1]` lists the channels of label set s (at
   * least two distinct channels), e.g. `[[0, 2]]` for "background or MYO". Needs
   * `labelSetIndex`. A voxel labelled with a set has an all-zero target row (it is a negative
   * of every leaf label, as in Fidon's `LeafDiceLoss`); `"labelSetMarginal"` marginalises it.
   * @default none
   */
  labelSets?: ReadonlyArray<ReadonlyArray<number>>;
  /**
   * Per-voxel label set `[B, ...spatial]`: 0 = the voxel carries its leaf label in `target`,
   * s ≥ 1 = it is labelled with the set `labelSets[s − 1]` (its target row must be zero).
   * @default every voxel has a leaf label
   */
  labelSetIndex?: LabelSetIndex;
}

/** Options after validation, in the form the implementations use. */
export interface ResolvedDiceOptions {
  /** Reduction sets. */
  phi: Phi;
  /** Batch size B. */
  batch: number;
  /** Channels C. */
  channels: number;
  /** Voxels per map (product of the spatial dims). */
  voxels: number;
  /** Kept channel indices, in order. */
  classes: number[];
  /** ε of the numerator per kept class. */
  epsNumerator: Float64Array;
  /** ε of the denominator per kept class. */
  epsDenominator: Float64Array;
  /** True when ε was given per class (then CI/BCI subsets pool the kept classes' ε). */
  epsPerClass: boolean;
  /** Variant. */
  variant: DiceVariant;
  /** Background channel (marginal). */
  background: number;
  /** Number of subsets |Φ|. */
  subsetCount: number;
  /** Whether the denominator is Σŷ² + Σy² + ε_dr. */
  squaredDenominator: boolean;
  /** Layout of `options.mask`: none, one value per image voxel, or one per map voxel. */
  maskLayout: "none" | "voxel" | "map";
  /** Label sets (channel lists), in the order `labelSetIndex` refers to (set s at s − 1). */
  labelSets: number[][];
}

/**
 * Map a user's Φ to the paper's symbol.
 *
 * @param phi `"I" | "CI" | "BI" | "BCI"` or `"image" | "class" | "batch" | "all"`.
 * @returns The symbol.
 * @throws {RangeError} When `phi` is none of these.
 */
export function resolvePhi(phi: unknown): Phi {
  if ((PHI_SETS as readonly unknown[]).includes(phi)) return phi as Phi;
  const p = typeof phi === "string" && Object.hasOwn(PHI_ALIASES, phi)
    ? PHI_ALIASES[phi as PhiAlias]
    : undefined;
  if (!p) throw new RangeError(`Invalid options.phi: ${PHI_HINT}, got ${JSON.stringify(phi)}`);
  return p;
}

/**
 * Validate a `[B, C, ...spatial]` shape with 1–3 spatial dimensions.
 *
 * @param shape The shape.
 * @param name Argument name for messages.
 * @returns `{ batch, channels, voxels }`.
 * @throws {TypeError} When the shape is not an array of 3–5 positive integers.
 */
export function checkShape(
  shape: readonly number[],
  name = "shape",
): { batch: number; channels: number; voxels: number } {
  if (!Array.isArray(shape) || shape.length < 3 || shape.length > 5) {
    throw new TypeError(
      `Invalid ${name}: expected [B, C, ...spatial] with 1 to 3 spatial dims, got ${
        JSON.stringify(shape)
      }`,
    );
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new TypeError(
        `Invalid ${name}: every dimension must be a positive integer, got ${JSON.stringify(shape)}`,
      );
    }
  }
  return { batch: shape[0], channels: shape[1], voxels: shape.slice(2).reduce((a, b) => a * b, 1) };
}

function _epsPair(e: unknown, where: string): EpsilonPair {
  if (typeof e === "number") {
    if (!(e >= 0) || !Number.isFinite(e)) {
      throw new RangeError(`Invalid ${where}: expected a finite number ≥ 0, got ${e}`);
    }
    return { numerator: e, denominator: e };
  }
  if (e && typeof e === "object" && !Array.isArray(e)) {
    const { numerator, denominator } = e as EpsilonPair;
    for (const [k, v] of [["numerator", numerator], ["denominator", denominator]] as const) {
      if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) {
        throw new RangeError(`Invalid ${where}.${k}: expected a finite number ≥ 0, got ${v}`);
      }
    }
    return { numerator, denominator };
  }
  throw new TypeError(
    `Invalid ${where}: expected a number, { numerator, denominator } or an array of those, got ${
      JSON.stringify(e)
    }`,
  );
}

/**
 * Number of subsets |Φ| for a batch of `batch` images and `kept` classes.
 *
 * @param phi Reduction sets.
 * @param batch Batch size B.
 * @param kept Number of kept classes.
 * @returns |Φ|.
 */
export function subsetCount(phi: Phi, batch: number, kept: number): number {
  switch (phi) {
    case "I":
      return batch * kept;
    case "CI":
      return batch;
    case "BI":
      return kept;
    case "BCI":
      return 1;
  }
}

/**
 * The subset that map (b, k) belongs to, with k the index among the kept classes.
 * Subsets are ordered b-major for I (`b·K + k`), by image for CI, by class for BI.
 *
 * @param phi Reduction sets.
 * @param b Batch index.
 * @param k Kept-class index.
 * @param kept Number of kept classes K.
 * @returns The subset index.
 */
export function subsetOf(phi: Phi, b: number, k: number, kept: number): number {
  switch (phi) {
    case "I":
      return b * kept + k;
    case "CI":
      return b;
    case "BI":
      return k;
    case "BCI":
      return 0;
  }
}

/**
 * Validate and resolve Dice-loss options against a shape.
 *
 * @param shape `[B, C, ...spatial]`.
 * @param options User options.
 * @returns The resolved options.
 * @throws {TypeError} For malformed shapes, classes, ε or labelled masks.
 * @throws {RangeError} For unknown Φ or variant, negative ε, or out-of-range classes.
 */
export function resolveDiceOptions(
  shape: readonly number[],
  options: DiceLossOptions = {},
): ResolvedDiceOptions {
  const { batch, channels, voxels } = checkShape(shape);
  const phi = resolvePhi(options.phi ?? "I");
  const variant = options.variant ?? "plain";
  if (!(DICE_VARIANTS as readonly unknown[]).includes(variant)) {
    throw new RangeError(
      `Invalid options.variant: expected ${DICE_VARIANTS.map((v) => `"${v}"`).join(", ")}, got ${
        JSON.stringify(variant)
      }`,
    );
  }
  let classes: number[];
  if (options.classes === undefined) {
    classes = Array.from({ length: channels }, (_, i) => i);
  } else {
    if (!Array.isArray(options.classes) || options.classes.length === 0) {
      throw new TypeError(`Invalid options.classes: expected a non-empty array of channel indices`);
    }
    classes = [...options.classes];
    const seen = new Set<number>();
    for (const c of classes) {
      if (!Number.isInteger(c) || c < 0 || c >= channels) {
        throw new RangeError(
          `Invalid options.classes: ${c} is not a channel index in 0..${channels - 1}`,
        );
      }
      if (seen.has(c)) throw new RangeError(`Invalid options.classes: ${c} appears twice`);
      seen.add(c);
    }
  }
  const kept = classes.length;
  const epsNumerator = new Float64Array(kept);
  const epsDenominator = new Float64Array(kept);
  const eps = options.epsilon ?? 1e-7;
  if (Array.isArray(eps)) {
    if (eps.length !== kept) {
      throw new TypeError(
        `Invalid options.epsilon: a per-class array needs one entry per kept class (${kept}), got ${eps.length}`,
      );
    }
    eps.forEach((e, k) => {
      const p = _epsPair(e, `options.epsilon[${k}]`);
      epsNumerator[k] = p.numerator;
      epsDenominator[k] = p.denominator;
    });
  } else {
    const p = _epsPair(eps, "options.epsilon");
    epsNumerator.fill(p.numerator);
    epsDenominator.fill(p.denominator);
  }
  const background = options.background ?? 0;
  if (!Number.isInteger(background) || background < 0 || background >= channels) {
    throw new RangeError(
      `Invalid options.background: ${background} is not a channel index in 0..${channels - 1}`,
    );
  }
  if (variant === "marginal" && channels < 2) {
    throw new RangeError(
      `Invalid options.variant: "marginal" needs a background channel and at least one class (C ≥ 2), got C = ${channels}`,
    );
  }
  if (options.labeled !== undefined) {
    const l = options.labeled;
    if (!Array.isArray(l) || l.length !== batch) {
      throw new TypeError(`Invalid options.labeled: expected ${batch} rows ([B][C] booleans)`);
    }
    l.forEach((row, b) => {
      if (!Array.isArray(row) || row.length !== channels) {
        throw new TypeError(`Invalid options.labeled[${b}]: expected ${channels} booleans`);
      }
      row.forEach((v, c) => {
        if (typeof v !== "boolean") {
          throw new TypeError(`Invalid options.labeled[${b}][${c}]: expected a boolean, got ${v}`);
        }
      });
    });
  }
  const squaredDenominator = options.squaredDenominator ?? false;
  if (typeof squaredDenominator !== "boolean") {
    throw new TypeError(
      `Invalid options.squaredDenominator: expected a boolean, got ${
        JSON.stringify(squaredDenominator)
      }`,
    );
  }
  const maskLayout = _checkMask(options.mask, batch, channels, voxels);
  const labelSets = _checkLabelSets(options, variant, batch, channels, voxels);
  return {
    phi,
    batch,
    channels,
    voxels,
    classes,
    epsNumerator,
    epsDenominator,
    epsPerClass: Array.isArray(eps),
    variant,
    background,
    subsetCount: subsetCount(phi, batch, kept),
    squaredDenominator,
    maskLayout,
    labelSets,
  };
}

function _checkMask(
  mask: unknown,
  batch: number,
  channels: number,
  voxels: number,
): "none" | "voxel" | "map" {
  if (mask === undefined) return "none";
  if (
    !(mask instanceof Uint8Array) && !(mask instanceof Float32Array) &&
    !(mask instanceof Float64Array)
  ) {
    throw new TypeError(
      `Invalid options.mask: expected a Uint8Array, Float32Array or Float64Array`,
    );
  }
  // With C = 1 both layouts have the same length and the same meaning.
  const layout = mask.length === batch * voxels
    ? "voxel"
    : mask.length === batch * channels * voxels
    ? "map"
    : undefined;
  if (!layout) {
    throw new TypeError(
      `Invalid options.mask: length ${mask.length} is neither B·V = ${
        batch * voxels
      } ([B, ...spatial]) nor B·C·V = ${batch * channels * voxels} ([B, C, ...spatial])`,
    );
  }
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 0 && mask[i] !== 1) {
      throw new RangeError(`Invalid options.mask: element ${i} is ${mask[i]}, expected 0 or 1`);
    }
  }
  return layout;
}

function _checkLabelSets(
  options: DiceLossOptions,
  variant: DiceVariant,
  batch: number,
  channels: number,
  voxels: number,
): number[][] {
  const { labelSets, labelSetIndex } = options;
  if (labelSets === undefined && labelSetIndex === undefined) {
    if (variant === "labelSetMarginal") {
      throw new TypeError(
        `Invalid options.variant: "labelSetMarginal" needs options.labelSets and options.labelSetIndex`,
      );
    }
    return [];
  }
  if (labelSets === undefined || labelSetIndex === undefined) {
    throw new TypeError(
      `Invalid options.${
        labelSets === undefined ? "labelSetIndex" : "labelSets"
      }: labelSets and labelSetIndex go together`,
    );
  }
  if (variant === "marginal") {
    throw new RangeError(
      `Invalid options.labelSets: the "marginal" variant merges missing maps per image and takes no label sets (use "labelSetMarginal")`,
    );
  }
  if (!Array.isArray(labelSets) || labelSets.length === 0) {
    throw new TypeError(`Invalid options.labelSets: expected a non-empty array of channel lists`);
  }
  const sets = labelSets.map((set, s) => {
    if (!Array.isArray(set) || set.length < 2) {
      throw new TypeError(
        `Invalid options.labelSets[${s}]: expected at least two channel indices, got ${
          JSON.stringify(set)
        }`,
      );
    }
    const seen = new Set<number>();
    for (const c of set) {
      if (!Number.isInteger(c) || c < 0 || c >= channels) {
        throw new RangeError(
          `Invalid options.labelSets[${s}]: ${c} is not a channel index in 0..${channels - 1}`,
        );
      }
      if (seen.has(c)) throw new RangeError(`Invalid options.labelSets[${s}]: ${c} appears twice`);
      seen.add(c);
    }
    return [...set] as number[];
  });
  if (
    !(labelSetIndex instanceof Uint8Array) && !(labelSetIndex instanceof Uint16Array) &&
    !(labelSetIndex instanceof Uint32Array)
  ) {
    throw new TypeError(
      `Invalid options.labelSetIndex: expected a Uint8Array, Uint16Array or Uint32Array`,
    );
  }
  if (labelSetIndex.length !== batch * voxels) {
    throw new TypeError(
      `Invalid options.labelSetIndex: length ${labelSetIndex.length} does not match [B, ...spatial] (${
        batch * voxels
      } voxels)`,
    );
  }
  for (let i = 0; i < labelSetIndex.length; i++) {
    if (labelSetIndex[i] > sets.length) {
      throw new RangeError(
        `Invalid options.labelSetIndex: element ${i} is ${
          labelSetIndex[i]
        }, but there are ${sets.length} label set(s)`,
      );
    }
  }
  return sets;
}
