/**
 * The pipeline schema: a declarative description of a whole study (dataset, labelings, model,
 * training, Dice-loss experiments, evaluation), validated with zod before any work starts.
 * Every field carries a one-line description, shown as a hint when it is wrong.
 *
 * @module
 */

import { z } from "zod";
import { FOLD_RULE_NAMES } from "../data/datasets.ts";
import {
  AugmentationSchema,
  DatasetSchema,
  ExperimentSchema,
  LabelingSchema,
  ModelSchema,
  nonNegNumber,
  posInt,
  triple,
} from "./_schema_sections.ts";
import type { PipelineInput } from "./pipeline_input_types.ts";
import type { Pipeline } from "./pipeline_types.ts";

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

/** Evaluation: folds, sliding window, target class and groups, bootstrap. */
const EvaluationSchema = z.strictObject({
  folds: posInt("folds").default(5).describe("Cross-validation folds (by subject)"),
  foldRule: z.enum(FOLD_RULE_NAMES).default("random").describe(
    "Fold assignment: seeded random by subject, or a fixed rule of the dataset (ACDC's: patient p → fold (p−1) mod 5)",
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
  emptyDice: z.union([z.literal(1), z.literal("nan")], {
    error: 'expected 1 or "nan"',
  }).optional().describe(
    'DSC when prediction and truth are both empty: 1 (absent: 1) or "nan" (undefined and left out of means, ROC and comparisons, as nnU-Net)',
  ),
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

/** The largest master seed (seeds are mixed as 32-bit words). */
export const MAX_SEED = 4294967295;

const SEED_HINT = `expected an integer in 0..${MAX_SEED}`;

/** A whole pipeline. */
const _PipelineSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, {
    error: "expected lowercase letters, digits, _ or - (it names run folders)",
  }).describe("Pipeline name"),
  description: z.string().default("").describe("What the pipeline studies"),
  seed: z.number({ error: SEED_HINT }).int({ error: SEED_HINT }).min(0, { error: SEED_HINT })
    .max(MAX_SEED, { error: SEED_HINT }).default(1).describe("Master seed"),
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

// The explicit types equal the schema's, both ways (not only assignable): a field added to the
// schema and not to types.ts, or the other way round, fails `deno check`.
type _Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
const _outputMatches: _Equal<z.output<typeof _PipelineSchema>, Pipeline> = true;
const _inputMatches: _Equal<z.input<typeof _PipelineSchema>, PipelineInput> = true;
void _outputMatches;
void _inputMatches;

export type {
  EvaluationConfig,
  ExperimentConfig,
  LabelingConfig,
  LossConfig,
  ModelConfig,
  Pipeline,
  TrainingConfig,
} from "./pipeline_types.ts";
export type { PipelineInput } from "./pipeline_input_types.ts";
