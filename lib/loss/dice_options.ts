/**
 * Options of the Dice-loss family and their validation: the reduction sets Φ, the smoothing
 * term ε (numerator and denominator, per class), the kept classes, the variant (plain, leaf,
 * marginal) and which maps are labelled. Shared by the float64 reference and the GPU kernels.
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
export type DiceVariant = "plain" | "leaf" | "marginal";

/** The variants in their canonical order (the GPU kernels' variant codes are these indices). */
export const DICE_VARIANTS: readonly ["plain", "leaf", "marginal"] = ["plain", "leaf", "marginal"];

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
   * `"plain"` (Eq. 3), `"leaf"` (Fidon et al. 2021) or `"marginal"` (Shi et al. 2021).
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
      `Invalid options.variant: expected "plain", "leaf" or "marginal", got ${
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
  };
}
