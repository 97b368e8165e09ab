/**
 * Batch normalisation ops (PyTorch `BatchNorm3d` semantics, affine), optionally fused with
 * LeakyReLU or PReLU. Training mode normalises with the batch statistics (mean and biased
 * variance over N·D·H·W per channel) and updates the running estimates
 * `r ← (1 − momentum)·r + momentum·v` with the *unbiased* batch variance; inference mode
 * normalises with the running statistics. Shares its kernels with instance normalisation.
 *
 * @module
 */

import type { BufferArg, Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { TensorView } from "../tensor.ts";
import {
  checkNormApply,
  normApply,
  normBackward,
  type NormBackwardParams,
  type NormForwardParams,
  type NormSaved,
} from "./instance_norm.ts";
import { segmentMeanVar } from "./segment_sum.ts";

/** Parameters and options of {@linkcode batchNormForward}. */
export interface BatchNormForwardParams extends NormForwardParams {
  /** Running mean per channel (updated in training mode, used in inference mode). */
  runningMean?: BufferArg;
  /** Running (unbiased) variance per channel. */
  runningVar?: BufferArg;
  /** Normalise with batch statistics and update the running ones. @default true */
  training?: boolean;
  /** Weight of the new batch statistic in the running update. @default 0.1 */
  momentum?: number;
}

/**
 * Push batch normalisation forward: 3 dispatches in training mode (statistics partials,
 * statistics combine with the running update, normalise + activate), 1 in inference mode.
 *
 * @param plan The step plan.
 * @param x Input view `[N, C, D, H, W]`.
 * @param y Output view of the same shape, in a different buffer.
 * @param params Scale, shift, running statistics, mode, momentum, eps, fused activation.
 * @returns What the backward needs.
 * @throws {TypeError} When a view or parameter is invalid, or running statistics are missing
 *   in inference mode.
 * @throws {RangeError} In training mode with one value per channel (N·D·H·W = 1), or a
 *   momentum outside [0, 1].
 * @example
 * ```ts ignore
 * const saved = batchNormForward(plan, x, y, {
 *   scale, shift, runningMean, runningVar, training: true,
 *   activation: { kind: "prelu", slope },
 * });
 * ```
 */
export function batchNormForward(
  plan: StepPlan,
  x: TensorView,
  y: TensorView,
  params: BatchNormForwardParams,
): NormSaved {
  const op = "batchNormForward";
  const { l: layouts } = checkNormApply(x, y, params, op);
  const l = layouts.x;
  const training = params.training ?? true;
  const eps = params.eps ?? 1e-5;
  const activation = params.activation?.kind ?? "identity";
  let saved: NormSaved;
  if (training) {
    if (l.n * l.spatial < 2) {
      throw new RangeError(
        `Cannot run ${op}: training needs more than 1 value per channel, got shape ` +
          JSON.stringify(x.shape),
      );
    }
    const mean = plan.scratch(l.c * 4, `${op}.mean`);
    const variance = plan.scratch(l.c * 4, `${op}.variance`);
    const hasRunning = params.runningMean !== undefined || params.runningVar !== undefined;
    if (hasRunning && (!params.runningMean || !params.runningVar)) {
      throw new TypeError(`Cannot run ${op}: give both runningMean and runningVar, or neither`);
    }
    segmentMeanVar(plan, x, { mean, variance }, {
      groupBy: "channel",
      running: hasRunning
        ? {
          mean: params.runningMean!,
          variance: params.runningVar!,
          momentum: params.momentum ?? 0.1,
        }
        : undefined,
    });
    saved = {
      shape: x.shape,
      mean,
      variance,
      groupBy: "channel",
      batchStats: true,
      eps,
      activation,
    };
  } else {
    if (!params.runningMean || !params.runningVar) {
      throw new TypeError(`Cannot run ${op}: inference mode needs runningMean and runningVar`);
    }
    saved = {
      shape: x.shape,
      mean: params.runningMean,
      variance: params.runningVar,
      groupBy: "channel",
      batchStats: false,
      eps,
      activation,
    };
  }
  normApply(plan, x, y, saved, params, op);
  return saved;
}

/**
 * Push batch normalisation backward (3 dispatches): `dx`, `dγ`, `dβ` (and the PReLU slope
 * gradient when fused). After a training-mode forward the gradient flows through the batch
 * statistics; after an inference-mode forward they are constants (`dx = dz·γ/√(var + eps)`).
 *
 * @param plan The step plan.
 * @param x The forward input view.
 * @param dy Gradient of the output.
 * @param dx Receives the input gradient (a buffer of its own).
 * @param saved The forward's result.
 * @param params Parameters and gradient outputs.
 * @returns The dispatches.
 * @throws {TypeError} When shapes disagree with the forward, a parameter is missing or too
 *   small, or an output aliases an input.
 */
export function batchNormBackward(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dx: TensorView,
  saved: NormSaved,
  params: NormBackwardParams,
): Dispatch[] {
  return normBackward(plan, x, dy, dx, saved, params, "batchNormBackward");
}
