/**
 * Logistic sigmoid ops on NCDHW views: forward `y = 1/(1 + e^(−x))` and backward
 * `dx = dy·y·(1 − y)` (from the forward output, so the logits need not be kept).
 *
 * @module
 */

import { vecFor } from "../kernels/reduce.ts";
import { sigmoidBackwardSpec, sigmoidForwardSpec } from "../kernels/sigmoid.ts";
import type { Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { TensorView } from "../tensor.ts";
import { checkElementCount, sameShapeLayouts, viewFields } from "./reduce.ts";

/**
 * Push sigmoid forward (one dispatch).
 *
 * @param plan The step plan.
 * @param x Logits view `[N, C, D, H, W]`.
 * @param y Receives the probabilities (may be `x` itself or a slice of its buffer).
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid or the shapes differ.
 * @example
 * ```ts ignore
 * sigmoidForward(plan, logits, probs);
 * ```
 */
export function sigmoidForward(plan: StepPlan, x: TensorView, y: TensorView): Dispatch {
  const op = "sigmoidForward";
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
  checkElementCount(op, l.y);
  const inPlace = x.buffer === y.buffer;
  const buffers: Record<string, GPUBuffer> = inPlace
    ? { xy: x.buffer }
    : { x: x.buffer, y: y.buffer };
  return plan.push(sigmoidForwardSpec({ inPlace, vec: vecFor(l.x.spatial) }), buffers, {
    S: l.x.spatial,
    C: l.x.c,
    N: l.x.n,
    ...viewFields("x", l.x),
    ...viewFields("y", l.y),
  });
}

/**
 * Push sigmoid backward `dx = dy·y·(1 − y)` (one dispatch).
 *
 * @param plan The step plan.
 * @param y The forward output (probabilities).
 * @param dy Gradient w.r.t. the probabilities.
 * @param dx Receives the gradient w.r.t. the logits (may share `dy`'s buffer, not `y`'s).
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid, the shapes differ, or `dx` shares `y`'s buffer.
 */
export function sigmoidBackward(
  plan: StepPlan,
  y: TensorView,
  dy: TensorView,
  dx: TensorView,
): Dispatch {
  const op = "sigmoidBackward";
  const l = sameShapeLayouts(op, { y, dy, dx });
  checkElementCount(op, l.y);
  if (dx.buffer === y.buffer) {
    throw new TypeError(`Cannot run ${op}: dx shares the forward output's buffer`);
  }
  const inPlace = dx.buffer === dy.buffer;
  const buffers: Record<string, GPUBuffer> = inPlace
    ? { y: y.buffer, grad: dy.buffer }
    : { y: y.buffer, dy: dy.buffer, dx: dx.buffer };
  return plan.push(sigmoidBackwardSpec({ inPlace, vec: vecFor(l.y.spatial) }), buffers, {
    S: l.y.spatial,
    C: l.y.c,
    N: l.y.n,
    ...viewFields("y", l.y),
    ...viewFields("dy", l.dy),
    ...viewFields("dx", l.dx),
  });
}
