/**
 * Softmax over channels as step-plan ops: forward `p_c = e^(x_c − max)/Σ e^(x_k − max)` at
 * every voxel, and backward `dx_c = p_c·(dp_c − Σ_k p_k·dp_k)` from the probabilities.
 *
 * @module
 */

import { vecFor } from "../kernels/reduce.ts";
import { softmaxBackwardSpec, softmaxForwardSpec } from "../kernels/softmax.ts";
import type { Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { TensorView, ViewLayout } from "../tensor.ts";
import {
  checkElementCount,
  checkNoWriteAlias,
  pushRowChunks,
  rowTensor,
  sameShapeLayouts,
  windowBindings,
  windowFields,
} from "./reduce.ts";

/**
 * Most channels the softmax kernels accept (three channel loops per position, up to eight
 * positions per invocation, inside llvmpipe's per-invocation loop budget).
 */
export const SOFTMAX_MAX_CHANNELS = 1024;

function _check(op: string, l: ViewLayout): void {
  checkElementCount(op, l);
  if (l.c > SOFTMAX_MAX_CHANNELS) {
    throw new RangeError(`Cannot run ${op}: ${l.c} channels exceed ${SOFTMAX_MAX_CHANNELS}`);
  }
}

/**
 * Push softmax over channels (one dispatch).
 *
 * @param plan The step plan.
 * @param x Logits view `[N, C, D, H, W]`.
 * @param y Receives the probabilities (a buffer other than `x`'s).
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid, the shapes differ or `y` shares `x`'s buffer.
 * @throws {RangeError} With more than {@linkcode SOFTMAX_MAX_CHANNELS} channels.
 * @example
 * ```ts ignore
 * softmaxForward(plan, view(logits, [2, 4, 32, 32, 16]), view(probs, [2, 4, 32, 32, 16]));
 * ```
 */
export function softmaxForward(plan: StepPlan, x: TensorView, y: TensorView): Dispatch[] {
  const op = "softmaxForward";
  const l = sameShapeLayouts(op, { x, y });
  _check(op, l.x);
  checkElementCount(op, l.y);
  checkNoWriteAlias(op, { y: y.buffer }, { x: x.buffer });
  const vec = vecFor(l.x.spatial);
  const tensors = { x: rowTensor(x, l.x, vec), y: rowTensor(y, l.y, vec) };
  return pushRowChunks(
    plan,
    op,
    l.x.n,
    l.x.c,
    tensors,
    (ch, w) =>
      plan.push(softmaxForwardSpec(vecFor(l.x.spatial)), windowBindings(w), {
        S: l.x.spatial,
        C: l.x.c,
        N: ch.nn,
        ...windowFields("x", l.x, w.x, true),
        ...windowFields("y", l.y, w.y, true),
      }),
    { wholeSamples: true },
  );
}

/**
 * Push softmax backward (one dispatch): gradient w.r.t. the logits from the probabilities
 * `p` and the gradient `dp` w.r.t. them.
 *
 * @param plan The step plan.
 * @param p The forward output.
 * @param dp Gradient w.r.t. the probabilities.
 * @param dx Receives the gradient w.r.t. the logits (a buffer of its own).
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid, the shapes differ or `dx` aliases an input.
 * @throws {RangeError} With more than {@linkcode SOFTMAX_MAX_CHANNELS} channels.
 */
export function softmaxBackward(
  plan: StepPlan,
  p: TensorView,
  dp: TensorView,
  dx: TensorView,
): Dispatch[] {
  const op = "softmaxBackward";
  const l = sameShapeLayouts(op, { p, dp, dx });
  _check(op, l.p);
  checkNoWriteAlias(op, { dx: dx.buffer }, { p: p.buffer, dp: dp.buffer });
  const vec = vecFor(l.p.spatial);
  const tensors = {
    p: rowTensor(p, l.p, vec),
    dp: rowTensor(dp, l.dp, vec),
    dx: rowTensor(dx, l.dx, vec),
  };
  return pushRowChunks(
    plan,
    op,
    l.p.n,
    l.p.c,
    tensors,
    (ch, w) =>
      plan.push(softmaxBackwardSpec(vecFor(l.p.spatial)), windowBindings(w), {
        S: l.p.spatial,
        C: l.p.c,
        N: ch.nn,
        ...windowFields("p", l.p, w.p, true),
        ...windowFields("dp", l.dp, w.dp, true),
        ...windowFields("dx", l.dx, w.dx, true),
      }),
    { wholeSamples: true },
  );
}
