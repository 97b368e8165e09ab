/**
 * The Dice-family losses as named in pipelines (`softDice`, `leafDice`, `marginalDice`,
 * `labelSetMarginalDice`) and the one mapping from such a configuration to
 * {@linkcode DiceLossOptions}: lib/loss owns Φ, the variants and their spellings, and the
 * pipeline schema is built from these names.
 *
 * @module
 */

import type { DiceLossOptions, DiceVariant, EpsilonInput, PhiInput } from "./dice_options.ts";

/** A Dice-family loss as a pipeline names it. */
export type DiceLossKind = "softDice" | "leafDice" | "marginalDice" | "labelSetMarginalDice";

/**
 * The variant each loss kind computes. `labelSetMarginalDice` needs label sets (`labelSets`,
 * `labelSetIndex`): in pipelines, an experiment with `removedLabels: "labelSet"`.
 */
export const DICE_LOSS_KINDS: Readonly<Record<DiceLossKind, DiceVariant>> = {
  softDice: "plain",
  leafDice: "leaf",
  marginalDice: "marginal",
  labelSetMarginalDice: "labelSetMarginal",
};

/** A Dice-family loss configuration (a pipeline experiment's `loss`). */
export interface DiceLossConfig {
  /** The loss kind. */
  kind: DiceLossKind;
  /** Reduction sets Φ. */
  phi: PhiInput;
  /** ε, or `"heuristic"` (resolved from the training labels, Sect. 2.3). */
  epsilon: EpsilonInput | "heuristic";
  /** Kept channels. */
  classes?: readonly number[];
  /** Background channel of the marginal loss. */
  background?: number;
  /** Denominator Σŷ² + Σy² + ε_dr (V-Net; MONAI `squared_pred`). @default false */
  squaredDenominator?: boolean;
}

/**
 * The options of a loss configuration, with ε kept apart (it may still be `"heuristic"`).
 *
 * @param loss The configuration.
 * @returns Options for the loss (without ε and `labeled`) and the configured ε.
 *   `squaredDenominator` is present only when configured, so existing configurations map to
 *   the same options object as before.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { diceLossOptionsOf } from "./loss_kind.ts";
 * const { options } = diceLossOptionsOf({ kind: "leafDice", phi: "BI", epsilon: 1e-7 });
 * assert.equal(options.variant, "leaf");
 * ```
 */
export function diceLossOptionsOf(loss: DiceLossConfig): {
  options: Omit<DiceLossOptions, "labeled" | "epsilon">;
  epsilon: EpsilonInput | "heuristic";
} {
  const variant = DICE_LOSS_KINDS[loss.kind];
  return {
    options: {
      phi: loss.phi,
      classes: loss.classes,
      variant,
      background: variant === "marginal" ? loss.background : undefined,
      ...(loss.squaredDenominator !== undefined
        ? { squaredDenominator: loss.squaredDenominator }
        : {}),
    },
    epsilon: loss.epsilon,
  };
}
