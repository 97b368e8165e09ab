/**
 * A pipeline on a dataset in the nnU-Net v2 raw layout (`--data Dataset…/`), the field's most
 * common layout: its channels and classes come from dataset.json, groups (here the site),
 * subjects and further fields from `cases.csv`, and the folds from `splits_final.json` when present (`foldRule: "splits"`,
 * else seeded random by subject). The missing-label question of the paper in its real-world
 * form: the dataset is merged from two sites and site B did not annotate the myocardium, so
 * `annotated.json` (case → annotated classes) turns MYO into a missing map in site B's cases
 * (`annotatedClasses`), which plain Dice (Φ = I), batch Dice (BI), leaf and marginal Dice treat
 * differently. Voxels with dataset.json's `"ignore"` label (the phantom's first and last slices)
 * leave the loss and the metrics, as in nnU-Net. Without `--data` it runs on the
 * nnU-Net-layout phantom (ACDC-like hearts, generated once), read by the same reader.
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";

const EPS = 1e-7;
const FG = [1, 2, 3];

export default definePipeline({
  name: "nnunet-example",
  description: "nnU-Net-layout dataset merged from two sites; site B lacks MYO labels",
  seed: 1,
  dataset: {
    kind: "nnunet",
    phantom: {
      // 20 patients (40 frames), the ACDC phantom's network and patch (see pipelines/acdc.ts).
      // Its annotators also left the basal and apical slices out: dataset.json's "ignore" label.
      options: { patients: 20, testPatients: 2, ignoreEdgeSlices: 1 },
      model: { filters: [4, 8, 16] },
      training: {
        patchSize: [8, 48, 48],
        epochs: 10,
        lr: 0.005,
        checkpointEvery: 100,
        validationFraction: 0.1,
        schedule: { patience: 4, stopPatience: 8 },
      },
    },
  },
  labelings: {
    full: { kind: "full" },
    merged: { kind: "annotatedClasses", file: "annotated.json" },
  },
  model: { preset: "acdc" },
  training: {
    batchSizes: [2],
    epochs: 200,
    patchSize: [16, 96, 96],
    validationFraction: 0.2,
    foregroundProbability: 1,
    workers: 1,
  },
  experiments: {
    I: { label: "I", loss: { kind: "softDice", phi: "I", epsilon: EPS, classes: FG } },
    BI: { label: "BI", loss: { kind: "softDice", phi: "BI", epsilon: EPS, classes: FG } },
    leaf: { label: "leaf", loss: { kind: "leafDice", phi: "I", epsilon: EPS, classes: FG } },
    marginal: { label: "marginal", loss: { kind: "marginalDice", phi: "I", epsilon: EPS } },
  },
  evaluation: {
    folds: 3,
    // siteA annotated every class; siteB's MYO maps are missing under "merged".
    target: { className: "MYO", classIndex: 2, groups: ["siteA", "siteB"] },
    classes: ["RV", "MYO", "LV"],
    bootstrap: { resamples: 1000 },
    examples: 1,
  },
  quick: {
    folds: [0],
    labelings: ["merged"],
    experiments: ["I", "leaf"],
    epochs: 1,
    resamples: 500,
  },
});
