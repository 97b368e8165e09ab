/**
 * Nearest-neighbour upsampling ops with integer, possibly anisotropic factors (2×2×1, 2×2×2):
 * `y[…, d, h, w] = x[…, ⌊d/fD⌋, ⌊h/fH⌋, ⌊w/fW⌋]`; backward sums `dy` over each block. Both
 * sides are views, so the upsampled map can be written straight into a channel slice of the
 * decoder's concatenation buffer.
 *
 * @module
 */

import {
  upsampleBackwardSpec,
  type UpsampleFactor,
  upsampleForwardSpec,
  upsampleVec,
} from "../kernels/upsample.ts";
import type { Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import { layoutOf, type Shape5, type TensorView, type ViewLayout } from "../tensor.ts";
import {
  checkNoWriteAlias,
  pushRowChunks,
  rowTensor,
  sameShape,
  windowBindings,
  windowFields,
} from "./reduce.ts";

export type { UpsampleFactor };

/** Options of the upsampling ops. */
export interface UpsampleOptions {
  /** Factors `[fD, fH, fW]`, each 1…4. @default [2, 2, 2] */
  factor?: UpsampleFactor;
}

/**
 * Output shape of an upsampling: `[N, C, D·fD, H·fH, W·fW]`.
 *
 * @param input Input shape.
 * @param factor The factors.
 * @returns The output shape.
 */
export function upsampleOutputShape(input: Shape5, factor: UpsampleFactor): Shape5 {
  return [input[0], input[1], input[2] * factor[0], input[3] * factor[1], input[4] * factor[2]];
}

function _layouts(
  op: string,
  small: TensorView,
  large: TensorView,
  factor: UpsampleFactor,
  names: [string, string],
): [ViewLayout, ViewLayout] {
  const ls = layoutOf(small, `${op} ${names[0]}`);
  const ll = layoutOf(large, `${op} ${names[1]}`);
  const want = upsampleOutputShape(small.shape, factor);
  if (!sameShape(large.shape, want)) {
    throw new TypeError(
      `Cannot run ${op}: ${names[1]} has shape ${JSON.stringify(large.shape)}, expected ` +
        JSON.stringify(want),
    );
  }
  if (ls.n * ls.c > 65535 || ls.d > 65535 || Math.ceil((ls.h * ls.w) / 64) > 65535) {
    throw new RangeError(`Cannot run ${op}: shape ${JSON.stringify(small.shape)} exceeds the grid`);
  }
  return [ls, ll];
}

/**
 * Push nearest-neighbour upsampling forward (one dispatch).
 *
 * @param plan The step plan.
 * @param x Input view `[N, C, D, H, W]`.
 * @param y Output view `[N, C, D·fD, H·fH, W·fW]` in a buffer other than `x`'s.
 * @param options The factors.
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid, `y` has the wrong shape or shares `x`'s buffer.
 * @throws {RangeError} For an unsupported factor.
 * @example
 * ```ts ignore
 * // Write the upsampled bottom level into channels [0, 16) of the decoder's input buffer.
 * upsampleForward(plan, bottom, channelSlice(concat, [2, 32, 16, 16, 16], 0, 16));
 * ```
 */
export function upsampleForward(
  plan: StepPlan,
  x: TensorView,
  y: TensorView,
  options: UpsampleOptions = {},
): Dispatch[] {
  const op = "upsampleForward";
  const factor = options.factor ?? [2, 2, 2];
  const [lx, ly] = _layouts(op, x, y, factor, ["x", "y"]);
  checkNoWriteAlias(op, { y: y.buffer }, { x: x.buffer });
  const vec = upsampleVec(lx.w, factor[2]);
  const spec = upsampleForwardSpec(factor, vec);
  const tensors = { x: rowTensor(x, lx, vec), y: rowTensor(y, ly, vec) };
  return pushRowChunks(
    plan,
    op,
    lx.n,
    lx.c,
    tensors,
    (ch, w) =>
      plan.push(spec, windowBindings(w), {
        NC: ch.nn * ch.cc,
        C: ch.cc,
        D: lx.d,
        H: lx.h,
        W: lx.w,
        ...windowFields("x", lx, w.x, true),
        ...windowFields("y", ly, w.y, true),
      }),
  );
}

/**
 * Push nearest-neighbour upsampling backward (one dispatch): `dx` sums `dy` over each block.
 *
 * @param plan The step plan.
 * @param dy Gradient of the upsampled output `[N, C, D·fD, H·fH, W·fW]`.
 * @param dx Receives the input gradient `[N, C, D, H, W]` (a buffer other than `dy`'s).
 * @param options The factors.
 * @returns The dispatch.
 * @throws {TypeError} When a view is invalid, the shapes disagree or `dx` shares `dy`'s buffer.
 * @throws {RangeError} For an unsupported factor.
 */
export function upsampleBackward(
  plan: StepPlan,
  dy: TensorView,
  dx: TensorView,
  options: UpsampleOptions = {},
): Dispatch[] {
  const op = "upsampleBackward";
  const factor = options.factor ?? [2, 2, 2];
  const [lx, ly] = _layouts(op, dx, dy, factor, ["dx", "dy"]);
  checkNoWriteAlias(op, { dx: dx.buffer }, { dy: dy.buffer });
  const vec = upsampleVec(lx.w, factor[2]);
  const spec = upsampleBackwardSpec(factor, vec);
  const tensors = { dy: rowTensor(dy, ly, vec), dx: rowTensor(dx, lx, vec) };
  return pushRowChunks(
    plan,
    op,
    lx.n,
    lx.c,
    tensors,
    (ch, w) =>
      plan.push(spec, windowBindings(w), {
        NC: ch.nn * ch.cc,
        C: ch.cc,
        D: lx.d,
        H: lx.h,
        W: lx.w,
        ...windowFields("x", lx, w.dx, true),
        ...windowFields("y", ly, w.dy, true),
      }),
  );
}
