/**
 * Declarative pipelines: `definePipeline` and the zod-validated schema, jobs and shards,
 * running, merging, reproduction checks, paired comparisons, subgroup breakdowns and the Φ/ε
 * regime analysis. Published as the `./pipeline` entry point. Everything else in this folder
 * (the job's steps, the CLI commands) is internal.
 *
 * @example
 * ```ts ignore
 * import { definePipeline } from "jsr:@dicelab/dicelab/pipeline";
 * export default definePipeline({ ...base, name: "acdc-eps", seed: 2 });
 * ```
 *
 * @module
 */

export type {
  ActivationConfig,
  AugmentationConfig,
  DatasetConfig,
  EpsilonConfig,
  EpsilonTermConfig,
  EvaluationConfig,
  ExperimentConfig,
  LabelingConfig,
  LossConfig,
  LrScalingConfig,
  ModelConfig,
  PhantomTrainingConfig,
  PhiName,
  Pipeline,
  PreprocessingConfig,
  QuickConfig,
  TrainingConfig,
} from "./pipeline_types.ts";
export type {
  DatasetInput,
  EvaluationInput,
  ExperimentInput,
  LabelingInput,
  LossInput,
  ModelInput,
  PipelineInput,
  TrainingInput,
} from "./pipeline_input_types.ts";
export {
  definePipeline,
  loadPipeline,
  PipelineError,
  type PipelineIssue,
  PipelineLoadError,
  validatePipeline,
} from "./define_pipeline.ts";
export {
  enumerateJobs,
  type Job,
  type JobSelection,
  parseShard,
  type Shard,
  shardJobs,
} from "./jobs.ts";
export { effectivePipeline, modelConfig, pipelineDataset } from "./resolve.ts";
export type {
  EvaluatedWeights,
  JobDivergence,
  JobResult,
  ResolvedRun,
  RunOptions,
  RunSummary,
} from "./run_types.ts";
export { runPipeline } from "./run.ts";
export { DataError, RunOptionError } from "./errors.ts";
export { pipelineIssues } from "./preflight.ts";
export { CorruptFileError, readJobResult, readResolvedRun } from "./run_folder.ts";
export { expectedJobs, type MergeOptions, mergeRun } from "./merge.ts";
export {
  type CellAddress,
  cellValue,
  compareWithReference,
  type DiffLine,
  diffTable,
  parseReference,
  type Reference,
  type ReferenceClaim,
  type ResultsLike,
  writeReference,
} from "./reproduce.ts";
export { type AnalysisRow, analysisTable, analyzePipeline } from "./analyze.ts";
export {
  calibrateGflops,
  checkJobsFit,
  type FitLimits,
  fitLimits,
  formatJobPlan,
  jobMisfit,
  type JobPlan,
  jobTrainCases,
  type PipelinePlan,
  planJobs,
  planPipeline,
} from "./plan.ts";
export {
  compareExperiments,
  type CompareOptions,
  type CompareRows,
  type Comparison,
  comparisonTable,
} from "./compare.ts";
export { subjectSubgroups } from "./subgroups.ts";
export {
  modelFromPath,
  modelPreprocessing,
  type ModelSourceKind,
  modelSourceKind,
  modelText,
  runModel,
  type RunModelOptions,
} from "./run_model.ts";
