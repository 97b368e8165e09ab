/**
 * The Dice-loss family in float64 with exact analytic gradients: the reference that the GPU
 * kernels and the peers' implementations are checked against.
 *
 * Loss (Tilborghs, Bertels et al. 2022, Eq. 3):
 *   `DL = 1 − (1/|Φ|) Σ_φ (2Σ_φ yŷ + ε_nr) / (Σ_φ (y + ŷ) + ε_dr)`
 * Gradient (Eq. 4, with separate ε): for ω in subset φ,
 *   `∂DL/∂ŷ_ω = −(1/|Φ|) (2y_ω / D_φ − N_φ / D_φ²)`,  `N_φ = 2Σyŷ + ε_nr`, `D_φ = Σ(y+ŷ) + ε_dr`.
 *
 * Variants:
 * - leaf (Fidon et al., MICCAI 2021): missing maps are removed from every subset (their
 *   predictions enter no sum and get zero gradient). A subset left with no labelled map
 *   contributes the constant sDSC = 0 (per-subset loss 1) and keeps its 1/|Φ| weight, as
 *   Fidon's leaf-Dice and the dicegrad code do (an unannotated class has numerator 0).
 * - marginal (Shi et al., MedIA 2021): per image, the predicted probabilities (and targets) of
 *   missing classes are added to the background channel and the missing channels are set to
 *   zero; then the plain loss is applied. The gradient flows back through the merge, so a
 *   missing class receives the background's gradient (none when the background is not kept).
 *
 * @module
 */

import {
  type DiceLossOptions,
  type ResolvedDiceOptions,
  resolveDiceOptions,
  subsetOf,
} from "./dice_options.ts";

/** Result of {@linkcode diceLoss}. */
export interface DiceLossResult {
  /** The loss value. */
  loss: number;
  /** d loss / d pred, same layout as `pred`. */
  grad: Float64Array;
  /** 1 − sDSC per subset φ, in subset order (I: b-major `b·K + k`; CI: by b; BI: by k). */
  perSubset: Float64Array;
}

/** Numeric arrays accepted as predictions and targets. */
export type NumericArray = Float32Array | Float64Array;

function _checkArray(a: unknown, name: string, length: number): asserts a is NumericArray {
  if (!(a instanceof Float32Array) && !(a instanceof Float64Array)) {
    throw new TypeError(`Invalid ${name}: expected a Float32Array or Float64Array`);
  }
  if (a.length !== length) {
    throw new TypeError(
      `Invalid ${name}: length ${a.length} does not match shape (${length} elements)`,
    );
  }
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) throw new RangeError(`Invalid ${name}: element ${i} is NaN`);
  }
}

/**
 * Whether each map (b, c) is labelled: from `options.labeled`, else "target not empty".
 *
 * @param target Targets `[B, C, ...spatial]`.
 * @param r Resolved options.
 * @param labeled Explicit `[B][C]` mask, if given.
 * @returns `B·C` flags, 1 = labelled.
 */
export function labeledMaps(
  target: ArrayLike<number>,
  r: Pick<ResolvedDiceOptions, "batch" | "channels" | "voxels">,
  labeled?: ReadonlyArray<ReadonlyArray<boolean>>,
): Uint8Array {
  const out = new Uint8Array(r.batch * r.channels);
  for (let m = 0; m < out.length; m++) {
    if (labeled) {
      out[m] = labeled[Math.floor(m / r.channels)][m % r.channels] ? 1 : 0;
    } else {
      const base = m * r.voxels;
      let any = 0;
      for (let i = 0; i < r.voxels; i++) {
        if (target[base + i] !== 0) {
          any = 1;
          break;
        }
      }
      out[m] = any;
    }
  }
  return out;
}

/**
 * The Dice loss with explicit Φ and ε, its exact gradient and the per-subset losses.
 *
 * @param pred Probabilities `[B, C, ...spatial]` (activation applied), row-major.
 * @param target Targets of the same shape (binary or soft).
 * @param shape `[B, C, ...spatial]` with 1–3 spatial dims.
 * @param options Φ, ε, kept classes, variant, labelled maps.
 * @returns Loss, gradient w.r.t. `pred`, and 1 − sDSC per subset.
 * @throws {TypeError} On shape or length mismatch or malformed options.
 * @throws {RangeError} On NaN inputs, unknown Φ or variant, negative ε, or a subset with a
 *   zero denominator (ε_dr = 0 and nothing predicted or labelled).
 * @example
 * ```ts
 * import { diceLoss } from "./dice_loss.ts";
 * // One image, one class, 4 voxels: y = [1,1,0,0], ŷ = [1,0,0,0].
 * // sDSC = (2·1 + ε)/(2 + 1 + ε) ≈ 2/3, so the loss is ≈ 1/3.
 * const { loss } = diceLoss(
 *   new Float64Array([1, 0, 0, 0]),
 *   new Float64Array([1, 1, 0, 0]),
 *   [1, 1, 4],
 *   { phi: "I", epsilon: 0 },
 * );
 * if (Math.abs(loss - 1 / 3) > 1e-12) throw new Error("unexpected");
 * ```
 */
export function diceLoss(
  pred: NumericArray,
  target: NumericArray,
  shape: readonly number[],
  options: DiceLossOptions = {},
): DiceLossResult {
  const r = resolveDiceOptions(shape, options);
  const n = r.batch * r.channels * r.voxels;
  _checkArray(pred, "pred", n);
  _checkArray(target, "target", n);
  const { batch: B, channels: C, voxels: V, classes, phi, variant } = r;
  const K = classes.length;

  const needsMask = variant !== "plain";
  const labeled = needsMask ? labeledMaps(target, r, options.labeled) : undefined;

  // Marginal: merge missing classes into the background, both prediction and target.
  let p: ArrayLike<number> = pred;
  let y: ArrayLike<number> = target;
  if (variant === "marginal") {
    const bg = r.background;
    const pm = Float64Array.from(pred);
    const ym = Float64Array.from(target);
    for (let b = 0; b < B; b++) {
      labeled![b * C + bg] = 1; // the background is never missing
      for (let c = 0; c < C; c++) {
        if (labeled![b * C + c]) continue;
        const src = (b * C + c) * V;
        const dst = (b * C + bg) * V;
        for (let i = 0; i < V; i++) {
          pm[dst + i] += pm[src + i];
          ym[dst + i] += ym[src + i];
          pm[src + i] = 0;
          ym[src + i] = 0;
        }
      }
    }
    p = pm;
    y = ym;
  }

  // Per-subset sums over included maps.
  const S = r.subsetCount;
  const inter = new Float64Array(S);
  const total = new Float64Array(S);
  const epsN = new Float64Array(S);
  const epsD = new Float64Array(S);
  const active = new Uint8Array(S); // leaf: subset has at least one labelled map
  const included = new Uint8Array(B * K);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const c = classes[k];
      const s = subsetOf(phi, b, k, K);
      // ε of a subset: its class's ε (I, BI). CI and BCI subsets span the kept classes: a
      // per-class ε contributes the sum over them, a single ε is the subset's ε.
      if (phi === "I" || phi === "BI" || !r.epsPerClass) {
        epsN[s] = r.epsNumerator[k];
        epsD[s] = r.epsDenominator[k];
      } else if (phi === "CI" || b === 0) {
        epsN[s] += r.epsNumerator[k];
        epsD[s] += r.epsDenominator[k];
      }
      if (variant === "leaf" && !labeled![b * C + c]) continue;
      included[b * K + k] = 1;
      active[s] = 1;
      const base = (b * C + c) * V;
      let si = 0;
      let st = 0;
      for (let i = 0; i < V; i++) {
        const yi = y[base + i];
        const pi = p[base + i];
        si += yi * pi;
        st += yi + pi;
      }
      inter[s] += si;
      total[s] += st;
    }
  }

  const perSubset = new Float64Array(S);
  const coefY = new Float64Array(S); // gradient = coefY·y + coefC on included maps
  const coefC = new Float64Array(S);
  let sumDsc = 0;
  for (let s = 0; s < S; s++) {
    if (variant === "leaf" && !active[s]) {
      perSubset[s] = 1; // constant sDSC = 0, no gradient
      continue;
    }
    const num = 2 * inter[s] + epsN[s];
    const den = total[s] + epsD[s];
    if (!(den > 0)) {
      throw new RangeError(
        `Cannot compute the Dice loss: subset ${s} has a zero denominator (ε_denominator = ${
          epsD[s]
        } and neither prediction nor target has mass)`,
      );
    }
    const dsc = num / den;
    sumDsc += dsc;
    perSubset[s] = 1 - dsc;
    coefY[s] = -2 / (S * den);
    coefC[s] = dsc / (S * den);
  }
  const loss = 1 - sumDsc / S;

  const gEff = new Float64Array(n);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      if (!included[b * K + k]) continue;
      const s = subsetOf(phi, b, k, K);
      const cy = coefY[s];
      const cc = coefC[s];
      const base = (b * C + classes[k]) * V;
      for (let i = 0; i < V; i++) gEff[base + i] = cy * y[base + i] + cc;
    }
  }
  if (variant !== "marginal") return { loss, grad: gEff, perSubset };

  // Marginal: ŷ'_bg = ŷ_bg + Σ_missing ŷ_c and ŷ'_missing = 0, so ∂/∂ŷ_missing = ∂/∂ŷ'_bg.
  const grad = gEff;
  for (let b = 0; b < B; b++) {
    const bgBase = (b * C + r.background) * V;
    for (let c = 0; c < C; c++) {
      if (labeled![b * C + c]) continue;
      const base = (b * C + c) * V;
      for (let i = 0; i < V; i++) grad[base + i] = gEff[bgBase + i];
    }
  }
  return { loss, grad, perSubset };
}
