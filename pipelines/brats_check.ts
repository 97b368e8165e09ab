/**
 * A reduced BRATS preset that still shows the paper's effect, used by the test suite to guard
 * it (`tests/e2e/claims_test.ts` against `results/brats-check.json`): 152 phantom cases
 * (112 HGG : 40 LGG), fold 0 of 4, LGG labels empty, Φ = I and Φ = BI at B = 4, ~600 steps
 * each with the phantom network ([4, 8, 16] filters, 16×32×32 patches). About three minutes on
 * a 2-core CPU adapter.
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import { bratsBase } from "./_brats_base.ts";

export default definePipeline({
  ...bratsBase,
  name: "brats-check",
  description: "Reduced BRATS check: partial labels, I vs BI at B = 4 (test suite guard)",
  dataset: {
    ...bratsBase.dataset,
    phantom: {
      ...bratsBase.dataset.phantom,
      options: { hgg: 112, lgg: 40 },
      training: {
        ...bratsBase.dataset.phantom.training,
        epochs: 24,
        checkpointEvery: 1000,
        schedule: { patience: 100, stopPatience: 200 },
      },
    },
  },
  labelings: { partial: bratsBase.labelings.partial },
  training: { ...bratsBase.training, batchSizes: [4] },
  experiments: { I: bratsBase.experiments.I, BI: bratsBase.experiments.BI },
  evaluation: { ...bratsBase.evaluation, folds: 4, bootstrap: { resamples: 1000 } },
  quick: { folds: [0] },
});
