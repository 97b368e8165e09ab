/**
 * The Dice-loss family in float64 with exact analytic gradients: the reference that the GPU
 * kernels and the peers' implementations are checked against.
 *
 * Loss (Tilborghs, Bertels et al. 2022, Eq. 3):
 *   `DL = 1 − (1/|Φ|) Σ_φ (2Σ_φ yŷ + ε_nr) / (Σ_φ (y + ŷ) + ε_dr)`
 * Gradient (Eq. 4, with separate ε): for ω in subset φ,
 *   `∂DL/∂ŷ_ω = −(1/|Φ|) (2y_ω / D_φ − N_φ / D_φ²)`,  `N_φ = 2Σyŷ + ε_nr`, `D_φ = Σ(y+ŷ) + ε_dr`.
 *
 * Options on top of Eq. 3 (docs/loss-family.md has the peer equivalences):
 * - `mask` (m ∈ {0, 1} per voxel, or per voxel of each map): every sum runs over the counted
 *   voxels only, `N_φ = 2Σ m yŷ + ε_nr`, `D_φ = Σ m (y + ŷ) + ε_dr`, so
 *   `∂DL/∂ŷ_ω = m_ω · (Eq. 4)` — exactly 0 on ignored voxels.
 * - `squaredDenominator` (Milletari et al. 2016): `D_φ = Σ m (y² + ŷ²) + ε_dr` and
 *   `∂DL/∂ŷ_ω = −(m_ω/|Φ|) (2y_ω / D_φ − 2ŷ_ω N_φ / D_φ²)`.
 *
 * Variants:
 * - leaf (Fidon et al., MICCAI 2021): missing maps are removed from every subset (their
 *   predictions enter no sum and get zero gradient). A subset left with no labelled map
 *   contributes the constant sDSC = 0 (per-subset loss 1) and keeps its 1/|Φ| weight, as
 *   Fidon's leaf-Dice and the dicegrad code do (an unannotated class has numerator 0). With a
 *   mask, a map is missing when its target is empty on the counted voxels. With label sets, a
 *   set-labelled voxel has a zero target row: a negative of every leaf label whose prediction
 *   still counts, as in Fidon's `LeafDiceLoss` (`labels_superset_map`).
 * - marginal (Shi et al., MedIA 2021): per image, the predicted probabilities (and targets) of
 *   missing classes are added to the background channel and the missing channels are set to
 *   zero; then the plain loss is applied. The gradient flows back through the merge, so a
 *   missing class receives the background's gradient (none when the background is not kept).
 *   Missing maps' value: a zeroed missing channel is an empty-vs-empty map and gets what Eq. 3
 *   gives any such map, sDSC = ε_nr/ε_dr when it is alone in its subset (Φ = I, or Φ = BI
 *   when the class is missing in the whole batch); it is deliberately not special-cased. The
 *   paper authors' code gives such a subset 0 instead: their logged loss is dicelab's plus
 *   (1/|Φ|)·Σ ε_nr/ε_dr over those subsets. The gradient is the same either way.
 * - labelSetMarginal (Fidon et al. 2021, `MarginalizedDiceLoss`): at a voxel labelled with the
 *   label set S, every member c ∈ S gets the marginal probability spread evenly,
 *   `ŷ'_c = (1/|S|) Σ_{c'∈S} ŷ_c'`, and the target `y'_c = 1/|S|`; other channels and
 *   leaf-labelled voxels are unchanged. The plain loss is applied to (ŷ', y') and the gradient
 *   flows back: `∂DL/∂ŷ_c = (1/|S|) Σ_{c'∈S} ∂DL/∂ŷ'_c'` for c ∈ S.
 *
 * The mask is applied to the maps the loss is computed on, i.e. after a merge; the merging
 * variants therefore take only a `[B, ...spatial]` mask.
 *
 * @module
 */

import {
  type DiceLossOptions,
  type DiceMask,
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
 * Whether each map (b, c) is labelled: from `options.labeled`, else "target not empty" (on
 * the counted voxels when a mask is given).
 *
 * @param target Targets `[B, C, ...spatial]`.
 * @param r Resolved options.
 * @param labeled Explicit `[B][C]` mask, if given.
 * @param mask Voxel mask `[B, ...spatial]` or `[B, C, ...spatial]` (0 = ignored), if given.
 * @returns `B·C` flags, 1 = labelled.
 */
export function labeledMaps(
  target: ArrayLike<number>,
  r: Pick<ResolvedDiceOptions, "batch" | "channels" | "voxels">,
  labeled?: ReadonlyArray<ReadonlyArray<boolean>>,
  mask?: DiceMask,
): Uint8Array {
  const out = new Uint8Array(r.batch * r.channels);
  const perVoxel = mask !== undefined && mask.length === r.batch * r.voxels;
  for (let m = 0; m < out.length; m++) {
    if (labeled) {
      out[m] = labeled[Math.floor(m / r.channels)][m % r.channels] ? 1 : 0;
    } else {
      const base = m * r.voxels;
      const mBase = perVoxel ? Math.floor(m / r.channels) * r.voxels : base;
      let any = 0;
      for (let i = 0; i < r.voxels; i++) {
        if (target[base + i] !== 0 && (!mask || mask[mBase + i] !== 0)) {
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
 * @param options Φ, ε, kept classes, variant, labelled maps, voxel mask, squared denominator,
 *   label sets.
 * @returns Loss, gradient w.r.t. `pred`, and 1 − sDSC per subset.
 * @throws {TypeError} On shape or length mismatch or malformed options.
 * @throws {RangeError} On NaN inputs, unknown Φ or variant, negative ε, a mask value other
 *   than 0 or 1, a set-labelled voxel with a non-zero target row, or a subset with a zero
 *   denominator (ε_dr = 0 and nothing predicted or labelled on the counted voxels).
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
  const squared = r.squaredDenominator;
  const mask = options.mask;
  const perVoxelMask = r.maskLayout === "voxel";
  const sets = r.labelSets;
  const setIndex = options.labelSetIndex;
  const merges = variant === "marginal" || variant === "labelSetMarginal";
  if (merges && r.maskLayout === "map") {
    throw new RangeError(
      `Invalid options.mask: the "${variant}" variant merges channels and takes a [B, ...spatial] mask, got one per map voxel`,
    );
  }
  if (sets.length > 0) _checkSetTargets(target, setIndex!, r);

  const needsMask = variant === "leaf" || variant === "marginal";
  const labeled = needsMask ? labeledMaps(target, r, options.labeled, mask) : undefined;

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
  } else if (variant === "labelSetMarginal") {
    // Fidon's marginalisation: the members of a voxel's label set share its probability.
    const pm = Float64Array.from(pred);
    const ym = Float64Array.from(target);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < V; i++) {
        const s = setIndex![b * V + i];
        if (s === 0) continue;
        const set = sets[s - 1];
        let sum = 0;
        for (const c of set) sum += pred[(b * C + c) * V + i];
        const share = sum / set.length, w = 1 / set.length;
        for (const c of set) {
          pm[(b * C + c) * V + i] = share;
          ym[(b * C + c) * V + i] = w;
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
      if (!mask && !squared) {
        for (let i = 0; i < V; i++) {
          const yi = y[base + i];
          const pi = p[base + i];
          si += yi * pi;
          st += yi + pi;
        }
      } else {
        const mBase = perVoxelMask ? b * V : base;
        for (let i = 0; i < V; i++) {
          if (mask && mask[mBase + i] === 0) continue;
          const yi = y[base + i];
          const pi = p[base + i];
          si += yi * pi;
          st += squared ? yi * yi + pi * pi : yi + pi;
        }
      }
      inter[s] += si;
      total[s] += st;
    }
  }

  const perSubset = new Float64Array(S);
  const coefY = new Float64Array(S); // gradient = coefY·y + coefC·∂D/∂ŷ on included maps
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
      if (!mask && !squared) {
        for (let i = 0; i < V; i++) gEff[base + i] = cy * y[base + i] + cc;
      } else {
        const mBase = perVoxelMask ? b * V : base;
        for (let i = 0; i < V; i++) {
          if (mask && mask[mBase + i] === 0) continue; // ignored: exactly 0
          gEff[base + i] = cy * y[base + i] + (squared ? 2 * cc * p[base + i] : cc);
        }
      }
    }
  }
  const grad = gEff;
  if (variant === "marginal") {
    // ŷ'_bg = ŷ_bg + Σ_missing ŷ_c and ŷ'_missing = 0, so ∂/∂ŷ_missing = ∂/∂ŷ'_bg.
    for (let b = 0; b < B; b++) {
      const bgBase = (b * C + r.background) * V;
      for (let c = 0; c < C; c++) {
        if (labeled![b * C + c]) continue;
        const base = (b * C + c) * V;
        for (let i = 0; i < V; i++) grad[base + i] = gEff[bgBase + i];
      }
    }
  } else if (variant === "labelSetMarginal") {
    // ŷ'_c = (1/|S|) Σ_{c'∈S} ŷ_c' for c ∈ S, so ∂/∂ŷ_c = (1/|S|) Σ_{c'∈S} ∂/∂ŷ'_c'.
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < V; i++) {
        const s = setIndex![b * V + i];
        if (s === 0) continue;
        const set = sets[s - 1];
        let sum = 0;
        for (const c of set) sum += gEff[(b * C + c) * V + i];
        const g = sum / set.length;
        for (const c of set) grad[(b * C + c) * V + i] = g;
      }
    }
  }
  return { loss, grad, perSubset };
}

/** A voxel labelled with a label set carries no leaf label: its target row must be zero. */
function _checkSetTargets(
  target: NumericArray,
  setIndex: ArrayLike<number>,
  r: ResolvedDiceOptions,
): void {
  const { batch: B, channels: C, voxels: V } = r;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < V; i++) {
      if (setIndex[b * V + i] === 0) continue;
      for (let c = 0; c < C; c++) {
        if (target[(b * C + c) * V + i] !== 0) {
          throw new RangeError(
            `Invalid target: voxel ${i} of image ${b} is labelled with label set ${
              setIndex[b * V + i]
            } but its target in channel ${c} is ${target[(b * C + c) * V + i]}, expected 0`,
          );
        }
      }
    }
  }
}
