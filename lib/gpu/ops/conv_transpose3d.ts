/**
 * 2×2×2 stride-2 transposed-convolution ops (bias, NCDHW views): forward, input gradient
 * (optionally accumulating) and weight/bias gradients. Weights are plain buffers in PyTorch
 * layout `[Cin, Cout, 2, 2, 2]`, re-packed each time the plan runs. Kernels and layouts:
 * `lib/gpu/kernels/conv_transpose3d.ts`.
 *
 * | op | dispatches |
 * |---|---|
 * | {@linkcode convTranspose3dForward} | pack x, pack weights + bias, forward |
 * | {@linkcode convTranspose3dBackwardInput} | pack dy, pack weights, input gradient |
 * | {@linkcode convTranspose3dBackwardWeight} | pack x, pack dy, partial sums, reduce |
 *
 * @module
 */

import { alignedGeometry, conv3dPackWeightsSpec, gradRecordLength } from "../kernels/conv3d.ts";
import {
  convTranspose3dBackwardInputSpec,
  convTranspose3dForwardSpec,
  convTranspose3dWeightGradSpec,
  type ConvTransposeBlocking,
  type ConvTransposeWeightGradBlocking,
  defaultTransposeBlocking,
  defaultTransposeWeightGradBlocking,
  upsampledGeometry,
} from "../kernels/conv_transpose3d.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import { checkNoWriteAlias } from "./reduce.ts";
import type { StepPlan } from "../step_plan.ts";
import { checkBinding, checkFloats, isCpuAdapter } from "./_checks.ts";
import { layoutOf, type TensorView, type ViewLayout } from "../tensor.ts";
import { packActivation, pushGradReduce, tileTarget, weightGradChunks } from "./conv3d.ts";

/** Options of {@linkcode convTranspose3dForward}. */
export interface ConvTranspose3dOptions {
  /**
   * Register blocking (tuning).
   * @default {@linkcode defaultTransposeBlocking} for the plan's adapter
   */
  blocking?: Partial<ConvTransposeBlocking>;
}

/** Options of {@linkcode convTranspose3dBackwardInput}. */
export interface ConvTranspose3dBackwardInputOptions extends ConvTranspose3dOptions {
  /** Add the gradient to what `dx` holds instead of overwriting it. @default false */
  accumulate?: boolean;
}

/** Options of {@linkcode convTranspose3dBackwardWeight}. */
export interface ConvTranspose3dBackwardWeightOptions {
  /** Add the gradients to what `dWeight`/`dBias` hold. @default false */
  accumulate?: boolean;
  /**
   * Register blocking (tuning).
   * @default {@linkcode defaultTransposeWeightGradBlocking} for the plan's adapter
   */
  blocking?: Partial<ConvTransposeWeightGradBlocking>;
}

/**
 * Push `y = convTranspose(x, weight) + bias`, kernel 2×2×2, stride 2:
 * `y[n, co, 2d + a, 2h + b, 2w + c] = bias[co] + Σ_ci x[n, ci, d, h, w] · weight[ci, co, a, b, c]`.
 *
 * @param plan The step plan.
 * @param x Input view `[N, Cin, D, H, W]`.
 * @param weight `[Cin, Cout, 2, 2, 2]`.
 * @param bias `[Cout]`, or undefined for none.
 * @param y Output view `[N, Cout, 2D, 2H, 2W]` (e.g. a channel slice of a concatenation).
 * @param options Optional blocking.
 * @returns The dispatches pushed.
 * @throws {TypeError} When a view is invalid, the shapes disagree or a parameter is too small.
 * @throws {RangeError} When the blocking is unsupported or a buffer exceeds the binding limits.
 * @example
 * ```ts ignore
 * convTranspose3dForward(plan, view(x, [1, 32, 8, 8, 8]), w, b, channelSlice(cat, [1, 32, 16, 16, 16], 0, 16));
 * ```
 */
export function convTranspose3dForward(
  plan: StepPlan,
  x: TensorView,
  weight: BufferArg,
  bias: BufferArg | undefined,
  y: TensorView,
  options: ConvTranspose3dOptions = {},
): Dispatch[] {
  const op = "convTranspose3dForward";
  const lx = layoutOf(x, `${op} x`);
  const ly = layoutOf(y, `${op} y`);
  _checkUpsampled(op, lx, ly, "y");
  checkFloats(op, "weight", weight, lx.c * ly.c * 8);
  if (bias) checkFloats(op, "bias", bias, ly.c);
  const blocking = { ...defaultTransposeBlocking(isCpuAdapter(plan)), ...options.blocking };
  const dispatches: Dispatch[] = [];
  const xg = alignedGeometry(x.shape);
  const xp = packActivation(plan, x, xg, dispatches, op, y.buffer);
  const coP = Math.ceil(ly.c / blocking.c) * blocking.c;
  // Weights [Cin, Cout, 8] → wp[(ci·8 + t)·CoP + co]: A = Cin, B = Cout, transposed.
  const wp = _packWeights(plan, weight, bias, lx.c, ly.c, coP, true, dispatches);
  const nHB = Math.ceil(lx.h / blocking.ph);
  const nWB = Math.ceil(lx.w / blocking.pw);
  const target = tileTarget(plan, y, [blocking.c, 2 * blocking.ph, 2 * blocking.pw], false, op);
  dispatches.push(
    plan.push(convTranspose3dForwardSpec({ blocking }), { xp: xp.buffer, wp, y: target.buffer }, {
      Cin: lx.c,
      xTot: xp.channelStride,
      xOff: xp.channelOffset,
      D: lx.d,
      Hp: xg.hp,
      Wp4: xg.wp / 4,
      CoP4: coP / 4,
      nHB,
      nWB,
      blocks: lx.d * nHB * nWB,
      coBlocks: coP / blocking.c,
      N: lx.n,
      yTot: target.uniforms.yTot,
      yOff: target.uniforms.yOff,
      yS4: target.uniforms.yS4,
      yDS4: target.uniforms.yDS4,
      yW4: target.uniforms.yW4,
    }),
  );
  target.finish(dispatches);
  return dispatches;
}

/**
 * Push the input gradient of {@linkcode convTranspose3dForward}:
 * `dx[n, ci, d, h, w] = Σ_{co, a, b, c} dy[n, co, 2d + a, 2h + b, 2w + c] · weight[ci, co, a, b, c]`.
 *
 * @param plan The step plan.
 * @param dy Output gradient `[N, Cout, 2D, 2H, 2W]` (may be a channel slice).
 * @param weight `[Cin, Cout, 2, 2, 2]`.
 * @param dx Receives `[N, Cin, D, H, W]` (overwritten, or added to with `accumulate`).
 * @param options `accumulate`, optional blocking.
 * @returns The dispatches pushed.
 * @throws {TypeError} When a view is invalid, the shapes disagree or the weights are too small.
 * @throws {RangeError} When the blocking is unsupported or a buffer exceeds the binding limits.
 */
export function convTranspose3dBackwardInput(
  plan: StepPlan,
  dy: TensorView,
  weight: BufferArg,
  dx: TensorView,
  options: ConvTranspose3dBackwardInputOptions = {},
): Dispatch[] {
  const op = "convTranspose3dBackwardInput";
  const ldy = layoutOf(dy, `${op} dy`);
  const ldx = layoutOf(dx, `${op} dx`);
  _checkUpsampled(op, ldx, ldy, "dy");
  checkFloats(op, "weight", weight, ldx.c * ldy.c * 8);
  const blocking = { ...defaultTransposeBlocking(isCpuAdapter(plan)), ...options.blocking };
  const dispatches: Dispatch[] = [];
  const dyg = upsampledGeometry(dy.shape);
  const dyp = packActivation(plan, dy, dyg, dispatches, op, dx.buffer);
  const ciP = Math.ceil(ldx.c / blocking.c) * blocking.c;
  // wp[(co·8 + t)·CiP + ci] = weight[ci, co, t]: A = Cout, B = Cin, not transposed.
  const wp = _packWeights(plan, weight, undefined, ldy.c, ldx.c, ciP, false, dispatches);
  const nHB = Math.ceil(ldx.h / blocking.ph);
  const nWB = Math.ceil(ldx.w / blocking.pw);
  const target = tileTarget(
    plan,
    dx,
    [blocking.c, blocking.ph, blocking.pw],
    options.accumulate ?? false,
    op,
  );
  dispatches.push(
    plan.push(convTranspose3dBackwardInputSpec({ blocking }), {
      dyp: dyp.buffer,
      wp,
      y: target.buffer,
    }, {
      Cout: ldy.c,
      dyTot: dyp.channelStride,
      dyOff: dyp.channelOffset,
      D: ldx.d,
      dyHp: dyg.hp,
      dyWp4: dyg.wp / 4,
      CiP4: ciP / 4,
      nHB,
      nWB,
      blocks: ldx.d * nHB * nWB,
      ciBlocks: ciP / blocking.c,
      N: ldx.n,
      ...target.uniforms,
    }),
  );
  target.finish(dispatches);
  return dispatches;
}

/**
 * Push the weight and bias gradients of {@linkcode convTranspose3dForward}:
 * `dW[ci, co, a, b, c] = Σ_{n,d,h,w} x[n, ci, d, h, w] · dy[n, co, 2d + a, 2h + b, 2w + c]`,
 * `dB[co] = Σ dy[n, co, ·]`; deterministic (partial sums per chunk of rows, then a fixed-order
 * compensated sum).
 *
 * @param plan The step plan.
 * @param x Forward input `[N, Cin, D, H, W]`.
 * @param dy Output gradient `[N, Cout, 2D, 2H, 2W]`.
 * @param dWeight Receives `[Cin, Cout, 2, 2, 2]`.
 * @param dBias Receives `[Cout]`, or undefined when there is no bias.
 * @param options `accumulate`, optional blocking.
 * @returns The dispatches pushed.
 * @throws {TypeError} When a view is invalid, the shapes disagree, an output is too small or
 *   the outputs share a buffer.
 * @throws {RangeError} When the blocking is unsupported or a buffer exceeds the binding limits.
 */
export function convTranspose3dBackwardWeight(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dWeight: BufferArg,
  dBias: BufferArg | undefined,
  options: ConvTranspose3dBackwardWeightOptions = {},
): Dispatch[] {
  const op = "convTranspose3dBackwardWeight";
  const lx = layoutOf(x, `${op} x`);
  const ldy = layoutOf(dy, `${op} dy`);
  _checkUpsampled(op, lx, ldy, "dy");
  const Cin = lx.c;
  const Cout = ldy.c;
  checkFloats(op, "dWeight", dWeight, Cin * Cout * 8);
  if (dBias) {
    checkFloats(op, "dBias", dBias, Cout);
    // Disjoint ranges of one buffer (a flat gradient buffer) are fine; overlaps are not.
    checkNoWriteAlias(op, { dWeight, dBias }, {});
  }
  const cpu = isCpuAdapter(plan);
  const blocking = { ...defaultTransposeWeightGradBlocking(cpu), ...options.blocking };
  const dispatches: Dispatch[] = [];
  const xg = alignedGeometry(x.shape, blocking.ci);
  const xp = packActivation(plan, x, xg, dispatches, op);
  const dyg = upsampledGeometry(dy.shape, blocking.co);
  const dyp = packActivation(plan, dy, dyg, dispatches, op);
  const ciBlocks = Math.ceil(Cin / blocking.ci);
  const coBlocks = Math.ceil(Cout / blocking.co);
  const nWB = Math.ceil(lx.w / 8);
  const rows = lx.n * lx.d * lx.h;
  const { chunks, rpc } = weightGradChunks(rows, nWB, ciBlocks * coBlocks, cpu);
  const coP = coBlocks * blocking.co;
  const stride = ciBlocks * blocking.ci * coP * gradRecordLength(8);
  checkBinding(plan, op, "partial sums", chunks * stride);
  const part = plan.scratch(chunks * stride * 4, `${op}.part`);
  dispatches.push(plan.push(convTranspose3dWeightGradSpec({ blocking }), {
    xp: xp.buffer,
    dyp: dyp.buffer,
    part,
  }, {
    CoP: coP,
    D: lx.d,
    H: lx.h,
    nWB,
    xTot: xp.channelStride,
    xOff: xp.channelOffset,
    xHp: xg.hp,
    xWp4: xg.wp / 4,
    dyTot: dyp.channelStride,
    dyOff: dyp.channelOffset,
    dyHp: dyg.hp,
    dyWp4: dyg.wp / 4,
    rows,
    rpc,
    chunks,
    ciBlocks,
  }));
  const partials = { part, cin: Cin, cout: Cout, taps: 8, coP, coMajor: false, stride, chunks };
  dispatches.push(
    pushGradReduce(plan, partials, dWeight, dBias, options.accumulate ?? false, op),
  );
  return dispatches;
}

function _packWeights(
  plan: StepPlan,
  weight: BufferArg,
  bias: BufferArg | undefined,
  A: number,
  B: number,
  BP: number,
  transpose: boolean,
  dispatches: Dispatch[],
): GPUBuffer {
  const total = A * 8 * BP + BP;
  const wp = plan.scratch(total * 4, "convTranspose3d.weights");
  dispatches.push(plan.push(conv3dPackWeightsSpec, { w: weight, bias: bias ?? weight, wp }, {
    A,
    B,
    BP,
    T: 8,
    transpose: transpose ? 1 : 0,
    flip: 0,
    hasBias: bias ? 1 : 0,
    total,
  }));
  return wp;
}

/** `big` must be `small` upsampled by 2 in D, H, W with the same batch. */
function _checkUpsampled(op: string, small: ViewLayout, big: ViewLayout, bigName: string): void {
  if (
    big.n !== small.n || big.d !== 2 * small.d || big.h !== 2 * small.h || big.w !== 2 * small.w
  ) {
    throw new TypeError(
      `Cannot run ${op}: ${bigName} is [${big.n}, ${big.c}, ${big.d}, ${big.h}, ${big.w}], ` +
        `expected [${small.n}, C, ${2 * small.d}, ${2 * small.h}, ${2 * small.w}]`,
    );
  }
}
