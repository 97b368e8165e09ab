/**
 * Pure resolution of a pipeline's settings: the effective pipeline after `--seed`, the phantom
 * overrides and `--quick`; its dataset descriptor; and the network configuration (channels from
 * the dataset). No I/O.
 *
 * @module
 */

import { type DatasetDescriptor, datasetDescriptor, DATASETS } from "../data/dataset_descriptor.ts";
import { foldRule, targetMaps } from "../data/datasets.ts";
import type { CaseRecord } from "../data/types.ts";
import { type FoldSplit, kFoldSplit } from "../eval/folds.ts";
import { resolveUNetConfig, type UNetConfig, type UNetOverrides } from "../nn/unet_config.ts";
import type { Pipeline } from "./pipeline_types.ts";

/** The fields of `o` whose value is not undefined (for field-wise overrides). */
function _defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Apply `--seed`, the phantom's model and training overrides, and `--quick` to a pipeline.
 *
 * @param p The pipeline.
 * @param o Seed, quick flag, and whether the run uses the phantom.
 * @returns The effective pipeline (a copy).
 * @example
 * ```ts ignore
 * const p = effectivePipeline(pipeline, { quick: true, phantom: true });
 * ```
 */
export function effectivePipeline(
  p: Pipeline,
  o: { seed?: number; quick?: boolean; phantom?: boolean },
): Pipeline {
  const out: Pipeline = structuredClone(p);
  if (o.seed !== undefined) out.seed = o.seed;
  if (o.phantom) {
    Object.assign(out.model, _defined(p.dataset.phantom.model ?? {}));
    const { schedule, lr, ...rest } = p.dataset.phantom.training ?? {};
    Object.assign(out.training, _defined(rest));
    if (lr !== undefined) out.training.optimizer.lr = lr;
    if (schedule) Object.assign(out.training.schedule, _defined(schedule));
  }
  if (o.quick) {
    const q = p.quick;
    if (q.epochs) out.training.epochs = q.epochs;
    if (q.phantom) out.dataset.phantom.options = { ...out.dataset.phantom.options, ...q.phantom };
    if (q.resamples) out.evaluation.bootstrap.resamples = q.resamples;
  }
  return out;
}

/**
 * The descriptor of a pipeline's dataset.
 *
 * @param p The pipeline.
 * @returns Its dataset's descriptor.
 */
export function pipelineDataset(p: Pipeline): DatasetDescriptor {
  return datasetDescriptor(p.dataset.kind, p.dataset.spec);
}

/**
 * Whether the pipeline's dataset is described by its own files (nnU-Net, Decathlon) and they have
 * not been read yet (so its channels, classes and groups are not known).
 *
 * @param p The pipeline.
 * @returns True until `dataset.spec` is filled in.
 */
export function awaitsDescription(p: Pipeline): boolean {
  return Boolean(DATASETS[p.dataset.kind].describe) && !p.dataset.spec;
}

/**
 * The model configuration of a pipeline: its preset and overrides, with the input channels
 * and output maps of its dataset unless the model sets them (and a sigmoid head for a
 * region-based dataset).
 *
 * @param p The pipeline.
 * @returns The configuration.
 */
export function modelConfig(p: Pipeline): UNetConfig {
  const m = p.model;
  const ds = pipelineDataset(p);
  const overrides: UNetOverrides = {
    inChannels: m.inChannels ?? ds.channels.length,
    outChannels: m.outChannels ?? targetMaps(ds),
    filters: m.filters,
    norm: m.norm,
    activation: m.activation,
    upsampling: m.upsampling,
    order: m.order,
    // Region maps overlap: a region-based dataset's head is sigmoid whatever the preset's (the
    // preflight refuses an explicit softmax head).
    head: m.head ?? (ds.target === "regions" ? "sigmoid" : undefined),
    kernels: m.kernels,
    pools: m.pools,
  };
  return resolveUNetConfig(m.preset, overrides);
}

/**
 * The fold split of a pipeline's subjects: seeded random, or the dataset's fixed rule named
 * by `evaluation.foldRule`.
 *
 * @param p Effective pipeline.
 * @param records The dataset's records.
 * @returns The split (what `folds.json` records).
 * @throws {RangeError} When the dataset has no such rule, or too few subjects.
 */
export function pipelineFolds(p: Pipeline, records: readonly CaseRecord[]): FoldSplit {
  const rule = p.evaluation.foldRule;
  return kFoldSplit(records.map((r) => r.subject), {
    folds: p.evaluation.folds,
    seed: p.seed,
    rule,
    assign: rule === "random" ? undefined : foldRule(pipelineDataset(p), rule),
  });
}
