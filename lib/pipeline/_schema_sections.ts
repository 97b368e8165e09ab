/**
 * The sections of the pipeline schema (internal to lib/pipeline): losses and experiments,
 * labelings, preprocessing, the dataset, the model, augmentation and the phantom's training
 * overrides, with the number helpers every section uses. `schema.ts` assembles the pipeline.
 *
 * @module
 */

import { z } from "zod";
import { DATASET_KINDS } from "../data/datasets.ts";
import { REMOVED_LABELS } from "../data/labeling.ts";
import { PHI_HINT, PHI_NAMES } from "../loss/dice_options.ts";
import type { DiceLossKind } from "../loss/loss_kind.ts";
import { UNET_PRESETS, type UNetPreset } from "../nn/unet_config.ts";

const PRESET_NAMES = Object.keys(UNET_PRESETS) as [UNetPreset, ...UNetPreset[]];

/** `"a", "b" or "c"` for messages. */
function _quotedList(names: readonly string[]): string {
  const q = names.map((n) => `"${n}"`);
  return q.length > 1 ? `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}` : q.join("");
}

/** A loss kind's literal, checked against lib/loss's names. */
function _lossKind<K extends DiceLossKind>(kind: K): z.ZodLiteral<K> {
  return z.literal(kind);
}

export const posInt = (what: string) =>
  z.number({ error: `expected a positive integer (${what})` }).int({
    error: `expected a positive integer (${what})`,
  }).positive({ error: `expected a positive integer (${what})` });

export const nonNegNumber = (what: string) =>
  z.number({ error: `expected a number ≥ 0 (${what})` }).min(0, {
    error: `expected a number ≥ 0 (${what})`,
  }).refine(Number.isFinite, { error: `expected a finite number (${what})` });

export const triple = (what: string) =>
  z.tuple([posInt(what), posInt(what), posInt(what)], {
    error: `expected [d, h, w] positive integers (${what})`,
  });

const EPSILON_HINT = 'expected a number ≥ 0 or "heuristic"';

/** ε of one class: a number or a numerator/denominator pair. */
const EpsilonTerm = z.union([
  z.number({ error: EPSILON_HINT }).min(0, { error: EPSILON_HINT }),
  z.strictObject({
    numerator: nonNegNumber("ε added to 2Σyŷ").describe("ε added to 2Σyŷ"),
    denominator: nonNegNumber("ε added to Σy + Σŷ").describe("ε added to Σy + Σŷ"),
  }),
], { error: EPSILON_HINT });

/** ε of a loss: a term, one term per kept class, or the heuristic of Sect. 2.3. */
const EpsilonSchema = z.union([
  EpsilonTerm,
  z.array(EpsilonTerm, { error: EPSILON_HINT }).min(1, { error: EPSILON_HINT }),
  z.literal("heuristic", { error: EPSILON_HINT }),
], { error: EPSILON_HINT }).describe(
  'Smoothing term ε: a number, { numerator, denominator }, one per kept class, or "heuristic" (mean target volume per subset, Sect. 2.3)',
);

const lossCommon = {
  phi: z.enum(PHI_NAMES, { error: PHI_HINT }).default("I").describe(
    "Reduction sets Φ: I image-wise, CI class-wise, BI batch-wise, BCI all-wise",
  ),
  epsilon: EpsilonSchema.default(1e-7),
  classes: z.array(z.number().int().min(0), { error: "expected an array of channel indices" })
    .min(1).optional().describe(
      "Channels kept in the loss (e.g. [1, 2, 3] drops the background); default all",
    ),
  squaredDenominator: z.boolean().optional().describe(
    "Denominator Σŷ² + Σy² + ε (Milletari's V-Net Dice; MONAI squared_pred) instead of Σŷ + Σy + ε",
  ),
};

/** A loss from the Dice family: a discriminated union on `kind`. */
const LossSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: _lossKind("softDice").describe("Plain soft Dice (Eq. 3)"),
    ...lossCommon,
  }),
  z.strictObject({
    kind: _lossKind("leafDice").describe(
      "Leaf Dice (Fidon et al. 2021): missing maps contribute a constant and no gradient",
    ),
    ...lossCommon,
  }),
  z.strictObject({
    kind: _lossKind("marginalDice").describe(
      "Marginal Dice (Shi et al. 2021): missing classes are merged into the background",
    ),
    ...lossCommon,
    background: z.number().int().min(0).default(0).describe("Background channel"),
  }),
  z.strictObject({
    kind: _lossKind("labelSetMarginalDice").describe(
      'Label-set marginal Dice (Fidon et al. 2021): at a voxel labelled with a set, its members\' probabilities are merged (mean); needs removedLabels "labelSet"',
    ),
    ...lossCommon,
  }),
], {
  error: 'expected loss.kind "softDice", "leafDice", "marginalDice" or "labelSetMarginalDice"',
}).describe(
  "Loss from the Dice family",
);

/** One experiment: a named loss configuration. */
export const ExperimentSchema = z.strictObject({
  label: z.string().optional().describe('Display name in tables and figures (e.g. "I_ε")'),
  loss: LossSchema,
  batchSizes: z.array(posInt("batch size")).min(1).optional().describe(
    "Batch sizes for this experiment; default training.batchSizes",
  ),
  edEsRatio: z.tuple([z.number().min(0), z.number().min(0)]).optional().describe(
    "ACDC: ED:ES sampling ratio for this experiment (paper: [3, 1] for I_ε); default training.edEsRatio",
  ),
  removedLabels: z.enum(REMOVED_LABELS, {
    error: `expected removedLabels ${_quotedList(REMOVED_LABELS)}`,
  }).optional().describe(
    'How the labelings\' removed labels reach the loss: "relabel" (default, the paper: e.g. MYO becomes background at ES), "labelSet" (the voxels labelled background there become the set {background, MYO}: Fidon\'s superset labels) or "ignore" (those voxels leave the loss: a voxel mask, as nnU-Net\'s ignore label)',
  ),
}).superRefine((e, ctx) => {
  const setLoss = e.loss.kind === "labelSetMarginalDice";
  if (setLoss && e.removedLabels !== "labelSet") {
    ctx.addIssue({
      code: "custom",
      path: ["removedLabels"],
      message: '"labelSetMarginalDice" needs removedLabels "labelSet" (the label sets it merges)',
    });
  }
  if (e.removedLabels === "labelSet" && e.loss.kind === "marginalDice") {
    ctx.addIssue({
      code: "custom",
      path: ["loss", "kind"],
      message:
        '"marginalDice" (Shi) merges whole missing maps and takes no label sets: with removedLabels "labelSet" use "leafDice", "softDice" or "labelSetMarginalDice"',
    });
  }
});

/** A labeling protocol applied to the training labels (evaluation always uses full labels). */
export const LabelingSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("full").describe("Every training label as annotated"),
  }),
  z.strictObject({
    kind: z.literal("emptyGroup").describe(
      "Replace the labels of every case of a group with empty maps (BRATS: LGG)",
    ),
    group: z.string().min(1).describe("Group whose labels become empty (BRATS: LGG)"),
  }),
  z.strictObject({
    kind: z.literal("removeClass").describe(
      "Relabel one class as another for a group (ACDC: MYO → background at ES)",
    ),
    group: z.string().min(1).describe("Group affected (ACDC: ES)"),
    classIndex: z.number().int().min(1).describe("Label value removed, e.g. 2 (MYO)"),
    into: z.number().int().min(0).default(0).describe("Label value it becomes (0 = background)"),
  }),
  z.strictObject({
    kind: z.literal("annotatedClasses").describe(
      "A dataset merged from sources that annotated different classes: per case, the classes it annotates; the others become missing maps (their voxels background, so their maps are empty and the leaf and marginal losses drop them)",
    ),
    file: z.string().min(1).optional().describe(
      "JSON file (relative to the dataset root) mapping case → annotated class names; cases not in it are fully annotated",
    ),
    cases: z.record(z.string(), z.array(z.string().min(1))).optional().describe(
      "The same map inline (filled in from file when the run starts)",
    ),
  }),
], {
  error: 'expected labeling kind "full", "emptyGroup", "removeClass" or "annotatedClasses"',
});

/** A dataset's own description, filled in when a run reads it (nnU-Net / Decathlon). */
const DatasetSpecSchema = z.strictObject({
  kind: z.enum(DATASET_KINDS),
  title: z.string(),
  channels: z.array(z.string()).min(1),
  labelValues: z.array(z.number().int().min(0)).min(2),
  classes: z.array(z.string()).min(2),
  classOf: z.record(z.string(), z.number().int().min(0)),
  ignoreLabel: z.number().int().min(0).max(255).optional(),
  target: z.enum(["binary", "oneHot", "regions"]),
  regions: z.array(
    z.strictObject({ name: z.string(), values: z.array(z.number().int().min(1)).min(1) }),
  ).min(1).optional(),
  regionsClassOrder: z.array(z.number().int().min(1)).min(1).optional(),
  intensityMask: z.enum(["nonzero", "all"]),
  groups: z.array(z.string()).min(1),
  subgroup: z.strictObject({ key: z.string(), source: z.string() }).optional(),
  displayChannel: z.number().int().min(0),
  splits: z.record(z.string(), z.number().int().min(0)).optional(),
});

/** Preprocessing of cases before patches are sampled. */
const PreprocessingSchema = z.strictObject({
  spacing: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()])
    .optional().describe("Target voxel spacing [d, h, w] in mm; default keep"),
  size: triple("voxels").optional().describe(
    "Target size [d, h, w] after resampling (centre crop/pad); default keep",
  ),
  clipPercentiles: z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]).nullable()
    .optional().describe("Intensity percentiles clipped before z-scoring (null: no clipping)"),
  zscore: z.boolean().optional().describe("Z-score each channel (default true)"),
  intensityMask: z.enum(["nonzero", "all"]).optional().describe(
    "Voxels defining the intensity statistics (default: BRATS nonzero, ACDC all)",
  ),
  labelInterpolation: z.enum(["linear", "nearest"]).optional().describe(
    "Label resampling: per-class linear + argmax, or nearest (default linear)",
  ),
});

/** The dataset: kind, optional real root, preprocessing, phantom options. */
export const DatasetSchema = z.strictObject({
  kind: z.enum(DATASET_KINDS, { error: `expected dataset.kind ${_quotedList(DATASET_KINDS)}` })
    .describe("Dataset layout and task"),
  root: z.string().optional().describe(
    "Real dataset root; the --data flag overrides it; absent → the phantom dataset",
  ),
  preprocessing: PreprocessingSchema.optional().describe(
    "Preprocessing of real data (default: the paper's, e.g. ACDC 192×192×48 at 1.5625×1.5625×2.5 mm)",
  ),
  spec: DatasetSpecSchema.optional().describe(
    "Filled in by the run from the dataset's own dataset.json (nnU-Net, Decathlon) and recorded in pipeline.json; not written by hand",
  ),
  phantom: z.strictObject({
    options: z.record(z.string(), z.unknown()).default({}).describe(
      "Options of the phantom generator (e.g. { hgg: 210, lgg: 75, seed: 2018 })",
    ),
    preprocessing: PreprocessingSchema.optional().describe(
      "Preprocessing of the phantom data (default: the phantom preset)",
    ),
    model: z.lazy(() => ModelSchema.partial()).optional().describe(
      "Model fields replaced on phantom runs (phantoms are small: so is the network)",
    ),
    training: z.lazy(() => PhantomTrainingSchema).optional().describe(
      "Training fields replaced on phantom runs (patch size, epochs, …)",
    ),
  }).default({ options: {} }).describe("The phantom dataset used when no real data is given"),
});

const activation = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("leakyRelu"),
    slope: z.number().default(0.01).describe("Negative slope"),
  }),
  z.strictObject({
    kind: z.literal("prelu"),
    init: z.number().default(0.25).describe("Initial slope per channel"),
  }),
]).describe("Activation");

/** Model: a preset plus field overrides. */
export const ModelSchema = z.strictObject({
  preset: z.enum(PRESET_NAMES, {
    error: `expected model.preset ${_quotedList(PRESET_NAMES)}`,
  }).describe("Network preset (No New-Net style 3D U-Net)"),
  filters: z.array(posInt("filters")).min(1).optional().describe(
    "Feature maps per level, e.g. [30, 60, 120, 240, 480]",
  ),
  inChannels: posInt("input channels").optional().describe("Input channels"),
  outChannels: posInt("output channels").optional().describe("Output maps"),
  norm: z.enum(["instance", "batch"]).optional().describe("Normalisation"),
  activation: activation.optional(),
  upsampling: z.enum(["nearest", "transposed"]).optional().describe("Decoder upsampling"),
  order: z.enum(["pre", "post"]).optional().describe(
    "pre: norm → act → conv (No New-Net); post: conv → norm → act",
  ),
  head: z.enum(["sigmoid", "softmax"]).optional().describe("Output activation"),
  kernels: z.array(z.array(triple("kernel"))).optional().describe(
    "Conv kernels per level, e.g. [[3,3,3],[3,3,1]] per level",
  ),
  pools: z.array(triple("pool")).optional().describe("Pool window per level transition"),
});

/** Data augmentation (applied in the patch workers). */
export const AugmentationSchema = z.strictObject({
  enabled: z.boolean().default(true).describe("Master switch"),
  rotationDegrees: nonNegNumber("degrees").default(10).describe("Max in-plane rotation (±)"),
  scale: z.tuple([z.number().positive(), z.number().positive()]).default([0.9, 1.1]).describe(
    "Scaling range",
  ),
  flip: z.boolean().default(true).describe("Random flips along W"),
  intensityShift: nonNegNumber("σ units").default(0.1).describe("Max intensity shift (±, z units)"),
  intensityScale: z.tuple([z.number().positive(), z.number().positive()]).default([0.9, 1.1])
    .describe("Intensity scale range"),
  noiseStd: nonNegNumber("σ units").default(0.05).describe("Gaussian noise σ (z units)"),
});

/** Training fields a phantom run replaces (all optional, no defaults). */
export const PhantomTrainingSchema = z.strictObject({
  batchSizes: z.array(posInt("batch size")).min(1).optional().describe("Batch sizes B"),
  epochs: posInt("epochs").optional().describe("Maximum epochs"),
  patchSize: triple("voxels").optional().describe("Training patch [d, h, w]"),
  checkpointEvery: posInt("steps").optional().describe("Checkpoint interval in steps"),
  evaluateWeights: z.enum(["final", "best"]).optional().describe(
    'Weights evaluated: "final" or "best" (lowest validation loss)',
  ),
  validationFraction: z.number().min(0).max(0.5).optional().describe("Validation fraction"),
  foregroundProbability: z.number().min(0).max(1).optional().describe(
    "Foreground patch probability",
  ),
  lr: z.number().positive().optional().describe("Adam learning rate"),
  lrScaling: z.strictObject({
    kind: z.enum(["none", "sqrt", "linear", "linear-up"]),
    reference: posInt("batch size"),
  }).optional().describe("Learning-rate scaling with B"),
  schedule: z.strictObject({
    factor: z.number().positive().max(1).optional(),
    patience: posInt("epochs").optional(),
    stopPatience: posInt("epochs").optional(),
  }).optional().describe("Plateau schedule fields"),
});
