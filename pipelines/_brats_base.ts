/**
 * The paper's BRATS 2018 study (Tilborghs, Bertels et al. 2022, Sect. 3): binary whole-tumour
 * segmentation, LGG labels replaced by empty maps under partial labelling, Φ = I and BI with
 * ε = 1e-7 and Φ = I with the heuristic ε, B ∈ {1, 2, 4, 8}, 5 folds.
 *
 * On real data (`--data DIR`) it uses the paper's preprocessing (2 mm isotropic), No New-Net
 * (30…480 filters) and 80×80×48 patches. On the phantom dataset it swaps in the small network
 * and patch size of `dataset.phantom` so the full protocol runs on a CPU adapter.
 */

import type { PipelineInput } from "../lib/pipeline/schema.ts";

const EPS = 1e-7;

/** Base object that the BRATS pipelines spread. */
export const bratsBase = {
  name: "brats",
  description:
    "BRATS 2018 whole tumour: full vs partial (LGG empty) × I, BI, I_ε × B ∈ {1, 2, 4, 8}",
  seed: 1,
  dataset: {
    kind: "brats",
    preprocessing: { spacing: [2, 2, 2], clipPercentiles: [0.5, 99.5], zscore: true },
    phantom: {
      options: {},
      model: { filters: [4, 8, 16] },
      training: {
        patchSize: [16, 32, 32],
        epochs: 10,
        lr: 0.005,
        // A fixed epoch budget gives B = 8 half of B = 4's steps: double its LR (B ≤ 4 keep it).
        lrScaling: { kind: "linear-up", reference: 4 },
        checkpointEvery: 100,
        validationFraction: 0.1,
        foregroundProbability: 0.8,
        schedule: { patience: 4, stopPatience: 8 },
      },
    },
  },
  labelings: {
    full: { kind: "full" },
    partial: { kind: "emptyGroup", group: "LGG" },
  },
  model: { preset: "brats" },
  training: {
    batchSizes: [1, 2, 4, 8],
    epochs: 1000,
    patchSize: [48, 80, 80],
    optimizer: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
    schedule: { factor: 0.2, patience: 30, stopPatience: 60 },
    validationFraction: 0.2,
    foregroundProbability: 0.9,
  },
  experiments: {
    I: { label: "I", loss: { kind: "softDice", phi: "I", epsilon: EPS } },
    BI: { label: "BI", loss: { kind: "softDice", phi: "BI", epsilon: EPS } },
    I_eps: { label: "I_ε", loss: { kind: "softDice", phi: "I", epsilon: "heuristic" } },
  },
  evaluation: {
    folds: 5,
    foldRule: "random",
    target: { className: "tumour", classIndex: 1, groups: ["HGG", "LGG"] },
    classes: ["tumour"],
    bootstrap: { resamples: 10000, alpha: 0.05, correction: "none" },
    examples: 1,
  },
  quick: {
    folds: [0],
    labelings: ["partial"],
    experiments: ["I", "BI", "I_eps"],
    batchSizes: [4],
    resamples: 2000,
  },
} satisfies PipelineInput;
