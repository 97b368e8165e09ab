/**
 * The heuristic smoothing term of Sect. 2.3 (Tilborghs, Bertels et al. 2022, Eq. 5):
 * ε = v̂ ≈ E Σ_{φ} y, the expected target volume of a subset, estimated per class over the
 * training maps (empty maps count as 0). With this ε, Φ = I behaves like Φ = BI with a large
 * batch: empty maps receive a non-negligible gradient and the network learns to predict them.
 *
 * @module
 */

import { checkShape, type PhiInput, resolvePhi } from "./dice_options.ts";

/** Options of {@linkcode heuristicEpsilon}. */
export interface HeuristicEpsilonOptions {
  /**
   * Kept channel indices (one ε per kept class is returned).
   * @default all channels
   */
  classes?: readonly number[];
  /**
   * Reduction sets the ε is meant for. Batch-pooled sets (BI, BCI) sum `batchSize` maps per
   * subset, so their ε is `batchSize` times the per-map mean.
   * @default "I"
   */
  phi?: PhiInput;
  /**
   * Batch size used with Φ = BI or BCI.
   * @default 1
   */
  batchSize?: number;
}

/**
 * Per-map target sums Σ_i y[n, c, i] of a `[N, C, ...spatial]` tensor.
 *
 * @param targets Training targets.
 * @param shape `[N, C, ...spatial]`.
 * @returns `N·C` sums, map-major.
 * @throws {TypeError} When the length does not match the shape.
 */
export function mapSums(targets: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const { batch, channels, voxels } = checkShape(shape, "shape");
  if (targets.length !== batch * channels * voxels) {
    throw new TypeError(
      `Invalid targets: length ${targets.length} does not match shape ${JSON.stringify(shape)}`,
    );
  }
  const sums = new Float64Array(batch * channels);
  for (let m = 0; m < sums.length; m++) {
    let s = 0;
    const base = m * voxels;
    for (let i = 0; i < voxels; i++) s += targets[base + i];
    sums[m] = s;
  }
  return sums;
}

/**
 * Heuristic ε from per-map target sums (see {@linkcode heuristicEpsilon}).
 *
 * @param sums `N·C` per-map sums, map-major (from {@linkcode mapSums} or accumulated per case).
 * @param channels C.
 * @param options Kept classes, Φ and batch size.
 * @returns One ε per kept class.
 * @throws {RangeError} On an empty set of maps or invalid options.
 */
export function heuristicEpsilonFromSums(
  sums: ArrayLike<number>,
  channels: number,
  options: HeuristicEpsilonOptions = {},
): number[] {
  const n = sums.length / channels;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `Cannot estimate the heuristic epsilon: ${sums.length} sums for ${channels} channels`,
    );
  }
  const phi = resolvePhi(options.phi ?? "I");
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Invalid options.batchSize: expected a positive integer, got ${batchSize}`,
    );
  }
  const classes = options.classes ?? Array.from({ length: channels }, (_, i) => i);
  const factor = phi === "BI" || phi === "BCI" ? batchSize : 1;
  return classes.map((c) => {
    if (!Number.isInteger(c) || c < 0 || c >= channels) {
      throw new RangeError(`Invalid options.classes: ${c} is not a channel index`);
    }
    let s = 0;
    for (let m = 0; m < n; m++) s += sums[m * channels + c];
    return (factor * s) / n;
  });
}

/**
 * The heuristic ε of Sect. 2.3: per kept class, the mean over the training maps of Σy
 * (empty maps count as 0), times the batch size for batch-pooled Φ. Used for the paper's
 * configuration I_ε; for Φ = CI or BCI, {@linkcode diceLoss} sums a per-class ε over the
 * classes a subset spans, which again gives E Σ_φ y.
 *
 * @param targets Training targets `[N, C, ...spatial]` (N maps per class).
 * @param shape `[N, C, ...spatial]`.
 * @param options Kept classes, Φ, batch size.
 * @returns One ε per kept class.
 * @throws {TypeError} When the length does not match the shape.
 * @throws {RangeError} On invalid options.
 * @example
 * ```ts
 * import { heuristicEpsilon } from "./heuristic_epsilon.ts";
 * // Two maps of one class with volumes 3 and 0: ε = (3 + 0)/2 = 1.5.
 * const eps = heuristicEpsilon(new Float64Array([1, 1, 1, 0, 0, 0, 0, 0]), [2, 1, 4]);
 * if (eps[0] !== 1.5) throw new Error("unexpected");
 * ```
 */
export function heuristicEpsilon(
  targets: ArrayLike<number>,
  shape: readonly number[],
  options: HeuristicEpsilonOptions = {},
): number[] {
  return heuristicEpsilonFromSums(mapSums(targets, shape), shape[1], options);
}

/**
 * Heuristic ε from a list of per-sample targets `[K, ...spatial]` (e.g. one training patch per
 * case): the per-map sums of each, then {@linkcode heuristicEpsilonFromSums}. This is the one
 * estimate that training and the regime analysis both use.
 *
 * @param targets One `[K, ...]` target per sample (any spatial size, all maps of equal length).
 * @param channels K.
 * @param options Kept classes, Φ and batch size.
 * @returns One ε per kept class.
 * @throws {RangeError} On an empty list or invalid options.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heuristicEpsilonFromTargets } from "./heuristic_epsilon.ts";
 * const eps = heuristicEpsilonFromTargets([new Float32Array([1, 1, 0, 0]), new Float32Array(4)], 1);
 * assert.deepEqual(eps, [1]);
 * ```
 */
export function heuristicEpsilonFromTargets(
  targets: readonly ArrayLike<number>[],
  channels: number,
  options: HeuristicEpsilonOptions = {},
): number[] {
  const sums: number[] = [];
  for (const t of targets) {
    for (const s of mapSums(t, [1, channels, t.length / channels])) sums.push(s);
  }
  return heuristicEpsilonFromSums(sums, channels, options);
}
