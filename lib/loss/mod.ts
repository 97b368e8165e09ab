/**
 * The Dice-loss family: options (Φ, ε, classes, variant), the float64 reference with exact
 * gradients, and the heuristic ε.
 *
 * @module
 */

export * from "./dice_options.ts";
export * from "./dice_loss.ts";
export * from "./heuristic_epsilon.ts";
export * from "./regime.ts";
