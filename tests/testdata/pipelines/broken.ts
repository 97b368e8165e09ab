// A deliberately broken pipeline: every problem must be reported at once, by field path.
import { definePipeline } from "../../../lib/pipeline/define_pipeline.ts";
import type { PipelineInput } from "../../../lib/pipeline/schema.ts";
import tiny from "../../../pipelines/tiny_brats.ts";

const broken = {
  ...tiny,
  name: "Broken Name",
  experiments: {
    I: { loss: { kind: "softDice", phi: "I", epsilon: 1e-7 } },
    I_eps: { loss: { kind: "softDice", phi: "I", epsilon: -3 } },
    Q: { loss: { kind: "softDice", phi: "Q", epsilon: "heuristics" } },
    L: { loss: { kind: "leafDice", phi: "I", typo: true } },
  },
  training: { ...tiny.training, batchSizes: [0] },
} as unknown as PipelineInput;

export default definePipeline(broken);
