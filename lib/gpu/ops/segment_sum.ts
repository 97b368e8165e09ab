/**
 * Segmented reductions of NCDHW views as step-plan ops: sums (or means) and mean/variance per
 * sample and channel (`groupBy: "sample"`, segments of D·H·W elements) or per channel over
 * the batch (`groupBy: "channel"`, N·D·H·W elements). Two dispatches each: per-chunk partials
 * (Kahan-compensated sums; Welford's update for mean and M2), then one invocation per group
 * merging them (compensated; M2 around the final mean). See `lib/gpu/kernels/segment_sum.ts`.
 *
 * @module
 */

import { MAX_PARTIALS_PER_GROUP, partition, type Vec } from "../kernels/reduce.ts";
import {
  segmentStatsCombineSpec,
  segmentStatsPartialSpec,
  segmentSumCombine,
  segmentSumPartialSpec,
} from "../kernels/segment_sum.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import { layoutOf, type TensorView, type ViewLayout } from "../tensor.ts";
import {
  checkElementCount,
  checkNoWriteAlias,
  checkParam,
  pushRowChunks,
  rowTensor,
  windowFields,
} from "./reduce.ts";

/** What a group is: one `(n, c)` segment, or channel `c` over the whole batch. */
export type GroupBy = "sample" | "channel";

/** Grouping of a reduction over a view, as the kernels see it. */
export interface Grouping {
  /** Number of groups (`N·C` per sample, `C` per channel). */
  groups: number;
  /** Rows (segments) per group (`1` per sample, `N` per channel). */
  nLoop: number;
  /** Elements per group. */
  count: number;
  /** Chunks per segment. */
  parts: number;
  /** Floats per chunk (a multiple of `vec`). */
  chunk: number;
  /** Vector width of the partial kernels. */
  vec: Vec;
}

/**
 * Grouping and chunking of a reduction over a view.
 *
 * @param l The view's layout.
 * @param groupBy Per sample or per channel.
 * @returns Group count, rows per group, elements per group and the chunk partition.
 */
export function groupingOf(l: ViewLayout, groupBy: GroupBy): Grouping {
  const { parts, chunk, vec } = partition(l.spatial, l.n * l.c);
  const perSample = groupBy === "sample";
  const nLoop = perSample ? 1 : l.n;
  if (nLoop * parts > MAX_PARTIALS_PER_GROUP) {
    throw new RangeError(
      `Cannot reduce shape [${l.n}, ${l.c}, ${l.d}, ${l.h}, ${l.w}] per ${groupBy}: ` +
        `${nLoop * parts} partials per group exceed ${MAX_PARTIALS_PER_GROUP}`,
    );
  }
  return {
    groups: perSample ? l.n * l.c : l.c,
    nLoop,
    count: perSample ? l.spatial : l.n * l.spatial,
    parts,
    chunk,
    vec,
  };
}

/**
 * Uniforms of a partial kernel over view `x` (`SV`, `chunkV` in vector elements).
 *
 * @param l The view's layout.
 * @param g Its grouping.
 * @returns The uniform values shared by every partial kernel.
 */
export function partialFields(
  l: ViewLayout,
  g: Grouping,
): {
  SV: number;
  C: number;
  r0: number;
  rows: number;
  parts: number;
  chunkV: number;
  one: number;
} {
  return {
    SV: l.spatial / g.vec,
    C: l.c,
    r0: 0,
    rows: l.n * l.c,
    parts: g.parts,
    chunkV: g.chunk / g.vec,
    one: 1,
  };
}

/** Outputs of {@linkcode segmentMeanVar}: one float per group each. */
export interface MeanVarOutputs {
  /** Receives the mean of each group. */
  mean: BufferArg;
  /** Receives the biased variance (Σ(x − mean)² / count) of each group. */
  variance: BufferArg;
}

/** Options of {@linkcode segmentMeanVar}. */
export interface MeanVarOptions {
  /** Group per `(n, c)` or per channel. @default "sample" */
  groupBy?: GroupBy;
  /**
   * Also update running statistics (PyTorch batch-norm convention):
   * `r ← (1 − momentum)·r + momentum·v`, with the unbiased variance `Σ(x − mean)²/(count − 1)`.
   * @default not updated
   */
  running?: { mean: BufferArg; variance: BufferArg; momentum: number };
}

/**
 * Push the mean and variance of each group of a view (two dispatches; the partial pass is
 * split into row chunks when the view exceeds the plan's binding limit, which changes no sum). Group `g` is
 * `n·C + c` per sample, `c` per channel.
 *
 * @param plan The step plan (partials go to a scratch buffer of the plan).
 * @param x Input view `[N, C, D, H, W]`.
 * @param out Mean and variance buffers (at least one float per group each).
 * @param options Grouping and running statistics.
 * @returns The two dispatches.
 * @throws {TypeError} When the view is invalid, a buffer is too small or aliases another.
 * @throws {RangeError} When running statistics are requested for groups of one element,
 *   `momentum` is outside [0, 1], or a group has too many partials.
 * @example
 * ```ts ignore
 * segmentMeanVar(plan, view(x, [2, 4, 48, 192, 192]), { mean, variance });
 * ```
 */
export function segmentMeanVar(
  plan: StepPlan,
  x: TensorView,
  out: MeanVarOutputs,
  options: MeanVarOptions = {},
): Dispatch[] {
  const op = "segmentMeanVar";
  const l = layoutOf(x, `${op} x`);
  checkElementCount(op, l);
  const g = groupingOf(l, options.groupBy ?? "sample");
  checkParam(op, "mean", out.mean, g.groups);
  checkParam(op, "variance", out.variance, g.groups);
  const running = options.running;
  if (running) {
    checkParam(op, "running.mean", running.mean, g.groups);
    checkParam(op, "running.variance", running.variance, g.groups);
    if (g.count < 2) {
      throw new RangeError(`Cannot run ${op}: running variance needs more than 1 value per group`);
    }
    if (!(running.momentum >= 0 && running.momentum <= 1)) {
      throw new RangeError(`Cannot run ${op}: momentum ${running.momentum} is outside [0, 1]`);
    }
  }
  const written: Record<string, BufferArg> = { mean: out.mean, variance: out.variance };
  if (running) {
    written.runningMean = running.mean;
    written.runningVar = running.variance;
  }
  checkNoWriteAlias(op, written, {});
  const rows = l.n * l.c;
  const part = plan.scratch(rows * g.parts * 8, `${op}.part`);
  const d1 = pushRowChunks(
    plan,
    op,
    l.n,
    l.c,
    { x: rowTensor(x, l, g.vec) },
    (ch, w) =>
      plan.push(segmentStatsPartialSpec(g.vec), { x: w.x.binding, part }, {
        ...partialFields(l, g),
        ...windowFields("x", l, w.x),
        r0: ch.r0,
        rows: ch.r1,
      }),
  );
  const d2 = plan.push(segmentStatsCombineSpec({ running: Boolean(running) }), {
    part,
    ...written,
  }, {
    groups: g.groups,
    S: l.spatial,
    C: l.c,
    parts: g.parts,
    chunk: g.chunk,
    nLoop: g.nLoop,
    one: 1,
    momentum: running?.momentum ?? 0,
  });
  return [...d1, d2];
}

/** Options of {@linkcode segmentSum}. */
export interface SegmentSumOptions {
  /** Group per `(n, c)` or per channel. @default "sample" */
  groupBy?: GroupBy;
  /** Divide by the group's element count. @default false */
  mean?: boolean;
  /** Add to `out` instead of overwriting it. @default false */
  accumulate?: boolean;
}

/**
 * Push the sum (or mean) of each group of a view (two dispatches). Group `g` is `n·C + c`
 * per sample, `c` per channel — e.g. a bias gradient is the per-channel sum of `dy`.
 *
 * @param plan The step plan.
 * @param x Input view `[N, C, D, H, W]`.
 * @param out Receives one float per group.
 * @param options Grouping, mean, accumulation.
 * @returns The two dispatches.
 * @throws {TypeError} When the view is invalid or `out` is too small or shares `x`'s buffer.
 */
export function segmentSum(
  plan: StepPlan,
  x: TensorView,
  out: BufferArg,
  options: SegmentSumOptions = {},
): Dispatch[] {
  const op = "segmentSum";
  const l = layoutOf(x, `${op} x`);
  checkElementCount(op, l);
  const g = groupingOf(l, options.groupBy ?? "sample");
  checkParam(op, "out", out, g.groups);
  const rows = l.n * l.c;
  const part = plan.scratch(rows * g.parts * 4, `${op}.part`);
  const d1 = pushRowChunks(
    plan,
    op,
    l.n,
    l.c,
    { x: rowTensor(x, l, g.vec) },
    (ch, w) =>
      plan.push(segmentSumPartialSpec(g.vec), { x: w.x.binding, part }, {
        ...partialFields(l, g),
        ...windowFields("x", l, w.x),
        r0: ch.r0,
        rows: ch.r1,
      }),
  );
  const d2 = plan.push(segmentSumCombine, { part, out }, {
    groups: g.groups,
    C: l.c,
    parts: g.parts,
    nLoop: g.nLoop,
    q: 1,
    qi: 0,
    scale: options.mean ? 1 / g.count : 1,
    accumulate: options.accumulate ? 1 : 0,
    one: 1,
  });
  return [...d1, d2];
}
