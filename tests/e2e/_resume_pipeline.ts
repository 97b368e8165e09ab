/** The tiny BRATS preset with a longer, finely checkpointed run, for the kill/resume test. */

import { definePipeline } from "../../lib/pipeline/define_pipeline.ts";
import tiny from "../../pipelines/tiny_brats.ts";

export default definePipeline({
  ...tiny,
  name: "resume-test",
  dataset: {
    ...tiny.dataset,
    phantom: {
      ...tiny.dataset.phantom,
      training: { ...tiny.dataset.phantom!.training, epochs: 12, checkpointEvery: 4 },
    },
  },
  quick: { folds: [0], labelings: ["partial"], experiments: ["BI"] },
});
