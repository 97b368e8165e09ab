/**
 * `y += x` on NCDHW views (gradient accumulation).
 *
 * @module
 */

import { addIntoSpec } from "../kernels/add.ts";
import { vecFor } from "../kernels/reduce.ts";
import type { Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { TensorView } from "../tensor.ts";
import { checkElementCount, checkNoWriteAlias, sameShapeLayouts, viewFields } from "./reduce.ts";

/**
 * Push `y += x` (one dispatch).
 *
 * @param plan The step plan.
 * @param x Addend view `[N, C, D, H, W]`.
 * @param y Accumulator view of the same shape, in another buffer.
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid, the shapes differ, or `y` shares `x`'s buffer.
 */
export function addInto(plan: StepPlan, x: TensorView, y: TensorView): Dispatch {
  const op = "addInto";
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
  checkNoWriteAlias(op, { y: y.buffer }, { x: x.buffer });
  const vec = vecFor(l.x.spatial);
  return plan.push(addIntoSpec(vec), { x: x.buffer, y: y.buffer }, {
    S: l.x.spatial,
    C: l.x.c,
    N: l.x.n,
    ...viewFields("x", l.x),
    ...viewFields("y", l.y),
  });
}
