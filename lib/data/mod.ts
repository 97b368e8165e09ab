/**
 * Data: dicelab owns the datasets (ACDC and BRATS 2018 in their real on-disk layouts),
 * loading and preprocessing of cases (resampling, intensity normalisation, crop/pad), the
 * paper's partial-label protocols as declarative labelings, loss targets, training patches
 * and augmentation, and seeded phantom datasets written in the real layouts.
 *
 * Arrays are `[C, D, H, W]` / `[D, H, W]`, row-major, with the NIfTI i axis fastest
 * (W = i, H = j, D = k); spacings are `[sd, sh, sw]` in mm.
 *
 * @example
 * ```ts
 * import { applyLabeling, LABELINGS, makeTarget } from "./mod.ts";
 * import type { LoadedCase } from "./mod.ts";
 * const lgg = { group: "LGG", label: new Uint8Array([0, 1, 1]) } as unknown as LoadedCase;
 * const train = applyLabeling(lgg, LABELINGS.bratsPartial);
 * console.log(Array.from(makeTarget(train.label, { encoding: "binary" }))); // [0, 0, 0]
 * ```
 *
 * @module
 */

export {
  type CaseRecord,
  type DatasetKind,
  type DatasetRegion,
  type DatasetSpecData,
  type FoldRuleName,
  type GridMap,
  type LoadedCase,
  type NonScanFileRule,
  type Vec3,
  type Volume,
} from "./types.ts";
export {
  ACDC,
  BRATS,
  caseSpec,
  DATASET_KINDS,
  DATASET_SPECS,
  type DatasetSpec,
  datasetSpec,
  evaluatedNames,
  FOLD_RULE_NAMES,
  type FoldAssign,
  foldRule,
  nonScanFileRules,
  specFromData,
  targetMaps,
  targetNames,
} from "./datasets.ts";
export {
  type DatasetDescriptor,
  datasetDescriptor,
  type DatasetFormat,
  DATASETS,
  type PhantomGenerator,
} from "./dataset_descriptor.ts";
export { acdcFold } from "./acdc_fold.ts";
export { ACDC_PATHOLOGIES, type AcdcInfo, formatInfoCfg, parseInfoCfg } from "./info_cfg.ts";
export { acdcPatientsDir, listAcdc } from "./acdc.ts";
export { listBrats } from "./brats.ts";
export { listDataset } from "./list_dataset.ts";
export { centerCropOrPad, extractRegion, type RegionOptions, type VoxelArray } from "./region.ts";
export {
  alignedGrid,
  type ResampleGrid,
  resampleLabelLinear,
  resampleLinear,
  resampleNearest,
} from "./resample.ts";
export {
  nonzeroMask,
  normalizeIntensities,
  type NormalizeOptions,
  percentile,
} from "./intensity.ts";
export {
  mapAffine,
  PAPER_PREPROCESSING,
  PHANTOM_PREPROCESSING,
  type PreprocessedVolumes,
  type PreprocessingOptions,
  preprocessVolumes,
  type RawVolumes,
  shiftGrid,
} from "./preprocess.ts";
export { loadCase, toSourceGrid } from "./load_case.ts";
export {
  ACDC_ED_ES_RATIO,
  annotatedMaps,
  applyLabeling,
  groupWeights,
  hiddenClasses,
  type Labeling,
  labelingName,
  LABELINGS,
  labelingSets,
  makeTarget,
  REMOVED_LABELS,
  type RemovedLabels,
  removedLabelsOf,
  targetChannels,
  type TargetOptions,
  targetOptions,
  withRemovedLabels,
} from "./labeling.ts";
export { type Patch, type PatchSource, samplePatch, type SamplePatchOptions } from "./patch.ts";
export { type AugmentOptions, augmentPatch, DEFAULT_AUGMENTATION } from "./augment.ts";
export {
  ACDC_PHANTOM_DEFAULTS,
  ACDC_PHANTOM_GROUPS,
  type AcdcPhantomFrame,
  type AcdcPhantomOptions,
  type AcdcPhantomPatient,
  generateAcdcPhantom,
  renderAcdcPatient,
} from "./phantom_acdc.ts";
export {
  BRATS_PHANTOM_DEFAULTS,
  type BratsPhantomCase,
  type BratsPhantomOptions,
  generateBratsPhantom,
  type PhantomSummary,
  renderBratsCase,
} from "./phantom_brats.ts";
export {
  ensurePhantom,
  PHANTOM_VERSION,
  phantomKey,
  type PhantomMarker,
  type PhantomOptions,
} from "./ensure_phantom.ts";
// The seeded generator that samplePatch and augmentPatch take.
export { Rng } from "../core/rng.ts";
// The ignore and label-set marks of training label maps.
export {
  FIRST_SPECIAL_LABEL,
  IGNORE_LABEL,
  isClassLabel,
  labelSetNumber,
  labelSetValue,
  MAX_LABEL_SETS,
} from "../core/voxel_labels.ts";
export { type DescribedDataset, readMsdDataset, readNnunetDataset } from "./nnunet.ts";
export {
  type CaseTable,
  classNames,
  parseChannels,
  readCaseTable,
  readJsonFile,
  readSplits,
} from "./dataset_json.ts";
export {
  generateMsdPhantom,
  generateNnunetPhantom,
  MSD_PHANTOM_DEFAULTS,
  type MsdPhantomOptions,
  NNUNET_PHANTOM_DEFAULTS,
  NNUNET_PHANTOM_IGNORE,
  type NnunetPhantomOptions,
} from "./phantom_layouts.ts";
