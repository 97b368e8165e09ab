/**
 * Explicit types of validated pipelines: `Pipeline` and its sections (defaults filled; what a
 * pipeline file writes is `PipelineInput`, in `pipeline_input_types.ts`). They are spelled out
 * (JSR's fast type check rejects types inferred from a zod schema), and `schema.ts` pins them to
 * the schema: a compile-time check requires `z.output` and `z.input` of the schema to equal
 * `Pipeline` and `PipelineInput` exactly, so a field added to one and not the other fails
 * `deno check`. The unions they share with the library (Φ, dataset kinds, fold rules, presets)
 * are imported from their owners.
 *
 * @module
 */

import type { DatasetKind, DatasetSpecData, FoldRuleName } from "../data/types.ts";
import type { PhiInput } from "../loss/dice_options.ts";
import type { UNetPreset } from "../nn/unet_config.ts";

/** Φ as written in pipelines (lib/loss's spellings). */
export type PhiName = PhiInput;

/** ε of one class: a number or a numerator/denominator pair. */
export type EpsilonTermConfig = number | { numerator: number; denominator: number };

/** ε of a loss. */
export type EpsilonConfig = EpsilonTermConfig | EpsilonTermConfig[] | "heuristic";

/** A validated loss from the Dice family. */
export type LossConfig =
  | {
    kind: "softDice";
    phi: PhiName;
    epsilon: EpsilonConfig;
    classes?: number[];
    squaredDenominator?: boolean;
  }
  | {
    kind: "leafDice";
    phi: PhiName;
    epsilon: EpsilonConfig;
    classes?: number[];
    squaredDenominator?: boolean;
  }
  | {
    kind: "marginalDice";
    phi: PhiName;
    epsilon: EpsilonConfig;
    classes?: number[];
    background: number;
    squaredDenominator?: boolean;
  }
  | {
    kind: "labelSetMarginalDice";
    phi: PhiName;
    epsilon: EpsilonConfig;
    classes?: number[];
    squaredDenominator?: boolean;
  };

/** A validated experiment. */
export interface ExperimentConfig {
  /** Display name. */
  label?: string;
  /** The loss. */
  loss: LossConfig;
  /** Batch sizes for this experiment. */
  batchSizes?: number[];
  /** ACDC ED:ES sampling ratio for this experiment. */
  edEsRatio?: [number, number];
  /** How the labelings' removed labels reach the loss (lib/data's `RemovedLabels`). */
  removedLabels?: "relabel" | "labelSet" | "ignore";
}

/** A validated labeling protocol. */
export type LabelingConfig =
  | { kind: "full" }
  | { kind: "emptyGroup"; group: string }
  | { kind: "removeClass"; group: string; classIndex: number; into: number }
  | { kind: "annotatedClasses"; file?: string; cases?: Record<string, string[]> };

/** Preprocessing of cases. */
export interface PreprocessingConfig {
  /** Target spacing [d, h, w] in mm. */
  spacing?: [number, number, number];
  /** Target size [d, h, w]. */
  size?: [number, number, number];
  /** Percentiles clipped before z-scoring (null: none). */
  clipPercentiles?: [number, number] | null;
  /** Z-score each channel. */
  zscore?: boolean;
  /** Voxels defining the intensity statistics. */
  intensityMask?: "nonzero" | "all";
  /** Label resampling. */
  labelInterpolation?: "linear" | "nearest";
}

/** Activation of the network. */
export type ActivationConfig = { kind: "leakyRelu"; slope: number } | {
  kind: "prelu";
  init: number;
};

/** Model preset and overrides. */
export interface ModelConfig {
  /** Preset. */
  preset: UNetPreset;
  /** Feature maps per level. */
  filters?: number[];
  /** Input channels. */
  inChannels?: number;
  /** Output maps. */
  outChannels?: number;
  /** Normalisation. */
  norm?: "instance" | "batch";
  /** Activation. */
  activation?: ActivationConfig;
  /** Decoder upsampling. */
  upsampling?: "nearest" | "transposed";
  /** Block order. */
  order?: "pre" | "post";
  /** Output activation. */
  head?: "sigmoid" | "softmax";
  /** Conv kernels per level. */
  kernels?: [number, number, number][][];
  /** Pool windows. */
  pools?: [number, number, number][];
}

/** Learning-rate scaling with the batch size. */
export interface LrScalingConfig {
  /** Kind of scaling. */
  kind: "none" | "sqrt" | "linear" | "linear-up";
  /** Batch size the base learning rate is for. */
  reference: number;
}

/** Training fields a phantom run replaces. */
export interface PhantomTrainingConfig {
  /** Batch sizes. */
  batchSizes?: number[];
  /** Maximum epochs. */
  epochs?: number;
  /** Patch size. */
  patchSize?: [number, number, number];
  /** Checkpoint interval. */
  checkpointEvery?: number;
  /**
   * Weights evaluated on the test cases: `"final"` (also when absent) or `"best"` (the epoch of
   * the lowest validation loss; without validation cases, the final weights).
   */
  evaluateWeights?: "final" | "best";
  /** Validation fraction. */
  validationFraction?: number;
  /** Foreground patch probability. */
  foregroundProbability?: number;
  /** Learning rate. */
  lr?: number;
  /** LR scaling with B. */
  lrScaling?: LrScalingConfig;
  /** Plateau schedule fields. */
  schedule?: { factor?: number; patience?: number; stopPatience?: number };
}

/** The dataset section. */
export interface DatasetConfig {
  /** Kind. */
  kind: DatasetKind;
  /** Real dataset root. */
  root?: string;
  /** Preprocessing of real data. */
  preprocessing?: PreprocessingConfig;
  /** The dataset's own description (nnU-Net, Decathlon), filled in by the run. */
  spec?: DatasetSpecData;
  /** The phantom used without real data. */
  phantom: {
    /** Generator options. */
    options: Record<string, unknown>;
    /** Preprocessing of the phantom. */
    preprocessing?: PreprocessingConfig;
    /** Model fields replaced on phantom runs. */
    model?: Partial<ModelConfig>;
    /** Training fields replaced on phantom runs. */
    training?: PhantomTrainingConfig;
  };
}

/** Augmentation settings. */
export interface AugmentationConfig {
  /** Master switch. */
  enabled: boolean;
  /** Max in-plane rotation (degrees). */
  rotationDegrees: number;
  /** Scaling range. */
  scale: [number, number];
  /** Random flips along W. */
  flip: boolean;
  /** Max intensity shift. */
  intensityShift: number;
  /** Intensity scale range. */
  intensityScale: [number, number];
  /** Gaussian noise σ. */
  noiseStd: number;
}

/** The training section. */
export interface TrainingConfig {
  /** Batch sizes. */
  batchSizes: number[];
  /** Maximum epochs. */
  epochs: number;
  /** Patch size. */
  patchSize: [number, number, number];
  /** Adam. */
  optimizer: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  /** LR scaling with B. */
  lrScaling: LrScalingConfig;
  /** Plateau schedule. */
  schedule: { factor: number; patience: number; stopPatience: number };
  /** Validation fraction. */
  validationFraction: number;
  /** Foreground patch probability. */
  foregroundProbability: number;
  /** ACDC ED:ES sampling ratio. */
  edEsRatio?: [number, number];
  /** Augmentation. */
  augmentation: AugmentationConfig;
  /** Patch workers. */
  workers: number | "auto";
  /** Batches queued ahead of the GPU. */
  prefetch: number;
  /** Checkpoint interval in steps. */
  checkpointEvery: number;
  /**
   * Step pipelining: `"auto"` (also when absent: both ways timed at the start, the faster kept),
   * `"on"` or `"off"`. Results are identical.
   */
  pipelining?: "auto" | "on" | "off";
  /**
   * Weights evaluated on the test cases: `"final"` (also when absent) or `"best"` (the epoch of
   * the lowest validation loss; without validation cases, the final weights).
   */
  evaluateWeights?: "final" | "best";
}

/** The evaluation section. */
export interface EvaluationConfig {
  /** Folds. */
  folds: number;
  /** Fold rule. */
  foldRule: FoldRuleName;
  /** Sliding window. */
  window: { overlap: number; blending: "gaussian" | "uniform" };
  /** Table 1's class and groups. */
  target: { className: string; classIndex: number; groups: [string, string] };
  /** Names of label values 1..K. */
  classes: string[];
  /** Bootstrap settings. */
  bootstrap: { resamples: number; alpha: number; correction: "none" | "holm" };
  /**
   * DSC when prediction and truth are both empty: `1` (also when absent) or `"nan"`
   * (undefined, left out of means, ROC and comparisons, with counts shown).
   */
  emptyDice?: 1 | "nan";
  /** Overlay examples per group. */
  examples: number;
}

/** Overrides of `--quick`. */
export interface QuickConfig {
  /** Folds run. */
  folds?: number[];
  /** Labelings run. */
  labelings?: string[];
  /** Experiments run. */
  experiments?: string[];
  /** Batch sizes run. */
  batchSizes?: number[];
  /** Epoch budget. */
  epochs?: number;
  /** Phantom generator options. */
  phantom?: Record<string, unknown>;
  /** Bootstrap resamples. */
  resamples?: number;
}

/** A validated pipeline with every default filled in. */
export interface Pipeline {
  /** Name. */
  name: string;
  /** Description. */
  description: string;
  /** Master seed. */
  seed: number;
  /** Dataset. */
  dataset: DatasetConfig;
  /** Labelings by name. */
  labelings: Record<string, LabelingConfig>;
  /** Model. */
  model: ModelConfig;
  /** Training. */
  training: TrainingConfig;
  /** Experiments by name. */
  experiments: Record<string, ExperimentConfig>;
  /** Evaluation. */
  evaluation: EvaluationConfig;
  /** Quick preset. */
  quick: QuickConfig;
}
