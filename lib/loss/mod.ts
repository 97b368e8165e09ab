/**
 * The Dice-loss family: options (Φ, ε, classes, variant, voxel mask, squared denominator,
 * label sets), the float64 reference with exact gradients, and the heuristic ε.
 *
 * @module
 */

export {
  checkShape,
  DICE_VARIANTS,
  type DiceLossOptions,
  type DiceMask,
  type DiceVariant,
  type EpsilonInput,
  type EpsilonPair,
  type LabelSetIndex,
  type Phi,
  PHI_ALIASES,
  PHI_HINT,
  PHI_NAMES,
  PHI_SETS,
  type PhiAlias,
  type PhiInput,
  type ResolvedDiceOptions,
  resolveDiceOptions,
  resolvePhi,
  subsetCount,
  subsetOf,
} from "./dice_options.ts";
export { diceLoss, type DiceLossResult, labeledMaps, type NumericArray } from "./dice_loss.ts";
export { labelSetExclusionMask, type LabelSetExclusionMaskOptions } from "./label_set_mask.ts";
export {
  heuristicEpsilon,
  heuristicEpsilonFromSums,
  heuristicEpsilonFromTargets,
  type HeuristicEpsilonOptions,
  mapSums,
} from "./heuristic_epsilon.ts";
export {
  analyzeRegime,
  type ClassRegime,
  type MapVolumes,
  regimeOf,
  type RegimeOptions,
} from "./regime.ts";
export {
  DICE_LOSS_KINDS,
  type DiceLossConfig,
  type DiceLossKind,
  diceLossOptionsOf,
} from "./loss_kind.ts";
