/**
 * PReLU ops (one learnable slope per channel) on NCDHW views: `y = x > 0 ? x : a_c·x`, and
 * the backward giving `dx` and `da_c = Σ_{n,s: x ≤ 0} dy·x`.
 *
 * @module
 */

import { partition, vecFor } from "../kernels/reduce.ts";
import { preluBackwardSpec, preluForwardSpec } from "../kernels/prelu.ts";
import { segmentSumCombine } from "../kernels/segment_sum.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { TensorView } from "../tensor.ts";
import {
  checkElementCount,
  checkNoWriteAlias,
  checkParam,
  chunkExtent,
  mergeWindows,
  pushRowChunks,
  rowTensor,
  sameShapeLayouts,
  windowFields,
} from "./reduce.ts";

/**
 * Push PReLU forward (one dispatch).
 *
 * @param plan The step plan.
 * @param x Input view `[N, C, D, H, W]`.
 * @param y Output view of the same shape (may be `x` itself or a slice of its buffer).
 * @param params `slope`: one float per channel.
 * @returns The dispatches (one per row chunk when a view exceeds the binding limit).
 * @throws {TypeError} When a view is invalid, the shapes differ, or `slope` is too small or
 *   shares the output's buffer.
 * @example
 * ```ts ignore
 * preluForward(plan, x, y, { slope: store.param("dec1.norm0.prelu") });
 * ```
 */
export function preluForward(
  plan: StepPlan,
  x: TensorView,
  y: TensorView,
  params: { slope: BufferArg },
): Dispatch[] {
  const op = "preluForward";
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
  checkElementCount(op, l.y);
  checkParam(op, "slope", params.slope, l.x.c);
  const inPlace = x.buffer === y.buffer;
  checkNoWriteAlias(op, { y: y.buffer }, { slope: params.slope });
  const spec = preluForwardSpec({ inPlace, vec: vecFor(l.x.spatial) });
  const vec = vecFor(l.x.spatial);
  const tensors = { x: rowTensor(x, l.x, vec), y: rowTensor(y, l.y, vec) };
  return pushRowChunks(plan, op, l.x.n, l.x.c, tensors, (ch, w) => {
    if (inPlace) [w.x, w.y] = mergeWindows(op, w.x, w.y);
    const buffers: Record<string, BufferArg> = inPlace
      ? { xy: w.x.binding, slope: params.slope }
      : { x: w.x.binding, y: w.y.binding, slope: params.slope };
    return plan.push(spec, buffers, {
      S: l.x.spatial,
      ...chunkExtent(ch),
      ...windowFields("x", l.x, w.x),
      ...windowFields("y", l.y, w.y),
    });
  });
}

/** Parameters of {@linkcode preluBackward}. */
export interface PreluBackwardParams {
  /** The slopes, one float per channel. */
  slope: BufferArg;
  /** Receives ∂L/∂slope per channel. */
  dslope: BufferArg;
  /** Add to `dslope` instead of overwriting it. @default false */
  accumulate?: boolean;
}

/**
 * Push PReLU backward (two dispatches: `dx` with slope-gradient partials, then their
 * per-channel combination).
 *
 * @param plan The step plan.
 * @param x The forward input view.
 * @param dy Gradient of the output.
 * @param dx Receives the input gradient (may share `dy`'s buffer, not `x`'s).
 * @param params Slope, its gradient output, accumulation.
 * @returns The dispatches.
 * @throws {TypeError} When a view is invalid, the shapes differ, a parameter is too small,
 *   or buffers alias where WebGPU forbids it.
 */
export function preluBackward(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dx: TensorView,
  params: PreluBackwardParams,
): Dispatch[] {
  const op = "preluBackward";
  const l = sameShapeLayouts(op, { x, dy, dx });
  checkElementCount(op, l.x);
  const C = l.x.c;
  checkParam(op, "slope", params.slope, C);
  checkParam(op, "dslope", params.dslope, C);
  const inPlace = dx.buffer === dy.buffer;
  checkNoWriteAlias(op, { dx: dx.buffer }, { x: x.buffer, slope: params.slope });
  const rows = l.x.n * C;
  const { parts, chunk, vec } = partition(l.x.spatial, rows);
  const part = plan.scratch(rows * parts * 4, `${op}.part`);
  const spec = preluBackwardSpec({ inPlace, vec });
  const tensors = {
    x: rowTensor(x, l.x, vec),
    dy: rowTensor(dy, l.dy, vec),
    dx: rowTensor(dx, l.dx, vec),
  };
  const d1 = pushRowChunks(plan, op, l.x.n, C, tensors, (ch, w) => {
    if (inPlace) [w.dy, w.dx] = mergeWindows(op, w.dy, w.dx);
    const buffers: Record<string, BufferArg> = inPlace
      ? { x: w.x.binding, grad: w.dy.binding, slope: params.slope, part }
      : { x: w.x.binding, dy: w.dy.binding, dx: w.dx.binding, slope: params.slope, part };
    return plan.push(spec, buffers, {
      SV: l.x.spatial / vec,
      C,
      ...windowFields("x", l.x, w.x),
      ...windowFields("dy", l.dy, w.dy),
      ...windowFields("dx", l.dx, w.dx),
      r0: ch.r0,
      rows: ch.r1,
      parts,
      chunkV: chunk / vec,
      one: 1,
    });
  });
  const d2 = plan.push(segmentSumCombine, { part, out: params.dslope }, {
    groups: C,
    C,
    parts,
    nLoop: l.x.n,
    q: 1,
    qi: 0,
    scale: 1,
    accumulate: params.accumulate ? 1 : 0,
    one: 1,
  });
  return [...d1, d2];
}
