/**
 * The types of pipelines as written (`PipelineInput`): fields with defaults may be omitted.
 * `schema.ts` pins them to the schema's input type (see `pipeline_types.ts`).
 *
 * @module
 */

import type { FoldRuleName } from "../data/types.ts";
import type {
  AugmentationConfig,
  DatasetConfig,
  EpsilonConfig,
  ExperimentConfig,
  LrScalingConfig,
  ModelConfig,
  PhantomTrainingConfig,
  PhiName,
  PreprocessingConfig,
  QuickConfig,
} from "./pipeline_types.ts";

/** A loss as written (Φ, ε and the background have defaults). */
export type LossInput =
  | {
    kind: "softDice";
    phi?: PhiName;
    epsilon?: EpsilonConfig;
    classes?: number[];
    squaredDenominator?: boolean;
  }
  | {
    kind: "leafDice";
    phi?: PhiName;
    epsilon?: EpsilonConfig;
    classes?: number[];
    squaredDenominator?: boolean;
  }
  | {
    kind: "marginalDice";
    phi?: PhiName;
    epsilon?: EpsilonConfig;
    classes?: number[];
    background?: number;
    squaredDenominator?: boolean;
  }
  | {
    kind: "labelSetMarginalDice";
    phi?: PhiName;
    epsilon?: EpsilonConfig;
    classes?: number[];
    squaredDenominator?: boolean;
  };

/** An experiment as written. */
export interface ExperimentInput extends Omit<ExperimentConfig, "loss"> {
  /** The loss. */
  loss: LossInput;
}

/** A labeling as written. */
export type LabelingInput =
  | { kind: "full" }
  | { kind: "emptyGroup"; group: string }
  | { kind: "removeClass"; group: string; classIndex: number; into?: number }
  | { kind: "annotatedClasses"; file?: string; cases?: Record<string, string[]> };

/** Model section as written (activation fields have defaults). */
export interface ModelInput extends Omit<ModelConfig, "activation"> {
  /** Activation. */
  activation?: { kind: "leakyRelu"; slope?: number } | { kind: "prelu"; init?: number };
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

/** The evaluation section as written. */
export interface EvaluationInput {
  /** Folds. */
  folds?: number;
  /** Fold rule. */
  foldRule?: FoldRuleName;
  /** Sliding window. */
  window?: { overlap?: number; blending?: "gaussian" | "uniform" };
  /** Table 1's class and groups. */
  target: { className: string; classIndex: number; groups: [string, string] };
  /** Names of label values 1..K. */
  classes: string[];
  /** Bootstrap settings. */
  bootstrap?: { resamples?: number; alpha?: number; correction?: "none" | "holm" };
  /**
   * DSC when prediction and truth are both empty: `1` (also when absent) or `"nan"`
   * (undefined, left out of means, ROC and comparisons, with counts shown).
   */
  emptyDice?: 1 | "nan";
  /** Overlay examples per group. */
  examples?: number;
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
