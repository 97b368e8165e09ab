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
import { SlidingWindowPredictor } from "../train/inference.ts";
import { loadWeights, type Trainer } from "../train/trainer.ts";
import type { Job } from "./jobs.ts";
import type { EvaluatedWeights } from "./run_types.ts";
import type { Pipeline } from "./pipeline_types.ts";

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
 * @returns One row per case and class.
 */
export async function evaluateJob(
  ctx: EvaluateContext,
  job: Job,
  trainer: Trainer,
  test: readonly number[],
  dir: string,
): Promise<CaseResult[]> {
  const p = ctx.pipeline;
  const predictor = new SlidingWindowPredictor(ctx.rt, ctx.pool, trainer.store, ctx.model, {
    window: p.training.patchSize,
    overlap: p.evaluation.window.overlap,
    blending: p.evaluation.window.blending,
    batch: job.batchSize,
  });
  const rows: CaseResult[] = [];
  await Deno.mkdir(`${dir}/predictions`, { recursive: true });
  try {
    for (const i of test) {
      const c = ctx.store.get(i);
      const pred = await predictor.predict(c.image, c.shape);
      const metrics = caseMetrics(pred.labels, c.label, {
        spacing: c.spacing,
        classes: p.evaluation.classes,
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
  return rows;
}
