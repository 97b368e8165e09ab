/**
 * A tiny pipeline on a region-based nnU-Net dataset (`--data`, written by
 * `_regions_dataset.ts`): a 2-level sigmoid network on three overlapping region maps, soft and
 * leaf Dice, full labels and site B's maps empty, 2 folds, 1–2 epochs.
 */

import { definePipeline } from "../../lib/pipeline/define_pipeline.ts";

export default definePipeline({
  name: "regions-test",
  description: "Region-based nnU-Net dataset (tests)",
  seed: 3,
  dataset: { kind: "nnunet" },
  labelings: {
    full: { kind: "full" },
    partial: { kind: "emptyGroup", group: "siteB" },
  },
  model: { preset: "tiny", filters: [4, 8] },
  training: {
    batchSizes: [2],
    epochs: 2,
    patchSize: [8, 16, 16],
    validationFraction: 0.25,
    foregroundProbability: 0.8,
    optimizer: { lr: 0.01 },
    checkpointEvery: 100,
    workers: 1,
  },
  experiments: {
    I: { label: "I", loss: { kind: "softDice", phi: "I", epsilon: 1e-7 } },
    leaf: { label: "leaf", loss: { kind: "leafDice", phi: "I", epsilon: 1e-7 } },
  },
  evaluation: {
    folds: 2,
    target: { className: "core", classIndex: 2, groups: ["siteA", "siteB"] },
    classes: ["lesion", "core", "centre"],
    bootstrap: { resamples: 200 },
    examples: 1,
  },
  quick: { folds: [0], labelings: ["full"], experiments: ["I"], epochs: 1, resamples: 200 },
});
