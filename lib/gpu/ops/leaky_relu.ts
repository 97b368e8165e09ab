/**
 * LeakyReLU ops on NCDHW views: `y = x > 0 ? x : slope·x` and its backward. Output views may
 * share the input's buffer (in place, or another channel slice of it).
 *
 * @module
 */

import { leakyReluBackwardSpec, leakyReluForwardSpec } from "../kernels/leaky_relu.ts";
import { vecFor } from "../kernels/reduce.ts";
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

/** Options of the LeakyReLU ops. */
export interface LeakyReluOptions {
  /** Negative slope. @default 0.01 */
  slope?: number;
}

/**
 * Push LeakyReLU forward `y = x > 0 ? x : slope·x` (one dispatch, or one per row chunk when a
 * view exceeds the plan's binding limit).
 *
 * @param plan The step plan.
 * @param x Input view `[N, C, D, H, W]`.
 * @param y Output view of the same shape (may be `x` itself or a slice of its buffer).
 * @param options Slope.
 * @returns The dispatches.
 * @throws {TypeError} When a view is invalid or the shapes differ.
 * @throws {RangeError} When one row does not fit a binding.
 * @example
 * ```ts ignore
 * leakyReluForward(plan, view(xBuf, [2, 8, 16, 16, 16]), view(yBuf, [2, 8, 16, 16, 16]));
 * ```
 */
export function leakyReluForward(
  plan: StepPlan,
  x: TensorView,
  y: TensorView,
  options: LeakyReluOptions = {},
): Dispatch[] {
  const op = "leakyReluForward";
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
  checkElementCount(op, l.y);
  const inPlace = x.buffer === y.buffer;
  const spec = leakyReluForwardSpec({ inPlace, vec: vecFor(l.x.spatial) });
  const vec = vecFor(l.x.spatial);
  const tensors = { x: rowTensor(x, l.x, vec), y: rowTensor(y, l.y, vec) };
  return pushRowChunks(plan, op, l.x.n, l.x.c, tensors, (ch, w) => {
    if (inPlace) [w.x, w.y] = mergeWindows(op, w.x, w.y);
    return plan.push(spec, inPlace ? { xy: w.x.binding } : { x: w.x.binding, y: w.y.binding }, {
      S: l.x.spatial,
      ...chunkExtent(ch),
      ...windowFields("x", l.x, w.x),
      ...windowFields("y", l.y, w.y),
      slope: options.slope ?? 0.01,
    });
  });
}

/**
 * Push LeakyReLU backward `dx = dy · (x > 0 ? 1 : slope)` (one dispatch, or one per row chunk).
 *
 * @param plan The step plan.
 * @param x The forward input view.
 * @param dy Gradient of the output.
 * @param dx Receives the gradient of the input (may share `dy`'s buffer, not `x`'s).
 * @param options Slope.
 * @returns The dispatches.
 * @throws {TypeError} When a view is invalid, the shapes differ, or `dx` shares `x`'s buffer.
 * @throws {RangeError} When one row does not fit a binding.
 */
export function leakyReluBackward(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dx: TensorView,
  options: LeakyReluOptions = {},
): Dispatch[] {
  const op = "leakyReluBackward";
  const l = sameShapeLayouts(op, { x, dy, dx });
  checkElementCount(op, l.x);
  if (dx.buffer === x.buffer) {
    throw new TypeError(`Cannot run ${op}: dx shares the forward input's buffer`);
  }
  const inPlace = dx.buffer === dy.buffer;
  const spec = leakyReluBackwardSpec({ inPlace, vec: vecFor(l.x.spatial) });
  const vec = vecFor(l.x.spatial);
  const tensors = {
    x: rowTensor(x, l.x, vec),
    dy: rowTensor(dy, l.dy, vec),
    dx: rowTensor(dx, l.dx, vec),
  };
  return pushRowChunks(plan, op, l.x.n, l.x.c, tensors, (ch, w) => {
    if (inPlace) [w.dy, w.dx] = mergeWindows(op, w.dy, w.dx);
    const buffers: Record<string, BufferArg> = inPlace
      ? { x: w.x.binding, grad: w.dy.binding }
      : { x: w.x.binding, dy: w.dy.binding, dx: w.dx.binding };
    return plan.push(spec, buffers, {
      S: l.x.spatial,
      ...chunkExtent(ch),
      ...windowFields("x", l.x, w.x),
      ...windowFields("dy", l.dy, w.dy),
      ...windowFields("dx", l.dx, w.dx),
      slope: options.slope ?? 0.01,
    });
  });
}
