/**
 * Logistic sigmoid ops on NCDHW views: forward `y = 1/(1 + e^(−x))` and backward
 * `dx = dy·y·(1 − y)` (from the forward output, so the logits need not be kept).
 *
 * @module
 */

import { vecFor } from "../kernels/reduce.ts";
import { sigmoidBackwardSpec, sigmoidForwardSpec } from "../kernels/sigmoid.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { TensorView } from "../tensor.ts";
import {
  checkElementCount,
  chunkExtent,
  mergeWindows,
  pushRowChunks,
  rowTensor,
  sameShapeLayouts,
  windowFields,
} from "./reduce.ts";

/**
 * Push sigmoid forward (one dispatch).
 *
 * @param plan The step plan.
 * @param x Logits view `[N, C, D, H, W]`.
 * @param y Receives the probabilities (may be `x` itself or a slice of its buffer).
 * @returns The dispatches (one per row chunk when a view exceeds the binding limit).
 * @throws {TypeError} When a view is invalid or the shapes differ.
 * @example
 * ```ts ignore
 * sigmoidForward(plan, logits, probs);
 * ```
 */
export function sigmoidForward(plan: StepPlan, x: TensorView, y: TensorView): Dispatch[] {
  const op = "sigmoidForward";
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
  checkElementCount(op, l.y);
  const inPlace = x.buffer === y.buffer;
  const spec = sigmoidForwardSpec({ inPlace, vec: vecFor(l.x.spatial) });
  const vec = vecFor(l.x.spatial);
  const tensors = { x: rowTensor(x, l.x, vec), y: rowTensor(y, l.y, vec) };
  return pushRowChunks(plan, op, l.x.n, l.x.c, tensors, (ch, w) => {
    if (inPlace) [w.x, w.y] = mergeWindows(op, w.x, w.y);
    return plan.push(spec, inPlace ? { xy: w.x.binding } : { x: w.x.binding, y: w.y.binding }, {
      S: l.x.spatial,
      ...chunkExtent(ch),
      ...windowFields("x", l.x, w.x),
      ...windowFields("y", l.y, w.y),
    });
  });
}

/**
 * Push sigmoid backward `dx = dy·y·(1 − y)` (one dispatch).
 *
 * @param plan The step plan.
 * @param y The forward output (probabilities).
 * @param dy Gradient w.r.t. the probabilities.
 * @param dx Receives the gradient w.r.t. the logits (may share `dy`'s buffer, not `y`'s).
 * @returns The dispatches (one per row chunk when a view exceeds the binding limit).
 * @throws {TypeError} When a view is invalid, the shapes differ, or `dx` shares `y`'s buffer.
 */
export function sigmoidBackward(
  plan: StepPlan,
  y: TensorView,
  dy: TensorView,
  dx: TensorView,
): Dispatch[] {
  const op = "sigmoidBackward";
  const l = sameShapeLayouts(op, { y, dy, dx });
  checkElementCount(op, l.y);
  if (dx.buffer === y.buffer) {
    throw new TypeError(`Cannot run ${op}: dx shares the forward output's buffer`);
  }
  const inPlace = dx.buffer === dy.buffer;
  const spec = sigmoidBackwardSpec({ inPlace, vec: vecFor(l.y.spatial) });
  const vec = vecFor(l.y.spatial);
  const tensors = {
    y: rowTensor(y, l.y, vec),
    dy: rowTensor(dy, l.dy, vec),
    dx: rowTensor(dx, l.dx, vec),
  };
  return pushRowChunks(plan, op, l.y.n, l.y.c, tensors, (ch, w) => {
    if (inPlace) [w.dy, w.dx] = mergeWindows(op, w.dy, w.dx);
    const buffers: Record<string, BufferArg> = inPlace
      ? { y: w.y.binding, grad: w.dy.binding }
      : { y: w.y.binding, dy: w.dy.binding, dx: w.dx.binding };
    return plan.push(spec, buffers, {
      S: l.y.spatial,
      ...chunkExtent(ch),
      ...windowFields("y", l.y, w.y),
      ...windowFields("dy", l.dy, w.dy),
      ...windowFields("dx", l.dx, w.dx),
    });
  });
}
