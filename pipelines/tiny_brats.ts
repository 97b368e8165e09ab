/**
 * A tiny BRATS-like preset for tests and smoke runs (seconds, not minutes): 12 small phantom
 * cases, a 2-level network with 4/8 filters, 2 folds, I and BI at B = 2, 15 short epochs.
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import { bratsBase } from "./_brats_base.ts";

export default definePipeline({
  ...bratsBase,
  name: "tiny-brats",
  description: "Tiny BRATS-like smoke preset (tests)",
  dataset: {
    ...bratsBase.dataset,
    phantom: {
      options: { hgg: 8, lgg: 4, size: [24, 24, 16], spacing: 4 },
      preprocessing: { spacing: [4, 4, 4], size: [16, 24, 24] },
      model: { filters: [4, 8] },
      training: {
        patchSize: [8, 16, 16],
        epochs: 15,
        checkpointEvery: 10,
        validationFraction: 0.2,
        foregroundProbability: 0.8,
        lr: 0.01,
        schedule: { patience: 2, stopPatience: 4 },
      },
    },
  },
  training: { ...bratsBase.training, batchSizes: [2], workers: 1 },
  experiments: { I: bratsBase.experiments.I, BI: bratsBase.experiments.BI },
  evaluation: { ...bratsBase.evaluation, folds: 2, bootstrap: { resamples: 500 } },
  quick: { folds: [0], labelings: ["partial"], experiments: ["I", "BI"], epochs: 2 },
});
