/**
 * Missing-label methods head to head (beyond the paper): ACDC with the myocardium removed at
 * end-systole, trained with the paper's I, BI and I_ε, the two missing-label losses it compares
 * with (leaf, Fidon et al.; marginal, Shi et al.), and three that know which voxels the removal
 * made unknown — the label set {background, MYO} with Fidon's leaf Dice and with his label-set
 * marginal Dice, and those voxels ignored (a voxel mask, as nnU-Net's ignore label). Everything
 * else is `pipelines/acdc.ts` (phantom network, 10 epochs, B = 2, 5 folds with the paper's rule).
 *
 * `deno task run pipelines/acdc_missing_methods.ts` (40 trainings, ≈ 1 h on a 2-core CPU
 * adapter); `deno task reproduce pipelines/acdc_missing_methods.ts --expect
 * results/acdc-missing-methods.json` guards the results (docs/results/README.md, "Missing-label
 * methods head to head").
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import { acdcBase } from "./_acdc_base.ts";

const EPS = 1e-7;
const FG = [1, 2, 3];

export default definePipeline({
  ...acdcBase,
  name: "acdc-missing-methods",
  description:
    "ACDC, MYO removed at ES: I, BI, I_ε, leaf, marginal, label-set leaf, label-set marginal, ignore mask, B = 2",
  labelings: { partial: acdcBase.labelings.partial },
  experiments: {
    ...acdcBase.experiments,
    // Fidon et al. 2021 compute their losses over every map, the background included: with the
    // background left out, the set {background, MYO} gives the kept maps the same targets as
    // MYO → background, and label-set leaf is exactly leaf (tests/e2e/removed_labels_test.ts).
    setLeaf: {
      label: "leaf (label set)",
      loss: { kind: "leafDice", phi: "I", epsilon: EPS },
      removedLabels: "labelSet",
    },
    setMarginal: {
      label: "marginal (label set)",
      loss: { kind: "labelSetMarginalDice", phi: "I", epsilon: EPS },
      removedLabels: "labelSet",
    },
    ignore: {
      label: "I (ignore mask)",
      loss: { kind: "softDice", phi: "I", epsilon: EPS, classes: FG },
      removedLabels: "ignore",
    },
  },
  evaluation: {
    ...acdcBase.evaluation,
    bootstrap: { ...acdcBase.evaluation.bootstrap, correction: "holm" },
  },
  quick: { folds: [0], experiments: ["I", "setMarginal", "ignore"], resamples: 2000 },
});
