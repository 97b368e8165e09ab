/**
 * The records and loaded cases that flow from the dataset listings through preprocessing to
 * the trainer and the evaluation.
 *
 * @module
 */

/**
 * The datasets dicelab knows: ACDC and BRATS 2018 in their own layouts, and any dataset in the
 * nnU-Net v2 raw or Medical Segmentation Decathlon layout.
 */
export type DatasetKind = "acdc" | "brats" | "nnunet" | "msd";

/**
 * Fold rules a pipeline may name: the seeded `"random"` rule, ACDC's fixed rule, or the folds a
 * dataset ships (nnU-Net's `splits_final.json`).
 */
export type FoldRuleName = "random" | "acdc" | "splits";

/**
 * Files of a dataset's on-disk layout that sit beside its scans but are not scans to segment
 * (its label maps, auxiliary volumes): prediction on a folder in that layout leaves them out
 * and says so.
 */
export interface NonScanFileRule {
  /** The end of the file name before `.nii(.gz)`, with its separator (`"_seg"`). */
  suffix: string;
  /** What such a file is, singular, for reports (`"label file"`). */
  what: string;
}

/**
 * What loading, labeling and training need to know of a dataset, as data (it travels to the
 * patch workers with each record of a dataset read from its own description, and is recorded in
 * `pipeline.json` as `dataset.spec`).
 */
export interface DatasetSpecData {
  /** Dataset kind. */
  kind: DatasetKind;
  /** Name shown in log lines and reports (e.g. `"ACDC"`, or the dataset.json `name`). */
  title: string;
  /** Channel names, in channel order. */
  channels: string[];
  /** Label values allowed in the stored label files. */
  labelValues: number[];
  /** Names of the loaded class indices 0..K−1. */
  classes: string[];
  /** Stored label value → loaded class index (by the value's decimal text). */
  classOf: Record<string, number>;
  /**
   * The stored value of the dataset's ignore label (nnU-Net's `"ignore"`), if it has one: those
   * voxels load as `IGNORE_LABEL` (lib/core/voxel_labels.ts) and leave the loss and the metrics.
   */
  ignoreLabel?: number;
  /**
   * How the loss target is encoded: one binary map, one-hot over all classes, or one
   * (overlapping) map per region of `regions` (nnU-Net's region-based training).
   */
  target: "binary" | "oneHot" | "regions";
  /**
   * The regions of a region-based dataset (nnU-Net v2 `labels` given as lists of values), in
   * dataset.json order: each is trained as one sigmoid map, 1 where the label ∈ `values`.
   */
  regions?: DatasetRegion[];
  /**
   * With `regions`: the label value each region writes when region predictions become a label
   * map (nnU-Net's `regions_class_order`; later regions overwrite earlier ones).
   */
  regionsClassOrder?: number[];
  /** Which voxels define intensity statistics: non-zero (skull-stripped brains) or all. */
  intensityMask: "nonzero" | "all";
  /** The groups of its cases, in order (the first two are weighed by `edEsRatio`). */
  groups: string[];
  /** The record `meta` field that splits subjects into subgroups for breakdowns, if any. */
  subgroup?: { key: string; source: string };
  /** The channel drawn in overlays. */
  displayChannel: number;
  /** The folds the dataset ships: subject → test fold (nnU-Net `splits_final.json`). */
  splits?: Record<string, number>;
}

/** One region of a region-based dataset: a name and the stored label values it unites. */
export interface DatasetRegion {
  /** Its name (the dataset.json `labels` key, e.g. `"whole tumor"`). */
  name: string;
  /** The label values it contains, ascending (`[1, 2, 3]`). */
  values: number[];
}

/**
 * A labeling protocol (the union of the pipeline schema's `LabelingSchema`, plus the
 * experiment's `removedLabels` that the job adds):
 * - `full`: every label as annotated;
 * - `emptyGroup`: every case of `group` gets an empty label map (BRATS: LGG);
 * - `removeClass`: in cases of `group`, `classIndex` becomes `into` (ACDC: MYO → background
 *   at ES);
 * - `annotatedClasses`: per case (by id), the class names it annotates — a dataset merged from
 *   sources that annotated different classes; the voxels of the other classes become
 *   background, so their maps are empty (missing for the leaf and marginal losses). Cases
 *   not listed are fully annotated.
 */
export type Labeling =
  | { kind: "full" }
  | { kind: "emptyGroup"; group: string; removedLabels?: RemovedLabels }
  | {
    kind: "removeClass";
    group: string;
    classIndex: number;
    into?: number;
    removedLabels?: RemovedLabels;
  }
  | {
    kind: "annotatedClasses";
    cases?: Record<string, string[]>;
    file?: string;
    removedLabels?: RemovedLabels;
  };

/**
 * How a labeling's removed labels reach the loss (an experiment's choice; the labeling says
 * what is removed). In a case the labeling touches, the voxels labelled `into` after the
 * removal (background, unless `removeClass.into` says otherwise) may hide a removed class:
 * - `"relabel"` (default, the paper): they keep the class `into`;
 * - `"labelSet"`: they are labelled with the set {into, removed classes} (Fidon et al.'s
 *   superset labels; one-hot targets only);
 * - `"ignore"`: they leave the loss (a voxel mask, as nnU-Net's ignore label).
 */
export type RemovedLabels = "relabel" | "labelSet" | "ignore";

/** Three numbers in `[D, H, W]` order (k, j, i of the NIfTI file). */
export type Vec3 = [number, number, number];

/** A volume and its grid: `data` is `[C, D, H, W]` (row-major, W fastest). */
export interface Volume<T extends Float32Array | Uint8Array = Float32Array | Uint8Array> {
  /** The values. */
  data: T;
  /** `[D, H, W]`. */
  shape: Vec3;
  /** Channels C. @default 1 */
  channels?: number;
}

/** One case on disk: what to read, and how to group it. */
export interface CaseRecord {
  /** Dataset the files come from (decides label set, channels and defaults). */
  dataset: DatasetKind;
  /** The dataset's spec, for datasets read from their own description (nnU-Net, MSD). */
  spec?: DatasetSpecData;
  /** Unique case id (`"patient001_ED"`, `"Brats18_2013_10_1"`). */
  id: string;
  /** Subject the case belongs to (folds split by subject). */
  subject: string;
  /** `"ED"` / `"ES"` (ACDC) or `"HGG"` / `"LGG"` (BRATS). */
  group: string;
  /** Image channels, in channel order (ACDC: the frame; BRATS: FLAIR, T1, T1ce, T2). */
  imagePaths: string[];
  /** The label map. */
  labelPath: string;
  /** Dataset-specific facts (ACDC: frame, pathology, Info.cfg; BRATS: grade). */
  meta: Record<string, unknown>;
}

/** Where a preprocessed grid sits in its source file: `source = scale · index + offset`. */
export interface GridMap {
  /** Source voxels per preprocessed voxel, `[D, H, W]`. */
  scale: Vec3;
  /** Source index of preprocessed voxel 0, `[D, H, W]`. */
  offset: Vec3;
}

/** A case after reading and preprocessing, ready for patches, training and evaluation. */
export interface LoadedCase {
  /** Dataset kind. */
  dataset: DatasetKind;
  /** The dataset's spec, for datasets read from their own description (nnU-Net, MSD). */
  spec?: DatasetSpecData;
  /** Case id. */
  id: string;
  /** Subject id. */
  subject: string;
  /** Group (`"ED"`, `"ES"`, `"HGG"`, `"LGG"`). */
  group: string;
  /** Intensities `[C, D, H, W]`, row-major (W = NIfTI i fastest). */
  image: Float32Array;
  /** Class indices `[D, H, W]` (ACDC 0 bg, 1 RV, 2 MYO, 3 LV; BRATS 0 bg, 1 whole tumour). */
  label: Uint8Array;
  /** Number of channels C. */
  channels: number;
  /** `[D, H, W]`. */
  shape: Vec3;
  /** Voxel spacing `[sd, sh, sw]` in mm. */
  spacing: Vec3;
  /** Voxel-to-world 4×4 matrix of the preprocessed grid (NIfTI index order i, j, k). */
  affine: number[][];
  /** Names of the label values 0..K−1. */
  classes: readonly string[];
  /** Per-channel value that stands for "outside the image" (used when padding). */
  padValue: number[];
  /** Labeling applied to `label` (`"full"` as loaded). */
  labeling: string;
  /** The source grid, to map predictions back to the original files. */
  source: {
    /** Source `[D, H, W]`. */
    shape: Vec3;
    /** Source spacing `[sd, sh, sw]`. */
    spacing: Vec3;
    /** Source affine. */
    affine: number[][];
    /** Preprocessed index → source index. */
    grid: GridMap;
  };
  /** The record's meta. */
  meta: Record<string, unknown>;
}
