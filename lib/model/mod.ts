/**
 * Trained models that travel: the native `.dicelab` model file (weights of one or several
 * folds, network, preprocessing rules, window settings, channel and class names, loss and
 * provenance, with a format version and a SHA-256 checksum), and prediction on new scans in
 * either dataset layout — the training preprocessing, sliding windows with Gaussian blending,
 * mirrored test-time augmentation, fold ensembles, and outputs on each scan's own grid and
 * header. Reading a run folder into a model is lib/pipeline's (`runModel`).
 *
 * @example
 * ```ts
 * import { MODEL_FORMAT_VERSION, stepOverlap } from "./mod.ts";
 * console.log(MODEL_FORMAT_VERSION, stepOverlap(0.5, 0.25)); // 1 0.5
 * ```
 *
 * @module
 */

export { DICELAB_VERSION } from "./dicelab_version.ts";
export type {
  DicelabModel,
  ModelDataset,
  ModelInference,
  ModelMember,
  ModelPreprocessing,
  ModelProvenance,
} from "./model_types.ts";
export {
  encodeModel,
  loadModel,
  MODEL_FORMAT_VERSION,
  readModelFile,
  saveModel,
} from "./model_file.ts";
export {
  probabilitiesToSourceGrid,
  type ProbabilitiesToSourceOptions,
} from "./probabilities_to_source.ts";
export {
  findPredictionInputs,
  listPredictionInputs,
  type PredictionInput,
  type PredictionInputListing,
  type PredictionInputOptions,
  readPredictionInput,
  type ScanVolumes,
  type SkippedInput,
  skippedSummary,
} from "./prediction_inputs.ts";
export { predictionHeader, type ScanPrediction, writePrediction } from "./write_prediction.ts";
export {
  flipWindow,
  modelDatasetSpec,
  ModelPredictor,
  predict,
  type PredictOptions,
  preprocessScan,
  scanOf,
  selectMembers,
  stepOverlap,
} from "./model_predictor.ts";
