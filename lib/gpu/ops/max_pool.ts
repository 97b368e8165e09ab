/**
 * Max-pooling ops with anisotropic windows (2×2×2, 2×2×1, …; stride = window, no padding,
 * floor mode: trailing planes that do not fill a window are dropped, as in PyTorch's default).
 * The forward saves the window-local argmax per output voxel; the backward routes the
 * gradient to it (ties → the first voxel of the window in (d, h, w) order) and writes zeros
 * everywhere else.
 *
 * @module
 */

import {
  maxPoolBackwardSpec,
  maxPoolForwardSpec,
  maxPoolVec,
  type PoolWindow,
} from "../kernels/max_pool.ts";
import type { Vec } from "../kernels/reduce.ts";
import type { Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import {
  layoutOf,
  type RowTensor,
  type Shape5,
  type TensorView,
  type ViewLayout,
} from "../tensor.ts";
import {
  checkNoWriteAlias,
  pushRowChunks,
  rowTensor,
  sameShape,
  windowBindings,
  windowFields,
} from "./reduce.ts";

export type { PoolWindow };

/** Options of the max-pool ops. */
export interface MaxPoolOptions {
  /** Window (= stride) `[kD, kH, kW]`, each 1…4. @default [2, 2, 2] */
  window?: PoolWindow;
}

/** What {@linkcode maxPoolForward} leaves for the backward. */
export interface MaxPoolSaved {
  /** Input shape. */
  readonly inputShape: Shape5;
  /** Output shape. */
  readonly outputShape: Shape5;
  /** The window. */
  readonly window: PoolWindow;
  /**
   * Window-local argmax per output voxel (plan scratch): dense `[N, C, Do, Ho, Wo]` u32 when
   * `vec` is 1, four 8-bit indices per u32 (`[N, C, Do, Ho, Wo/4]`) when it is 4.
   */
  readonly indices: GPUBuffer;
  /** Kernel variant (the backward uses the forward's). */
  readonly vec: Vec;
}

/**
 * Output shape of a max-pool: `[N, C, ⌊D/kD⌋, ⌊H/kH⌋, ⌊W/kW⌋]`.
 *
 * @param input Input shape.
 * @param window The window.
 * @returns The output shape.
 * @throws {RangeError} When a dimension is smaller than its window (empty output).
 */
export function maxPoolOutputShape(input: Shape5, window: PoolWindow): Shape5 {
  const [n, c, d, h, w] = input;
  const out: Shape5 = [
    n,
    c,
    Math.floor(d / window[0]),
    Math.floor(h / window[1]),
    Math.floor(w / window[2]),
  ];
  if (out.some((v) => v < 1)) {
    throw new RangeError(
      `Cannot max-pool shape ${JSON.stringify(input)} with window ${JSON.stringify(window)}: ` +
        `output ${JSON.stringify(out)} is empty`,
    );
  }
  return out;
}

/**
 * Push max-pool forward (one dispatch).
 *
 * @param plan The step plan (the argmax buffer is its scratch).
 * @param x Input view `[N, C, D, H, W]`.
 * @param y Output view `[N, C, ⌊D/kD⌋, ⌊H/kH⌋, ⌊W/kW⌋]`, in a buffer other than `x`'s.
 * @param options The window.
 * @returns What the backward needs.
 * @throws {TypeError} When a view is invalid, `y` has the wrong shape or shares `x`'s buffer.
 * @throws {RangeError} For an unsupported window or an empty output.
 * @example
 * ```ts ignore
 * const saved = maxPoolForward(plan, skip1, pooled, { window: [2, 2, 1] });
 * ```
 */
export function maxPoolForward(
  plan: StepPlan,
  x: TensorView,
  y: TensorView,
  options: MaxPoolOptions = {},
): MaxPoolSaved {
  const op = "maxPoolForward";
  const window = options.window ?? [2, 2, 2];
  const lx = layoutOf(x, `${op} x`);
  const ly = layoutOf(y, `${op} y`);
  const outShape = maxPoolOutputShape(x.shape, window);
  if (!sameShape(y.shape, outShape)) {
    throw new TypeError(
      `Cannot run ${op}: y has shape ${JSON.stringify(y.shape)}, expected ${
        JSON.stringify(outShape)
      }`,
    );
  }
  checkNoWriteAlias(op, { y: y.buffer }, { x: x.buffer });
  const vec = maxPoolVec(lx.w, window[2]);
  _checkGrid(op, lx.n * lx.c, ly.d, (ly.h * ly.w) / vec);
  const indices = plan.scratch((ly.n * ly.c * ly.spatial * 4) / vec, `${op}.indices`);
  const tensors = {
    x: rowTensor(x, lx, vec),
    y: rowTensor(y, ly, vec),
    indices: _indexTensor(indices, lx.c, ly, vec),
  };
  pushRowChunks(
    plan,
    op,
    lx.n,
    lx.c,
    tensors,
    (ch, w) =>
      plan.push(maxPoolForwardSpec(window, vec), windowBindings(w), {
        NC: ch.nn * ch.cc,
        C: ch.cc,
        D: lx.d,
        H: lx.h,
        W: lx.w,
        Do: ly.d,
        Ho: ly.h,
        Wo: ly.w,
        Dg: ly.d,
        Hg: ly.h,
        ...windowFields("a", lx, w.x, true),
        ...windowFields("b", ly, w.y, true),
        iOff: w.indices.offRel,
      }),
  );
  return { inputShape: x.shape, outputShape: outShape, window, indices, vec };
}

/**
 * Push max-pool backward (one dispatch): every element of `dx` is written.
 *
 * @param plan The step plan.
 * @param dy Gradient of the pooled output.
 * @param dx Receives the gradient of the input (a buffer other than `dy`'s).
 * @param saved The forward's result.
 * @returns The dispatch.
 * @throws {TypeError} When the shapes disagree with the forward or `dx` shares `dy`'s buffer.
 */
export function maxPoolBackward(
  plan: StepPlan,
  dy: TensorView,
  dx: TensorView,
  saved: MaxPoolSaved,
): Dispatch[] {
  const op = "maxPoolBackward";
  const ldy = layoutOf(dy, `${op} dy`);
  const ldx = layoutOf(dx, `${op} dx`);
  if (!sameShape(dy.shape, saved.outputShape) || !sameShape(dx.shape, saved.inputShape)) {
    throw new TypeError(
      `Cannot run ${op}: dy ${JSON.stringify(dy.shape)} and dx ${JSON.stringify(dx.shape)} ` +
        `do not match the forward (${JSON.stringify(saved.outputShape)}, ` +
        `${JSON.stringify(saved.inputShape)})`,
    );
  }
  checkNoWriteAlias(op, { dx: dx.buffer }, { dy: dy.buffer, indices: saved.indices });
  const [kd, kh, kw] = saved.window;
  const Dg = Math.ceil(ldx.d / kd);
  const Hg = Math.ceil(ldx.h / kh);
  const Wg = saved.vec === 1 ? Math.ceil(ldx.w / kw) : ldy.w / 4;
  _checkGrid(op, ldx.n * ldx.c, Dg, Hg * Wg);
  const tensors = {
    dy: rowTensor(dy, ldy, saved.vec),
    indices: _indexTensor(saved.indices, ldx.c, ldy, saved.vec),
    dx: rowTensor(dx, ldx, saved.vec),
  };
  return pushRowChunks(
    plan,
    op,
    ldx.n,
    ldx.c,
    tensors,
    (ch, w) =>
      plan.push(maxPoolBackwardSpec(saved.window, saved.vec), windowBindings(w), {
        NC: ch.nn * ch.cc,
        C: ch.cc,
        D: ldx.d,
        H: ldx.h,
        W: ldx.w,
        Do: ldy.d,
        Ho: ldy.h,
        Wo: ldy.w,
        Dg,
        Hg,
        ...windowFields("a", ldx, w.dx, true),
        ...windowFields("b", ldy, w.dy, true),
        iOff: w.indices.offRel,
      }),
  );
}

// The argmax buffer: one u32 per output element (per 4 with vec4), rows (n, c) in order.
function _indexTensor(indices: GPUBuffer, c: number, ly: ViewLayout, vec: number): RowTensor {
  return { buffer: indices, cTot: c, cOff: 0, plane: ly.spatial / vec };
}

function _checkGrid(op: string, nc: number, depth: number, plane: number): void {
  if (nc > 65535 || depth > 65535 || Math.ceil(plane / 64) > 65535) {
    throw new RangeError(`Cannot run ${op}: N·C = ${nc}, depth ${depth} exceed the grid`);
  }
}
