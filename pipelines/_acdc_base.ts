/**
 * The paper's ACDC study (Tilborghs, Bertels et al. 2022, Sect. 3): 4-map softmax
 * segmentation (background, RV, MYO, LV), the myocardium removed at end-systole under partial
 * labelling; I, BI, I_ε against the leaf and marginal Dice losses, B = 2, 5 folds with the
 * paper's rule (patient p → fold (p − 1) mod 5). The background map is ignored in the loss,
 * except by the marginal Dice, which merges missing classes into it.
 *
 * On real data (`--data DIR`) it uses 192×192×48 volumes at 1.5625×1.5625×2.5 mm and the
 * paper's network (16…256 filters, batch norm, PReLU). On phantoms it swaps in the small
 * network and patch of `dataset.phantom`.
 */

import type { PipelineInput } from "../lib/pipeline/schema.ts";

const EPS = 1e-7;
const FG = [1, 2, 3];

/** Base object that the ACDC pipelines spread. */
export const acdcBase = {
  name: "acdc",
  description: "ACDC: full vs partial (MYO removed at ES) × I, BI, I_ε, leaf, marginal, B = 2",
  seed: 1,
  dataset: {
    kind: "acdc",
    preprocessing: { spacing: [2.5, 1.5625, 1.5625], size: [48, 192, 192] },
    phantom: {
      options: {},
      model: { filters: [4, 8, 16] },
      training: {
        patchSize: [8, 48, 48],
        epochs: 10,
        lr: 0.005,
        checkpointEvery: 100,
        validationFraction: 0.1,
        foregroundProbability: 1,
        schedule: { patience: 4, stopPatience: 8 },
      },
    },
  },
  labelings: {
    full: { kind: "full" },
    partial: { kind: "removeClass", group: "ES", classIndex: 2, into: 0 },
  },
  model: { preset: "acdc" },
  training: {
    batchSizes: [2],
    epochs: 1000,
    patchSize: [48, 192, 192],
    optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
    schedule: { factor: 0.2, patience: 40, stopPatience: 80 },
    validationFraction: 0.2,
    foregroundProbability: 1,
  },
  experiments: {
    I: { label: "I", loss: { kind: "softDice", phi: "I", epsilon: EPS, classes: FG } },
    BI: { label: "BI", loss: { kind: "softDice", phi: "BI", epsilon: EPS, classes: FG } },
    I_eps: {
      label: "I_ε",
      loss: { kind: "softDice", phi: "I", epsilon: "heuristic", classes: FG },
      // The paper samples ED and ES 3:1 for I_ε (and computes ε under that sampling).
      edEsRatio: [3, 1],
    },
    leaf: { label: "leaf", loss: { kind: "leafDice", phi: "I", epsilon: EPS, classes: FG } },
    marginal: { label: "marginal", loss: { kind: "marginalDice", phi: "I", epsilon: EPS } },
  },
  evaluation: {
    folds: 5,
    foldRule: "acdc",
    target: { className: "MYO", classIndex: 2, groups: ["ED", "ES"] },
    classes: ["RV", "MYO", "LV"],
    bootstrap: { resamples: 10000, alpha: 0.05, correction: "none" },
    examples: 1,
  },
  quick: {
    folds: [0],
    labelings: ["partial"],
    experiments: ["I", "BI", "I_eps"],
    resamples: 2000,
  },
} satisfies PipelineInput;
