/**
 * Explicit types of pipelines: `PipelineInput` (what a pipeline file writes; fields with
 * defaults may be omitted) and `Pipeline` (validated, defaults filled). The zod schema in
 * `schema.ts` is annotated with them, so the compiler checks that they agree.
 *
 * @module
 */

/** Φ as written in pipelines. */
export type PhiName = "I" | "CI" | "BI" | "BCI" | "image" | "class" | "batch" | "all";

/** ε of one class: a number or a numerator/denominator pair. */
export type EpsilonTermConfig = number | { numerator: number; denominator: number };

/** ε of a loss. */
export type EpsilonConfig = EpsilonTermConfig | EpsilonTermConfig[] | "heuristic";

/** A validated loss from the Dice family. */
export type LossConfig =
  | { kind: "softDice"; phi: PhiName; epsilon: EpsilonConfig; classes?: number[] }
  | { kind: "leafDice"; phi: PhiName; epsilon: EpsilonConfig; classes?: number[] }
  | {
    kind: "marginalDice";
    phi: PhiName;
    epsilon: EpsilonConfig;
    classes?: number[];
    background: number;
  };

/** A loss as written (Φ, ε and the background have defaults). */
export type LossInput =
  | { kind: "softDice"; phi?: PhiName; epsilon?: EpsilonConfig; classes?: number[] }
  | { kind: "leafDice"; phi?: PhiName; epsilon?: EpsilonConfig; classes?: number[] }
  | {
    kind: "marginalDice";
    phi?: PhiName;
    epsilon?: EpsilonConfig;
    classes?: number[];
    background?: number;
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
}

/** An experiment as written. */
export interface ExperimentInput extends Omit<ExperimentConfig, "loss"> {
  /** The loss. */
  loss: LossInput;
}

/** A validated labeling protocol. */
export type LabelingConfig =
  | { kind: "full" }
  | { kind: "emptyGroup"; group: string }
  | { kind: "removeClass"; group: string; classIndex: number; into: number };

/** A labeling as written. */
export type LabelingInput =
  | { kind: "full" }
  | { kind: "emptyGroup"; group: string }
  | { kind: "removeClass"; group: string; classIndex: number; into?: number };

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
  preset: "brats" | "acdc" | "nnn-bench" | "tiny";
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

/** Model section as written (activation fields have defaults). */
export interface ModelInput extends Omit<ModelConfig, "activation"> {
  /** Activation. */
  activation?: { kind: "leakyRelu"; slope?: number } | { kind: "prelu"; init?: number };
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
  kind: "acdc" | "brats";
  /** Real dataset root. */
  root?: string;
  /** Preprocessing of real data. */
  preprocessing?: PreprocessingConfig;
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

/** The dataset section as written. */
export interface DatasetInput extends Omit<DatasetConfig, "phantom"> {
  /** The phantom used without real data. */
  phantom?: {
    /** Generator options. */
    options?: Record<string, unknown>;
    /** Preprocessing of the phantom. */
    preprocessing?: PreprocessingConfig;
    /** Model fields replaced on phantom runs. */
    model?: Partial<ModelInput>;
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

/** The training section as written. */
export interface TrainingInput {
  /** Batch sizes. */
  batchSizes?: number[];
  /** Maximum epochs. */
  epochs?: number;
  /** Patch size. */
  patchSize: [number, number, number];
  /** Adam. */
  optimizer?: { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number };
  /** LR scaling with B. */
  lrScaling?: LrScalingConfig;
  /** Plateau schedule. */
  schedule?: { factor?: number; patience?: number; stopPatience?: number };
  /** Validation fraction. */
  validationFraction?: number;
  /** Foreground patch probability. */
  foregroundProbability?: number;
  /** ACDC ED:ES sampling ratio. */
  edEsRatio?: [number, number];
  /** Augmentation. */
  augmentation?: Partial<AugmentationConfig>;
  /** Patch workers. */
  workers?: number | "auto";
  /** Batches queued ahead of the GPU. */
  prefetch?: number;
  /** Checkpoint interval in steps. */
  checkpointEvery?: number;
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
  foldRule: "random" | "acdc";
  /** Sliding window. */
  window: { overlap: number; blending: "gaussian" | "uniform" };
  /** Table 1's class and groups. */
  target: { className: string; classIndex: number; groups: [string, string] };
  /** Names of label values 1..K. */
  classes: string[];
  /** Bootstrap settings. */
  bootstrap: { resamples: number; alpha: number; correction: "none" | "holm" };
  /** Overlay examples per group. */
  examples: number;
}

/** The evaluation section as written. */
export interface EvaluationInput {
  /** Folds. */
  folds?: number;
  /** Fold rule. */
  foldRule?: "random" | "acdc";
  /** Sliding window. */
  window?: { overlap?: number; blending?: "gaussian" | "uniform" };
  /** Table 1's class and groups. */
  target: { className: string; classIndex: number; groups: [string, string] };
  /** Names of label values 1..K. */
  classes: string[];
  /** Bootstrap settings. */
  bootstrap?: { resamples?: number; alpha?: number; correction?: "none" | "holm" };
  /** Overlay examples per group. */
  examples?: number;
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

/** A pipeline as written in a pipeline file. */
export interface PipelineInput {
  /** Name (lowercase letters, digits, _ or -). */
  name: string;
  /** Description. */
  description?: string;
  /** Master seed. */
  seed?: number;
  /** Dataset. */
  dataset: DatasetInput;
  /** Labelings by name. */
  labelings: Record<string, LabelingInput>;
  /** Model. */
  model: ModelInput;
  /** Training. */
  training: TrainingInput;
  /** Experiments by name. */
  experiments: Record<string, ExperimentInput>;
  /** Evaluation. */
  evaluation: EvaluationInput;
  /** Quick preset. */
  quick?: QuickConfig;
}
