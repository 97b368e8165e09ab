/**
 * A job's evaluation (internal to lib/pipeline): choose the weights to evaluate, predict every
 * test case with sliding windows, compute the metrics, and write the predictions (in the source
 * grid of each case) and the overlay examples.
 *
 * @module
 */

import { writeFileAtomic } from "../core/atomic_write.ts";
import { toSourceGrid } from "../data/load_case.ts";
import type { LoadedCase } from "../data/types.ts";
import { type CaseResult, caseResults } from "../eval/case_result.ts";
import { caseMetrics } from "../eval/metrics.ts";
import type { BufferPool } from "../gpu/buffer_pool.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { writeNiftiFile } from "../nifti/write_nifti.ts";
import type { UNetConfig } from "../nn/unet_config.ts";
import type { CaseStore } from "../train/case_store.ts";
import type { PatchBatch } from "../train/patch_stream.ts";
import { regionLabels, SlidingWindowPredictor } from "../train/inference.ts";
import { loadWeights, type Trainer } from "../train/trainer.ts";
import type { Job } from "./jobs.ts";
import type { EvaluatedWeights } from "./run_types.ts";
import type { Pipeline } from "./pipeline_types.ts";
import { pipelineDataset } from "./resolve.ts";

/**
 * Load the weights to evaluate into the trainer's store: the best-validation ones when asked
 * for and written (a run without validation cases has none), else keep the final ones.
 *
 * @param trainer The trained trainer.
 * @param which `training.evaluateWeights`.
 * @param bestEpoch The best epoch (−1: none).
 * @returns Which weights are loaded.
 */
export async function selectWeights(
  trainer: Trainer,
  which: "final" | "best" | undefined,
  bestEpoch: number,
): Promise<EvaluatedWeights> {
  if (which !== "best" || bestEpoch < 0) return { kind: "final" };
  try {
    await Deno.stat(trainer.bestWeightsPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { kind: "final" };
    throw e;
  }
  await loadWeights(trainer.store, trainer.bestWeightsPath);
  return { kind: "best", epoch: bestEpoch };
}

async function _writePrediction(dir: string, c: LoadedCase, labels: Uint8Array): Promise<void> {
  const src = toSourceGrid(labels, c);
  const [D, H, W] = c.source.shape;
  await writeNiftiFile(`${dir}/predictions/${c.id}.nii.gz`, {
    shape: [W, H, D],
    data: src,
    affine: c.source.affine,
    datatype: "uint8",
  });
}

/** What {@linkcode evaluateJob} needs. */
export interface EvaluateContext {
  /** Effective pipeline. */
  pipeline: Pipeline;
  /** Runtime. */
  rt: GpuRuntime;
  /** Buffer pool. */
  pool: BufferPool;
  /** All cases. */
  store: CaseStore;
  /** Model configuration. */
  model: UNetConfig;
  /** Example case ids (their label maps are kept for the overlays). */
  exampleCases: readonly string[];
}

/**
 * Evaluate a trained job on its test cases: sliding-window prediction, metrics against the
 * full labels, predictions written to `<dir>/predictions/<case>.nii.gz` in the source grid.
 *
 * @param ctx Run context.
 * @param job The job.
 * @param trainer The trainer holding the weights to evaluate.
 * @param test Test case indices.
 * @param dir The job folder.
 * @param validation The job's validation batches (checked for a collapse first).
 * @returns One row per case and class, and warnings (a collapse to all-background maps).
 */
export async function evaluateJob(
  ctx: EvaluateContext,
  job: Job,
  trainer: Trainer,
  test: readonly number[],
  dir: string,
  validation: readonly PatchBatch[] = [],
): Promise<{ rows: CaseResult[]; warnings: string[] }> {
  const p = ctx.pipeline;
  // A region-based dataset: region maps → label values (nnU-Net's rule), metrics per region.
  const ds = pipelineDataset(p);
  const regions = ds.target === "regions" && ds.regions && ds.regionsClassOrder
    ? { values: ds.regions.map((r) => r.values), classOrder: ds.regionsClassOrder }
    : undefined;
  const predictor = new SlidingWindowPredictor(ctx.rt, ctx.pool, trainer.store, ctx.model, {
    window: p.training.patchSize,
    overlap: p.evaluation.window.overlap,
    blending: p.evaluation.window.blending,
    batch: job.batchSize,
    ...(regions ? { regionsClassOrder: regions.classOrder } : {}),
  });
  const rows: CaseResult[] = [];
  const warnings: string[] = [];
  await Deno.mkdir(`${dir}/predictions`, { recursive: true });
  try {
    const collapsed = await _collapsed(predictor, validation, p.training.patchSize, {
      classes: regions ? ds.classes : ["background", ...p.evaluation.classes],
      regionsClassOrder: regions?.classOrder,
    });
    if (collapsed) {
      warnings.push(
        `${job.id}: the validation patches are predicted as ${collapsed} nearly everywhere ` +
          `(≥ ${100 * COLLAPSE_PREDICTED} % of voxels) although their training labels are not ` +
          `— training collapsed (learning rate ${p.training.optimizer.lr}); its DSC is meaningless`,
      );
    }
    for (const i of test) {
      const c = ctx.store.get(i);
      const pred = await predictor.predict(c.image, c.shape);
      const metrics = caseMetrics(pred.labels, c.label, {
        spacing: c.spacing,
        classes: p.evaluation.classes,
        ...(regions ? { regions: regions.values } : {}),
        emptyDice: p.evaluation.emptyDice ?? 1,
      });
      rows.push(
        ...caseResults(
          {
            experiment: job.experiment,
            labeling: job.labeling,
            batchSize: job.batchSize,
            fold: job.fold,
          },
          { caseId: c.id, subject: c.subject, group: c.group },
          metrics,
        ),
      );
      await _writePrediction(dir, c, pred.labels);
      if (ctx.exampleCases.includes(c.id)) {
        await Deno.mkdir(`${dir}/examples`, { recursive: true });
        await writeFileAtomic(`${dir}/examples/${c.id}.u8`, pred.labels);
      }
    }
  } finally {
    predictor.dispose();
  }
  return { rows, warnings };
}

/** A collapse: one class on at least this share of the predicted validation voxels … */
const COLLAPSE_PREDICTED = 0.99;
/** … while it covers at most this share of the validation targets' voxels. */
const COLLAPSE_TARGET = 0.95;

/**
 * Whether the network predicts (nearly) one and the same class everywhere on the validation
 * patches — all background, or e.g. all one foreground class — while their training targets do
 * not: at least {@linkcode COLLAPSE_PREDICTED} of the predicted voxels are that class, and at
 * most {@linkcode COLLAPSE_TARGET} of the target voxels. Returns the class's name, or undefined.
 * Region targets are turned into label values by the prediction's own rule.
 */
async function _collapsed(
  predictor: SlidingWindowPredictor,
  validation: readonly PatchBatch[],
  patch: readonly [number, number, number],
  o: { classes: readonly string[]; regionsClassOrder?: readonly number[] },
): Promise<string | undefined> {
  const classes = o.classes;
  const predicted = new Map<number, number>();
  const target = new Map<number, number>();
  let voxels = 0;
  for (const b of validation) {
    const [B, C] = b.imageShape;
    const K = b.targetShape[1];
    const n = b.image.length / (B * C);
    for (let j = 0; j < B; j++) {
      const image = b.image.subarray(j * C * n, (j + 1) * C * n);
      const { labels } = await predictor.predict(image, [patch[0], patch[1], patch[2]]);
      for (const v of labels) predicted.set(v, (predicted.get(v) ?? 0) + 1);
      const t = b.target.subarray(j * K * n, (j + 1) * K * n);
      if (o.regionsClassOrder) {
        for (const v of regionLabels(t, o.regionsClassOrder)) {
          target.set(v, (target.get(v) ?? 0) + 1);
        }
        voxels += n;
        continue;
      }
      for (let i = 0; i < n; i++) {
        let c = 0;
        if (K === 1) c = t[i] > 0 ? 1 : 0;
        else for (let k = 1; k < K; k++) if (t[k * n + i] > 0) c = k;
        target.set(c, (target.get(c) ?? 0) + 1);
      }
      voxels += n;
    }
  }
  for (const [c, count] of predicted) {
    if (count >= COLLAPSE_PREDICTED * voxels && (target.get(c) ?? 0) <= COLLAPSE_TARGET * voxels) {
      return c === 0 ? "background" : (classes[c] ?? `class ${c}`);
    }
  }
  return undefined;
}
