/**
 * LeakyReLU ops on NCDHW views: `y = x > 0 ? x : slope·x` and its backward. Output views may
 * share the input's buffer (in place, or another channel slice of it).
 *
 * @module
 */

import { leakyReluBackwardSpec, leakyReluForwardSpec } from "../kernels/leaky_relu.ts";
import { vecFor } from "../kernels/reduce.ts";
import type { Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { TensorView } from "../tensor.ts";
import { checkElementCount, sameShapeLayouts, viewFields } from "./reduce.ts";

/** Options of the LeakyReLU ops. */
export interface LeakyReluOptions {
  /** Negative slope. @default 0.01 */
  slope?: number;
}

/**
 * Push LeakyReLU forward `y = x > 0 ? x : slope·x` (one dispatch).
 *
 * @param plan The step plan.
 * @param x Input view `[N, C, D, H, W]`.
 * @param y Output view of the same shape (may be `x` itself or a slice of its buffer).
 * @param options Slope.
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid or the shapes differ.
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
): Dispatch {
  const op = "leakyReluForward";
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
  checkElementCount(op, l.y);
  const inPlace = x.buffer === y.buffer;
  const spec = leakyReluForwardSpec({ inPlace, vec: vecFor(l.x.spatial) });
  const uniforms = {
    S: l.x.spatial,
    C: l.x.c,
    N: l.x.n,
    ...viewFields("x", l.x),
    ...viewFields("y", l.y),
    slope: options.slope ?? 0.01,
  };
  const buffers: Record<string, GPUBuffer> = inPlace
    ? { xy: x.buffer }
    : { x: x.buffer, y: y.buffer };
  return plan.push(spec, buffers, uniforms);
}

/**
 * Push LeakyReLU backward `dx = dy · (x > 0 ? 1 : slope)` (one dispatch).
 *
 * @param plan The step plan.
 * @param x The forward input view.
 * @param dy Gradient of the output.
 * @param dx Receives the gradient of the input (may share `dy`'s buffer, not `x`'s).
 * @param options Slope.
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid, the shapes differ, or `dx` shares `x`'s buffer.
 */
export function leakyReluBackward(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dx: TensorView,
  options: LeakyReluOptions = {},
): Dispatch {
  const op = "leakyReluBackward";
  const l = sameShapeLayouts(op, { x, dy, dx });
  checkElementCount(op, l.x);
  if (dx.buffer === x.buffer) {
    throw new TypeError(`Cannot run ${op}: dx shares the forward input's buffer`);
  }
  const inPlace = dx.buffer === dy.buffer;
  const spec = leakyReluBackwardSpec({ inPlace, vec: vecFor(l.x.spatial) });
  const uniforms = {
    S: l.x.spatial,
    C: l.x.c,
    N: l.x.n,
    ...viewFields("x", l.x),
    ...viewFields("dy", l.dy),
    ...viewFields("dx", l.dx),
    slope: options.slope ?? 0.01,
  };
  const buffers: Record<string, GPUBuffer> = inPlace
    ? { x: x.buffer, grad: dy.buffer }
    : { x: x.buffer, dy: dy.buffer, dx: dx.buffer };
  return plan.push(spec, buffers, uniforms);
}
