/** The tiny BRATS preset with full labels, Φ = I, trained ~300 steps (the trainer test). */

import { definePipeline } from "../../lib/pipeline/define_pipeline.ts";
import tiny from "../../pipelines/tiny_brats.ts";

export default definePipeline({
  ...tiny,
  name: "trainer-test",
  dataset: {
    ...tiny.dataset,
    phantom: {
      ...tiny.dataset.phantom,
      options: { hgg: 14, lgg: 6, size: [24, 24, 16], spacing: 4 },
      training: {
        ...tiny.dataset.phantom!.training,
        epochs: 75,
        checkpointEvery: 100,
        schedule: { patience: 15, stopPatience: 200 },
      },
    },
  },
  labelings: { full: { kind: "full" } },
  experiments: { I: tiny.experiments.I },
  quick: {},
});
