/**
 * The pipeline schema: a declarative description of a whole study (dataset, labelings, model,
 * training, Dice-loss experiments, evaluation), validated with zod before any work starts.
 * Every field carries a one-line description, shown as a hint when it is wrong.
 *
 * @module
 */

import { z } from "zod";
import type { Pipeline, PipelineInput } from "./types.ts";

const PHI_VALUES = ["I", "CI", "BI", "BCI", "image", "class", "batch", "all"] as const;

const posInt = (what: string) =>
  z.number({ error: `expected a positive integer (${what})` }).int({
    error: `expected a positive integer (${what})`,
  }).positive({ error: `expected a positive integer (${what})` });

const nonNegNumber = (what: string) =>
  z.number({ error: `expected a number ≥ 0 (${what})` }).min(0, {
    error: `expected a number ≥ 0 (${what})`,
  }).refine(Number.isFinite, { error: `expected a finite number (${what})` });

const triple = (what: string) =>
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
  phi: z.enum(PHI_VALUES, {
    error: 'expected "I", "CI", "BI", "BCI" (or "image", "class", "batch", "all")',
  }).default("I").describe(
    "Reduction sets Φ: I image-wise, CI class-wise, BI batch-wise, BCI all-wise",
  ),
  epsilon: EpsilonSchema.default(1e-7),
  classes: z.array(z.number().int().min(0), { error: "expected an array of channel indices" })
    .min(1).optional().describe(
      "Channels kept in the loss (e.g. [1, 2, 3] drops the background); default all",
    ),
};

/** A loss from the Dice family: a discriminated union on `kind`. */
const LossSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("softDice").describe("Plain soft Dice (Eq. 3)"),
    ...lossCommon,
  }),
  z.strictObject({
    kind: z.literal("leafDice").describe(
      "Leaf Dice (Fidon et al. 2021): missing maps contribute a constant and no gradient",
    ),
    ...lossCommon,
  }),
  z.strictObject({
    kind: z.literal("marginalDice").describe(
      "Marginal Dice (Shi et al. 2021): missing classes are merged into the background",
    ),
    ...lossCommon,
    background: z.number().int().min(0).default(0).describe("Background channel"),
  }),
], { error: 'expected loss.kind "softDice", "leafDice" or "marginalDice"' }).describe(
  "Loss from the Dice family",
);

/** One experiment: a named loss configuration. */
const ExperimentSchema = z.strictObject({
  label: z.string().optional().describe('Display name in tables and figures (e.g. "I_ε")'),
  loss: LossSchema,
  batchSizes: z.array(posInt("batch size")).min(1).optional().describe(
    "Batch sizes for this experiment; default training.batchSizes",
  ),
  edEsRatio: z.tuple([z.number().min(0), z.number().min(0)]).optional().describe(
    "ACDC: ED:ES sampling ratio for this experiment (paper: [3, 1] for I_ε); default training.edEsRatio",
  ),
});

/** A labeling protocol applied to the training labels (evaluation always uses full labels). */
const LabelingSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("full").describe("Every training label as annotated"),
  }),
  z.strictObject({
    kind: z.literal("emptyGroup").describe(
      "Replace the labels of every case of a group with empty maps (BRATS: LGG)",
    ),
    group: z.string().min(1).describe('Group whose labels become empty, e.g. "LGG"'),
  }),
  z.strictObject({
    kind: z.literal("removeClass").describe(
      "Relabel one class as another for a group (ACDC: MYO → background at ES)",
    ),
    group: z.string().min(1).describe('Group affected, e.g. "ES"'),
    classIndex: z.number().int().min(1).describe("Label value removed, e.g. 2 (MYO)"),
    into: z.number().int().min(0).default(0).describe("Label value it becomes (0 = background)"),
  }),
], { error: 'expected labeling kind "full", "emptyGroup" or "removeClass"' });

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
const DatasetSchema = z.strictObject({
  kind: z.enum(["acdc", "brats"], { error: 'expected dataset.kind "acdc" or "brats"' })
    .describe("Dataset layout and task"),
  root: z.string().optional().describe(
    "Real dataset root; the --data flag overrides it; absent → the phantom dataset",
  ),
  preprocessing: PreprocessingSchema.optional().describe(
    "Preprocessing of real data (default: the paper's, e.g. ACDC 192×192×48 at 1.5625×1.5625×2.5 mm)",
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
const ModelSchema = z.strictObject({
  preset: z.enum(["brats", "acdc", "nnn-bench", "tiny"], {
    error: 'expected model.preset "brats", "acdc", "nnn-bench" or "tiny"',
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
const AugmentationSchema = z.strictObject({
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

/** Training: batch sizes, budget, optimiser, schedule, patches, workers. */
const TrainingSchema = z.strictObject({
  batchSizes: z.array(posInt("batch size")).min(1).default([2]).describe("Batch sizes B"),
  epochs: posInt("epochs").default(100).describe(
    "Maximum epochs; an epoch is one sample per training case",
  ),
  patchSize: triple("voxels").describe("Training patch [d, h, w]"),
  optimizer: z.strictObject({
    lr: z.number().positive().default(1e-3).describe("Adam learning rate"),
    betas: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.9, 0.999])
      .describe("Adam β1, β2"),
    eps: z.number().positive().default(1e-8).describe("Adam ε"),
    weightDecay: nonNegNumber("L2").default(0).describe("L2 weight decay"),
  }).default({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }),
  lrScaling: z.strictObject({
    kind: z.enum(["none", "sqrt", "linear", "linear-up"]).describe(
      "LR scaling with B: lr·(B/reference)^{0, ½, 1}; linear-up scales only B above the reference",
    ),
    reference: posInt("batch size").describe("Batch size the base learning rate is for"),
  }).default({ kind: "none", reference: 1 }).describe(
    "Learning-rate scaling with B (fixed-epoch budgets give large B fewer steps)",
  ),
  schedule: z.strictObject({
    factor: z.number().positive().max(1).default(0.2).describe("LR factor on plateau"),
    patience: posInt("epochs").default(30).describe("Epochs without improvement before LR drop"),
    stopPatience: posInt("epochs").default(60).describe(
      "Epochs without improvement before early stop",
    ),
  }).default({ factor: 0.2, patience: 30, stopPatience: 60 }),
  validationFraction: z.number().min(0).max(0.5).default(0.1).describe(
    "Fraction of training subjects held out for the validation loss",
  ),
  foregroundProbability: z.number().min(0).max(1).default(0.5).describe(
    "Probability that a patch is centred on foreground",
  ),
  edEsRatio: z.tuple([z.number().min(0), z.number().min(0)]).optional().describe(
    "ACDC: sample ED and ES frames in this ratio (paper: [3, 1])",
  ),
  augmentation: AugmentationSchema.default({
    enabled: true,
    rotationDegrees: 10,
    scale: [0.9, 1.1],
    flip: true,
    intensityShift: 0.1,
    intensityScale: [0.9, 1.1],
    noiseStd: 0.05,
  }),
  workers: z.union([posInt("workers"), z.literal("auto")]).default("auto").describe(
    "Patch worker count",
  ),
  prefetch: posInt("batches").default(4).describe("Batches queued ahead of the GPU"),
  checkpointEvery: posInt("steps").default(200).describe("Checkpoint interval in steps"),
  pipelining: z.enum(["auto", "on", "off"]).optional().describe(
    'Submit step s + 1 before reading step s back: "auto" (absent: time both at the start, keep the faster), "on", "off"',
  ),
  evaluateWeights: z.enum(["final", "best"]).optional().describe(
    'Weights evaluated on the test cases: "final" (absent: the last step\'s) or "best" (the epoch of the lowest validation loss)',
  ),
});

/** Training fields a phantom run replaces (all optional, no defaults). */
const PhantomTrainingSchema = z.strictObject({
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

/** Evaluation: folds, sliding window, target class and groups, bootstrap. */
const EvaluationSchema = z.strictObject({
  folds: posInt("folds").default(5).describe("Cross-validation folds (by subject)"),
  foldRule: z.enum(["random", "acdc"]).default("random").describe(
    'Fold assignment: seeded random by subject, or "acdc" (patient p → fold (p−1) mod 5)',
  ),
  window: z.strictObject({
    overlap: z.number().min(0).max(0.9).default(0.5).describe("Sliding-window overlap"),
    blending: z.enum(["gaussian", "uniform"]).default("gaussian").describe("Window blending"),
  }).default({ overlap: 0.5, blending: "gaussian" }),
  target: z.strictObject({
    className: z.string().describe('Class analysed in Table 1 (e.g. "MYO", "tumour")'),
    classIndex: z.number().int().min(1).describe("Its label value"),
    groups: z.tuple([z.string(), z.string()]).describe(
      "The always-labelled group and the group missing under partial labels",
    ),
  }),
  classes: z.array(z.string()).min(1).describe("Names of the label values 1..K for metrics"),
  bootstrap: z.strictObject({
    resamples: posInt("resamples").default(10000).describe("Bootstrap resamples"),
    alpha: z.number().gt(0).lt(1).default(0.05).describe("Significance level"),
    correction: z.enum(["none", "holm"]).default("none").describe("Multiple-comparison correction"),
  }).default({ resamples: 10000, alpha: 0.05, correction: "none" }),
  examples: z.number().int().min(0).default(2).describe("Example overlays per group"),
});

/** Overrides applied by `--quick`. */
const QuickSchema = z.strictObject({
  folds: z.array(z.number().int().min(0)).optional().describe("Folds run (indices)"),
  labelings: z.array(z.string()).optional().describe("Labelings run"),
  experiments: z.array(z.string()).optional().describe("Experiments run"),
  batchSizes: z.array(posInt("batch size")).optional().describe("Batch sizes run"),
  epochs: posInt("epochs").optional().describe("Epoch budget"),
  phantom: z.record(z.string(), z.unknown()).optional().describe(
    "Phantom generator options merged over dataset.phantom.options",
  ),
  resamples: posInt("resamples").optional().describe("Bootstrap resamples"),
});

/** A whole pipeline. */
const _PipelineSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, {
    error: "expected lowercase letters, digits, _ or - (it names run folders)",
  }).describe("Pipeline name"),
  description: z.string().default("").describe("What the pipeline studies"),
  seed: z.number().int().min(0).default(1).describe("Master seed"),
  dataset: DatasetSchema,
  labelings: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), LabelingSchema).refine(
    (r) => Object.keys(r).length > 0,
    { error: "expected at least one labeling" },
  ).describe("Labeling protocols by name (e.g. full, partial)"),
  model: ModelSchema,
  training: TrainingSchema,
  experiments: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), ExperimentSchema).refine(
    (r) => Object.keys(r).length > 0,
    { error: "expected at least one experiment" },
  ).describe("Loss configurations by name (e.g. I, BI, I_eps)"),
  evaluation: EvaluationSchema,
  quick: QuickSchema.default({}).describe("Reduced preset for --quick"),
});

/**
 * The pipeline schema. Its output and input types are the explicit {@linkcode Pipeline} and
 * {@linkcode PipelineInput} of `types.ts` (the annotation makes the compiler check that they
 * agree with the schema).
 */
export const PipelineSchema: z.ZodType<Pipeline, PipelineInput> = _PipelineSchema;

export type {
  EvaluationConfig,
  ExperimentConfig,
  LabelingConfig,
  LossConfig,
  ModelConfig,
  Pipeline,
  PipelineInput,
  TrainingConfig,
} from "./types.ts";
