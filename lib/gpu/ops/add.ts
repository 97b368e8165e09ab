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
import {
  checkElementCount,
  checkNoWriteAlias,
  chunkExtent,
  pushRowChunks,
  rowTensor,
  sameShapeLayouts,
  windowFields,
} from "./reduce.ts";

/**
 * Push `y += x` (one dispatch, or one per row chunk when a view exceeds the plan's binding
 * limit).
 *
 * @param plan The step plan.
 * @param x Addend view `[N, C, D, H, W]`.
 * @param y Accumulator view of the same shape, in another buffer.
 * @returns The dispatches.
 * @throws {TypeError} When a view is invalid, the shapes differ, or `y` shares `x`'s buffer.
 * @throws {RangeError} When one row does not fit a binding.
 */
export function addInto(plan: StepPlan, x: TensorView, y: TensorView): Dispatch[] {
  const op = "addInto";
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
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
      plan.push(addIntoSpec(vec), { x: w.x.binding, y: w.y.binding }, {
        S: l.x.spatial,
        ...chunkExtent(ch),
        ...windowFields("x", l.x, w.x),
        ...windowFields("y", l.y, w.y),
      }),
  );
}
