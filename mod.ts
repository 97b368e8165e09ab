/**
 * dicelab: train 3D U-Nets on WebGPU for medical image segmentation with the Dice loss's two
 * hidden choices made explicit — the reduction sets Φ and the smoothing term ε
 * (Tilborghs, Bertels et al., "The Dice loss in the context of missing or empty labels",
 * MICCAI 2022).
 *
 * @example
 * ```ts
 * import { diceLoss } from "./mod.ts";
 * const pred = new Float32Array([0.9, 0.1, 0.8, 0.2]);
 * const target = new Float32Array([1, 0, 1, 0]);
 * const { loss, grad } = diceLoss(pred, target, [1, 1, 4], { phi: "BI", epsilon: 1e-7 });
 * console.log(loss.toFixed(4), grad.length);
 * ```
 *
 * @module
 */

export {
  checkShape,
  type DiceLossOptions,
  type DiceVariant,
  type EpsilonInput,
  type EpsilonPair,
  type Phi,
  type PhiInput,
  type ResolvedDiceOptions,
  resolveDiceOptions,
  resolvePhi,
  subsetCount,
  subsetOf,
} from "./lib/loss/dice_options.ts";
export {
  diceLoss,
  type DiceLossResult,
  labeledMaps,
  type NumericArray,
} from "./lib/loss/dice_loss.ts";
export {
  heuristicEpsilon,
  heuristicEpsilonFromSums,
  type HeuristicEpsilonOptions,
  mapSums,
} from "./lib/loss/heuristic_epsilon.ts";
export {
  type AdapterReport,
  type GpuContext,
  GpuUnavailableError,
  requestGpu,
  type RequestGpuOptions,
} from "./lib/gpu/device.ts";
