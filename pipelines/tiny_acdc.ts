/**
 * A tiny ACDC-like preset for tests and smoke runs: 10 small phantom patients, a 2-level
 * network with 4/8 filters, 2 folds (paper's fold rule), I and leaf at B = 2, two epochs.
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import { acdcBase } from "./_acdc_base.ts";

export default definePipeline({
  ...acdcBase,
  name: "tiny-acdc",
  description: "Tiny ACDC-like smoke preset (tests)",
  dataset: {
    ...acdcBase.dataset,
    phantom: {
      options: { patientsPerGroup: 2, fieldOfView: [150, 160] },
      preprocessing: { spacing: [10, 5, 5], size: [8, 32, 32] },
      model: { filters: [4, 8] },
      training: {
        patchSize: [4, 16, 16],
        epochs: 2,
        checkpointEvery: 5,
        validationFraction: 0.2,
        lr: 0.005,
        schedule: { patience: 2, stopPatience: 4 },
      },
    },
  },
  training: { ...acdcBase.training, workers: 1 },
  experiments: { I: acdcBase.experiments.I, leaf: acdcBase.experiments.leaf },
  evaluation: {
    ...acdcBase.evaluation,
    folds: 2,
    foldRule: "random",
    bootstrap: { resamples: 500 },
  },
  quick: { folds: [0], labelings: ["partial"], experiments: ["I"] },
});
