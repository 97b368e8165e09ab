/**
 * The Φ/ε regime analyzer: before any training, predict from the training labels whether a
 * Dice-loss configuration will ignore missing labels or learn to predict empty maps
 * (Tilborghs, Bertels et al. 2022, Sect. 2.2–2.3).
 *
 * Model. Early in training the network segments every object it sees, also where the
 * training target is empty (a missing label): on map m it predicts a volume v̂_m equal to the
 * object's true volume, overlapping a fraction `overlap` of the labelled volume. For random
 * batches of B training maps, Eq. 4 then gives, per subset φ with N = 2Σyŷ + ε_nr and
 * D = Σ(y + ŷ) + ε_dr, the per-voxel gradient on a predicted voxel of an empty-target map,
 * `g₀ = N / (|Φ| D²)` (it pushes the prediction towards empty), and on a labelled voxel,
 * `g₁ = −(2/D − N/D²)/|Φ|`. The ratio of the mean g₀ on empty-target maps to the mean |g₁|
 * on labelled maps decides the regime:
 * ratio ≥ 0.05 "learns empty maps", ratio ≤ 0.001 "ignores missing labels", else
 * "transition" (thresholds from the closed forms: I with ε = 1e-7 gives ~1e-11, I with the
 * heuristic ε ~0.5, BI with B = 2 ~0.2).
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import type { EpsilonInput, PhiInput } from "./dice_options.ts";
import { resolvePhi } from "./dice_options.ts";

/** Volumes of one training map set (one case), per kept class. */
export interface MapVolumes {
  /** Σy of the training target per kept class (after the labeling protocol). */
  train: readonly number[];
  /** Volume the network is assumed to predict per kept class (the true, fully labelled volume). */
  predicted: readonly number[];
}

/** Options of {@linkcode analyzeRegime}. */
export interface RegimeOptions {
  /** Reduction sets. */
  phi: PhiInput;
  /** ε (number, pair or per-class array; resolve `"heuristic"` before calling). */
  epsilon: EpsilonInput;
  /** Batch size. */
  batchSize: number;
  /** Fraction of a labelled object the prediction overlaps. @default 0.5 */
  overlap?: number;
  /** Monte-Carlo batches. @default 2000 */
  batches?: number;
  /** Seed. @default 1 */
  seed?: number;
  /** Leaf variant: empty-target maps are excluded (no gradient). @default false */
  leaf?: boolean;
}

/** The analysis of one kept class. */
export interface ClassRegime {
  /** Fraction of training maps whose target is empty. */
  emptyMapFraction: number;
  /** Fraction of Φ-subsets (in random batches) whose target is empty. */
  emptySubsetFraction: number;
  /** Mean per-voxel gradient pushing predictions down on empty-target maps (g₀). */
  gradEmpty: number;
  /** Mean per-voxel |gradient| on labelled foreground voxels (|g₁|). */
  gradLabelled: number;
  /** gradEmpty / gradLabelled. */
  ratio: number;
  /** The predicted behaviour. */
  regime: "learns empty maps" | "ignores missing labels" | "transition" | "no empty maps";
}

function _eps(epsilon: EpsilonInput, k: number): { n: number; d: number } {
  const e = Array.isArray(epsilon) ? epsilon[k] : epsilon;
  if (typeof e === "number") return { n: e, d: e };
  const p = e as { numerator: number; denominator: number };
  return { n: p.numerator, d: p.denominator };
}

/**
 * Classify a gradient ratio.
 *
 * @param ratio Mean g₀ on empty maps / mean |g₁| on labelled maps.
 * @returns The regime.
 */
export function regimeOf(ratio: number): ClassRegime["regime"] {
  if (ratio >= 0.05) return "learns empty maps";
  if (ratio <= 0.001) return "ignores missing labels";
  return "transition";
}

/**
 * Predict the regime of a Dice configuration on a set of training maps.
 *
 * @param maps Per training case, training and predicted volumes per kept class.
 * @param options Φ, ε, batch size and model assumptions.
 * @returns One analysis per kept class.
 * @throws {RangeError} When there are no maps or the batch size is invalid.
 */
export function analyzeRegime(maps: readonly MapVolumes[], options: RegimeOptions): ClassRegime[] {
  if (maps.length === 0) throw new RangeError("Cannot analyze: no training maps");
  const B = options.batchSize;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`Invalid batch size: ${B}`);
  const phi = resolvePhi(options.phi);
  const K = maps[0].train.length;
  const overlap = options.overlap ?? 0.5;
  const R = options.batches ?? 2000;
  const rng = new Rng(options.seed ?? 1, 0xa11);
  const pooledBatch = phi === "BI" || phi === "BCI";
  const pooledClass = phi === "CI" || phi === "BCI";
  const subsetsPerBatch = (pooledBatch ? 1 : B) * (pooledClass ? 1 : K);

  const sumG0 = new Float64Array(K), nG0 = new Float64Array(K);
  const sumG1 = new Float64Array(K), nG1 = new Float64Array(K);
  const emptySubsets = new Float64Array(K), subsets = new Float64Array(K);
  const idx = new Int32Array(B);
  // ε per subset, as diceLoss: a class's ε (I, BI); for CI/BCI a per-class array is summed
  // over the kept classes and a single ε is the subset's ε.
  const subsetEps = pooledClass
    ? [
      Array.isArray(options.epsilon)
        ? Array.from({ length: K }, (_, k) => _eps(options.epsilon, k)).reduce(
          (a, b) => ({ n: a.n + b.n, d: a.d + b.d }),
          { n: 0, d: 0 },
        )
        : _eps(options.epsilon, 0),
    ]
    : Array.from({ length: K }, (_, k) => _eps(options.epsilon, k));
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < B; j++) idx[j] = rng.int(maps.length);
    // Subset sums: key = (image or all) × (class or all).
    const keyOf = (j: number, k: number) =>
      (pooledBatch ? 0 : j) * (pooledClass ? 1 : K) + (pooledClass ? 0 : k);
    const I = new Float64Array(subsetsPerBatch), Y = new Float64Array(subsetsPerBatch);
    const P = new Float64Array(subsetsPerBatch), EN = new Float64Array(subsetsPerBatch);
    const ED = new Float64Array(subsetsPerBatch);
    for (let s = 0; s < subsetsPerBatch; s++) {
      const e = subsetEps[pooledClass ? 0 : s % K];
      EN[s] = e.n;
      ED[s] = e.d;
    }
    for (let j = 0; j < B; j++) {
      const m = maps[idx[j]];
      for (let k = 0; k < K; k++) {
        const s = keyOf(j, k);
        const y = m.train[k], p = m.predicted[k];
        if (options.leaf && y === 0) continue;
        I[s] += y > 0 ? overlap * Math.min(y, p) : 0;
        Y[s] += y;
        P[s] += p;
      }
    }
    for (let j = 0; j < B; j++) {
      const m = maps[idx[j]];
      for (let k = 0; k < K; k++) {
        const s = keyOf(j, k);
        if (!pooledBatch || j === 0) {
          subsets[k] += pooledClass ? 1 / K : 1;
          if (Y[s] === 0) emptySubsets[k] += pooledClass ? 1 / K : 1;
        }
        const y = m.train[k], p = m.predicted[k];
        const N = 2 * I[s] + EN[s];
        const D = Y[s] + P[s] + ED[s];
        if (!(D > 0)) continue;
        if (y === 0 && p > 0) {
          if (options.leaf) {
            nG0[k]++; // excluded from the loss: zero gradient
          } else {
            sumG0[k] += N / (subsetsPerBatch * D * D);
            nG0[k]++;
          }
        } else if (y > 0) {
          sumG1[k] += Math.abs(-(2 / D - N / (D * D)) / subsetsPerBatch);
          nG1[k]++;
        }
      }
    }
  }
  return Array.from({ length: K }, (_, k) => {
    const empty = maps.filter((m) => m.train[k] === 0).length / maps.length;
    const gradEmpty = nG0[k] > 0 ? sumG0[k] / nG0[k] : 0;
    const gradLabelled = nG1[k] > 0 ? sumG1[k] / nG1[k] : 0;
    const ratio = gradLabelled > 0 ? gradEmpty / gradLabelled : 0;
    return {
      emptyMapFraction: empty,
      emptySubsetFraction: subsets[k] > 0 ? emptySubsets[k] / subsets[k] : 0,
      gradEmpty,
      gradLabelled,
      ratio,
      regime: nG0[k] === 0 ? "no empty maps" : regimeOf(ratio),
    };
  });
}
