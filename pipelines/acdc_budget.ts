/**
 * The ACDC study's partial-label configurations with three times the phantom training budget
 * (30 epochs instead of 10): does a longer budget let BI and I_ε learn empty MYO maps at ES?
 * Everything else is `pipelines/acdc.ts`. I is included (`--only I` runs it alone) to check
 * that it keeps ignoring the missing labels at that budget.
 *
 * `deno task run pipelines/acdc_budget.ts --only BI,I_eps` (10 trainings, ≈ 40 min on a 2-core CPU adapter);
 * `deno task breakdown RUN` splits the result by pathology.
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import { acdcBase } from "./_acdc_base.ts";

export default definePipeline({
  ...acdcBase,
  name: "acdc-budget",
  description: "ACDC, MYO removed at ES: I, BI, I_ε with a 3× phantom budget (30 epochs), B = 2",
  dataset: {
    ...acdcBase.dataset,
    phantom: {
      ...acdcBase.dataset.phantom,
      training: { ...acdcBase.dataset.phantom.training, epochs: 30 },
    },
  },
  labelings: { partial: acdcBase.labelings.partial },
  experiments: {
    I: acdcBase.experiments.I,
    BI: acdcBase.experiments.BI,
    I_eps: acdcBase.experiments.I_eps,
  },
  quick: { folds: [0], experiments: ["I_eps"], resamples: 2000 },
});
