/**
 * Instance normalisation ops (per sample and channel over D·H·W, learnable scale and shift),
 * optionally fused with LeakyReLU or PReLU, and the normalisation core that batch
 * normalisation shares (`batch_norm.ts`).
 *
 * Forward: 3 dispatches (statistics partials, statistics combine, normalise + activate).
 * Backward: 3 dispatches (partials of Σdz and Σdz·x̂, combine with the parameter gradients,
 * input gradient). Formulas in `lib/gpu/kernels/instance_norm.ts`.
 *
 * @module
 */

import type { ActivationKind } from "../kernels/activation.ts";
import {
  normApplySpec,
  normBackwardCombineSpec,
  normBackwardDxSpec,
  normBackwardPartialSpec,
  normPartialQuantities,
} from "../kernels/instance_norm.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import type { Shape5, TensorView, ViewLayout } from "../tensor.ts";
import {
  checkElementCount,
  checkNoWriteAlias,
  checkParam,
  chunkExtent,
  pushRowChunks,
  rowTensor,
  sameShape,
  sameShapeLayouts,
  windowFields,
} from "./reduce.ts";
import { type GroupBy, groupingOf, partialFields, segmentMeanVar } from "./segment_sum.ts";
import { MAX_PARTIALS_PER_GROUP, vecFor } from "../kernels/reduce.ts";

/** An activation fused after the affine transform of a normalisation. */
export type Activation =
  | { kind: "identity" }
  | {
    kind: "leakyRelu";
    /** Negative slope. @default 0.01 */
    slope?: number;
  }
  | {
    kind: "prelu";
    /** One slope per channel. */
    slope: BufferArg;
  };

/** What a normalisation forward leaves for its backward. */
export interface NormSaved {
  /** Shape of the normalised input. */
  readonly shape: Shape5;
  /** Mean per group (a scratch buffer of the plan, or the running mean). */
  readonly mean: BufferArg;
  /** Biased variance per group (scratch, or the running variance). */
  readonly variance: BufferArg;
  /** Groups: per sample (instance norm) or per channel (batch norm). */
  readonly groupBy: GroupBy;
  /** True when the statistics were computed from the input (they then depend on it). */
  readonly batchStats: boolean;
  /** The epsilon added to the variance. */
  readonly eps: number;
  /** The fused activation kind. */
  readonly activation: ActivationKind;
}

/** Learnable parameters and options of a normalisation forward. */
export interface NormForwardParams {
  /** Scale γ, one float per channel. */
  scale: BufferArg;
  /** Shift β, one float per channel. */
  shift: BufferArg;
  /** Added to the variance. @default 1e-5 */
  eps?: number;
  /** Activation fused after the affine transform. @default identity */
  activation?: Activation;
}

/** Parameters and gradient outputs of a normalisation backward. */
export interface NormBackwardParams {
  /** Scale γ (as in the forward). */
  scale: BufferArg;
  /** Shift β (as in the forward). */
  shift: BufferArg;
  /** Receives ∂L/∂γ per channel. */
  dscale: BufferArg;
  /** Receives ∂L/∂β per channel. */
  dshift: BufferArg;
  /** The activation fused in the forward (same kind and slope). @default identity */
  activation?: Activation;
  /** Receives ∂L/∂slope per channel (PReLU only, required then). */
  dslope?: BufferArg;
  /** Add the parameter gradients to the outputs instead of overwriting them. @default false */
  accumulate?: boolean;
}

/**
 * Push instance normalisation forward (3 dispatches):
 * `y = f(γ_c·(x − μ_nc)/√(σ²_nc + eps) + β_c)`, μ and σ² (biased) over D·H·W of each `(n, c)`.
 *
 * @param plan The step plan (statistics and partials live in its scratch buffers).
 * @param x Input view `[N, C, D, H, W]`.
 * @param y Output view of the same shape, in a different buffer.
 * @param params Scale, shift, eps, fused activation.
 * @returns What the backward needs.
 * @throws {TypeError} When a view or parameter is invalid, or `y` shares `x`'s buffer.
 * @example
 * ```ts ignore
 * const saved = instanceNormForward(plan, x, y, {
 *   scale: store.param("enc1.norm0.scale"),
 *   shift: store.param("enc1.norm0.shift"),
 *   activation: { kind: "leakyRelu", slope: 0.01 },
 * });
 * ```
 */
export function instanceNormForward(
  plan: StepPlan,
  x: TensorView,
  y: TensorView,
  params: NormForwardParams,
): NormSaved {
  const op = "instanceNormForward";
  const { l } = checkNormApply(x, y, params, op);
  const groups = l.x.n * l.x.c;
  const mean = plan.scratch(groups * 4, `${op}.mean`);
  const variance = plan.scratch(groups * 4, `${op}.variance`);
  segmentMeanVar(plan, x, { mean, variance }, { groupBy: "sample" });
  const saved: NormSaved = {
    shape: x.shape,
    mean,
    variance,
    groupBy: "sample",
    batchStats: true,
    eps: params.eps ?? 1e-5,
    activation: params.activation?.kind ?? "identity",
  };
  normApply(plan, x, y, saved, params, op);
  return saved;
}

/**
 * Push instance normalisation backward (3 dispatches): `dx`, `dγ`, `dβ` (and the PReLU slope
 * gradient when fused). `dy` is the gradient of the forward's output `y` (after the fused
 * activation).
 *
 * @param plan The step plan.
 * @param x The forward input view.
 * @param dy Gradient of the output.
 * @param dx Receives the input gradient (a buffer of its own).
 * @param saved The forward's result.
 * @param params Parameters and gradient outputs.
 * @returns The dispatches.
 * @throws {TypeError} When shapes disagree with the forward, a parameter is missing or too
 *   small, or an output aliases an input.
 */
export function instanceNormBackward(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dx: TensorView,
  saved: NormSaved,
  params: NormBackwardParams,
): Dispatch[] {
  return normBackward(plan, x, dy, dx, saved, params, "instanceNormBackward");
}

/**
 * Push the normalise-scale-shift-activate dispatch with given statistics (shared by instance
 * and batch normalisation).
 *
 * @param plan The step plan.
 * @param x Input view.
 * @param y Output view.
 * @param stats Statistics and grouping (a {@linkcode NormSaved}).
 * @param params Scale, shift, activation.
 * @param op Op name for errors.
 * @returns The dispatches (one per row chunk when a view exceeds the binding limit).
 * @throws {TypeError} When a view or parameter is invalid or `y` shares a buffer it may not.
 */
export function normApply(
  plan: StepPlan,
  x: TensorView,
  y: TensorView,
  stats: NormSaved,
  params: NormForwardParams,
  op: string,
): Dispatch[] {
  const { l, inputs } = checkNormApply(x, y, params, op);
  const groups = _groups(l.x, stats.groupBy);
  checkParam(op, "mean", stats.mean, groups);
  checkParam(op, "variance", stats.variance, groups);
  checkNoWriteAlias(op, { y: y.buffer }, { mean: stats.mean, variance: stats.variance });
  const act = params.activation ?? { kind: "identity" };
  const spec = normApplySpec({ activation: act.kind, vec: vecFor(l.x.spatial) });
  const vec = vecFor(l.x.spatial);
  const tensors = { x: rowTensor(x, l.x, vec), y: rowTensor(y, l.y, vec) };
  return pushRowChunks(plan, op, l.x.n, l.x.c, tensors, (ch, w) =>
    plan.push(spec, {
      ...inputs,
      x: w.x.binding,
      mean: stats.mean,
      variance: stats.variance,
      y: w.y.binding,
    }, {
      S: l.x.spatial,
      ...chunkExtent(ch),
      ...windowFields("x", l.x, w.x),
      ...windowFields("y", l.y, w.y),
      gStrideN: stats.groupBy === "sample" ? l.x.c : 0,
      eps: stats.eps,
      slope: act.kind === "leakyRelu" ? act.slope ?? 0.01 : 0,
    }));
}

/**
 * Validate the views and parameters of a normalisation forward before anything is pushed.
 *
 * @param x Input view.
 * @param y Output view.
 * @param params Scale, shift, activation.
 * @param op Op name for errors.
 * @returns The layouts and the read-only parameter bindings.
 * @throws {TypeError} When a view or parameter is invalid or `y` shares a buffer it may not.
 */
export function checkNormApply(
  x: TensorView,
  y: TensorView,
  params: NormForwardParams,
  op: string,
): { l: Record<"x" | "y", ViewLayout>; inputs: Record<string, BufferArg> } {
  const l = sameShapeLayouts(op, { x, y });
  checkElementCount(op, l.x);
  checkElementCount(op, l.y);
  const act = params.activation ?? { kind: "identity" };
  checkParam(op, "scale", params.scale, l.x.c);
  checkParam(op, "shift", params.shift, l.x.c);
  const inputs: Record<string, BufferArg> = {
    x: x.buffer,
    scale: params.scale,
    shift: params.shift,
  };
  if (act.kind === "prelu") {
    checkParam(op, "activation.slope", act.slope, l.x.c);
    inputs.slope = act.slope;
  }
  checkNoWriteAlias(op, { y: y.buffer }, inputs);
  return { l, inputs };
}

/**
 * Push a normalisation backward (3 dispatches) for statistics described by `saved` (shared by
 * instance and batch normalisation).
 *
 * @param plan The step plan.
 * @param x The forward input view.
 * @param dy Gradient of the output.
 * @param dx Receives the input gradient.
 * @param saved The forward's result.
 * @param params Parameters and gradient outputs.
 * @param op Op name for errors.
 * @returns The dispatches.
 * @throws {TypeError} When shapes disagree with the forward, a parameter is missing or too
 *   small, or an output aliases an input.
 * @throws {RangeError} When a channel has more partials than one invocation may merge.
 */
export function normBackward(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dx: TensorView,
  saved: NormSaved,
  params: NormBackwardParams,
  op: string,
): Dispatch[] {
  const l = sameShapeLayouts(op, { x, dy, dx });
  checkElementCount(op, l.x);
  if (!sameShape(x.shape, saved.shape)) {
    throw new TypeError(
      `Cannot run ${op}: x has shape ${JSON.stringify(x.shape)}, the forward saw ` +
        JSON.stringify(saved.shape),
    );
  }
  const act = params.activation ?? { kind: "identity" };
  if (act.kind !== saved.activation) {
    throw new TypeError(
      `Cannot run ${op}: activation "${act.kind}" differs from the forward's "${saved.activation}"`,
    );
  }
  const C = l.x.c;
  const grouping = groupingOf(l.x, saved.groupBy);
  const groups = grouping.groups;
  if (l.x.n * grouping.parts > MAX_PARTIALS_PER_GROUP) {
    throw new RangeError(
      `Cannot run ${op}: ${l.x.n * grouping.parts} partials per channel exceed ` +
        MAX_PARTIALS_PER_GROUP,
    );
  }
  for (const [name, arg] of Object.entries({ scale: params.scale, shift: params.shift })) {
    checkParam(op, name, arg, C);
  }
  checkParam(op, "dscale", params.dscale, C);
  checkParam(op, "dshift", params.dshift, C);
  checkParam(op, "mean", saved.mean, groups);
  checkParam(op, "variance", saved.variance, groups);
  const common: Record<string, BufferArg> = {
    x: x.buffer,
    dy: dy.buffer,
    mean: saved.mean,
    variance: saved.variance,
    scale: params.scale,
    shift: params.shift,
  };
  const grads: Record<string, BufferArg> = { dscale: params.dscale, dshift: params.dshift };
  if (act.kind === "prelu") {
    checkParam(op, "activation.slope", act.slope, C);
    if (!params.dslope) throw new TypeError(`Cannot run ${op}: dslope is missing for PReLU`);
    checkParam(op, "dslope", params.dslope, C);
    common.slope = act.slope;
    grads.dslope = params.dslope;
  }
  checkNoWriteAlias(op, { dx: dx.buffer }, common);
  checkNoWriteAlias(op, grads, {});
  const rows = l.x.n * C;
  const q = normPartialQuantities(act.kind);
  const part = plan.scratch(rows * grouping.parts * q * 4, `${op}.part`);
  const coef = plan.scratch(groups * 2 * 4, `${op}.coef`);
  const gStrideN = saved.groupBy === "sample" ? C : 0;
  const slope = act.kind === "leakyRelu" ? act.slope ?? 0.01 : 0;
  const vec = grouping.vec;
  const partialSpec = normBackwardPartialSpec({ activation: act.kind, vec });
  const inT = { x: rowTensor(x, l.x, vec), dy: rowTensor(dy, l.dy, vec) };
  const d1 = pushRowChunks(
    plan,
    op,
    l.x.n,
    C,
    inT,
    (ch, w) =>
      plan.push(partialSpec, { ...common, x: w.x.binding, dy: w.dy.binding, part }, {
        ...partialFields(l.x, grouping),
        ...windowFields("x", l.x, w.x),
        ...windowFields("dy", l.dy, w.dy),
        r0: ch.r0,
        rows: ch.r1,
        gStrideN,
        eps: saved.eps,
        slope,
      }),
  );
  const d2 = plan.push(normBackwardCombineSpec({ activation: act.kind }), {
    part,
    coef,
    ...grads,
  }, {
    C,
    N: l.x.n,
    parts: grouping.parts,
    perSample: saved.groupBy === "sample" ? 1 : 0,
    invCount: 1 / grouping.count,
    k: saved.batchStats ? 1 : 0,
    accumulate: params.accumulate ? 1 : 0,
    one: 1,
  });
  const dxSpec = normBackwardDxSpec({ activation: act.kind, vec });
  const allT = { ...inT, dx: rowTensor(dx, l.dx, vec) };
  const d3 = pushRowChunks(plan, op, l.x.n, C, allT, (ch, w) =>
    plan.push(dxSpec, {
      ...common,
      x: w.x.binding,
      dy: w.dy.binding,
      coef,
      dx: w.dx.binding,
    }, {
      S: l.x.spatial,
      ...chunkExtent(ch),
      ...windowFields("x", l.x, w.x),
      ...windowFields("dy", l.dy, w.dy),
      ...windowFields("dx", l.dx, w.dx),
      gStrideN,
      eps: saved.eps,
      slope,
    }));
  return [...d1, d2, ...d3];
}

function _groups(l: ViewLayout, groupBy: GroupBy): number {
  return groupBy === "sample" ? l.n * l.c : l.c;
}
