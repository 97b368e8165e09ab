/**
 * The types of a trained model that travels: the network, its weights (one member per fold of
 * an ensemble), the preprocessing it was trained with, how to run it, what its channels and
 * outputs mean, its loss and where it comes from. Types only.
 *
 * @module
 */

import type { NamedTensor } from "../nn/checkpoint.ts";
import type { UNetConfig } from "../nn/unet_config.ts";

/**
 * The preprocessing rules of the training cases, every default resolved (so that a model does
 * not depend on this build's defaults): resampling, intensity clipping and z-scoring. The
 * statistics themselves are per case: each scan is z-scored with its own mean and standard
 * deviation over the `intensityMask` voxels, after clipping at its own percentiles.
 */
export interface ModelPreprocessing {
  /** Target voxel spacing `[sd, sh, sw]` in mm; absent: the scan's grid is kept. */
  spacing?: [number, number, number];
  /** Target size `[D, H, W]` after resampling (centre crop/pad); absent: kept. */
  size?: [number, number, number];
  /** Percentiles clipped per channel before z-scoring (`null`: none). */
  clipPercentiles: [number, number] | null;
  /** Whether each channel is z-scored. */
  zscore: boolean;
  /** Voxels that define the statistics: the union of non-zero voxels, or all. */
  intensityMask: "nonzero" | "all";
}

/** How the network is run over a volume (the run's evaluation settings). */
export interface ModelInference {
  /** Window `[D, H, W]` (the training patch size). */
  window: [number, number, number];
  /** Overlap fraction of neighbouring windows (`1 − step`). */
  overlap: number;
  /** Blending of overlapping windows. */
  blending: "gaussian" | "uniform";
  /** Windows per GPU pass (the run evaluated with the job's batch size). */
  batch: number;
  /** Sigmoid threshold of the label map. */
  threshold: number;
}

/** What the inputs and outputs are. */
export interface ModelDataset {
  /** The dataset kind the model was trained on (informative). */
  kind: string;
  /** Its display title. */
  title: string;
  /** Input channel names, in channel order (file `CASE_0000` is the first). */
  channels: string[];
  /** Names of the label values 0..K−1 of the label map (0 = background). */
  classes: string[];
  /** The loss target: one binary map, one map per class, or one (sigmoid) map per region. */
  target: "binary" | "oneHot" | "regions";
  /** Names of the network's output maps, in order (the probability file's 4th axis). */
  outputs: string[];
  /** With `target: "regions"`: each output map's region, in output order. */
  regions?: { name: string; values: number[] }[];
  /**
   * With `target: "regions"`: the label value each region writes into the label map (after
   * thresholding; later regions overwrite earlier ones — nnU-Net's `regions_class_order`).
   */
  regionsClassOrder?: number[];
}

/** One trained network of the model (one fold of a run). */
export interface ModelMember {
  /** The fold it was trained on (its test fold). */
  fold: number;
  /** Its job id in the run. */
  job: string;
  /** The job's seed (data, sampling and initialisation). */
  seed: number;
  /** Which weights: the final ones, or those of the best validation epoch. */
  weights: "final" | "best";
  /** The epoch of the best weights. */
  epoch?: number;
  /** ε the loss used (resolved: the heuristic ε is per fold). */
  epsilon: unknown;
  /** Parameters, then normalisation state as `state/<name>` (the checkpoint's names). */
  tensors: NamedTensor[];
}

/** Where a model comes from. */
export interface ModelProvenance {
  /** Pipeline name. */
  pipeline: string;
  /** The pipeline file the run was started from. */
  source: string;
  /** The run folder it was exported from. */
  run: string;
  /** Labeling of the configuration. */
  labeling: string;
  /** Experiment of the configuration. */
  experiment: string;
  /** Batch size B. */
  batchSize: number;
  /** The pipeline's master seed. */
  seed: number;
  /** Whether it was trained on the phantom. */
  phantom: boolean;
  /** Whether the quick preset was applied. */
  quick: boolean;
  /** The dicelab version that exported it. */
  dicelabVersion: string;
  /** ISO time of the export. */
  createdAt: string;
}

/** A trained model: the contents of a `.dicelab` file. */
export interface DicelabModel {
  /** The network configuration. */
  network: UNetConfig;
  /** Preprocessing rules. */
  preprocessing: ModelPreprocessing;
  /** Sliding-window settings. */
  inference: ModelInference;
  /** Channels, classes and outputs. */
  dataset: ModelDataset;
  /** The loss configuration as the pipeline wrote it (ε per member in `members`). */
  loss: Record<string, unknown>;
  /** Provenance. */
  provenance: ModelProvenance;
  /** One network per fold (an ensemble averages their probabilities). */
  members: ModelMember[];
}
