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
 * Operands larger than the plan's binding limit (issue 17) are split like the direct conv's
 * (`conv3d.ts`): per sample and depth slab of the input (the slab of `dy` is twice as deep),
 * and per chunk of channels whose packed weights, tiles and partial records fit a binding:
 * forward by output channels (its weights packed from aligned windows of whole input-channel
 * rows), input gradient by input channels (one window of rows each), weight gradient by input
 * channels (each reduced into its own aligned range of rows of `dWeight`). Forward and input
 * gradient are bit-identical to the unchunked ops; the weight and bias gradients agree within
 * float32 rounding (their partial sums end at other rows). Still refused: one depth slice of a
 * packed operand (all its channels) or one `(n, c)` row of a view larger than a binding.
 *
 * @module
 */

import {
  alignedGeometry,
  type ConvGeometry,
  geometryFloats,
  gradRecordLength,
} from "../kernels/conv3d.ts";
import {
  convTranspose3dBackwardInputSpec,
  convTranspose3dForwardSpec,
  convTranspose3dPackWeightsSpec,
  convTranspose3dWeightGradSpec,
  type ConvTransposeBlocking,
  type ConvTransposeWeightGradBlocking,
  defaultTransposeBlocking,
  defaultTransposeWeightGradBlocking,
  upsampledGeometry,
} from "../kernels/conv_transpose3d.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import { bufferOf, checkNoWriteAlias, floatsOf } from "./reduce.ts";
import type { StepPlan } from "../step_plan.ts";
import { checkFloats, checkU32, fitsBinding, isCpuAdapter } from "./_checks.ts";
import { layoutOf, type TensorView, type ViewLayout } from "../tensor.ts";
import {
  MAX_WEIGHT_GRAD_STEPS,
  packActivation,
  type PackedActivation,
  packSlab,
  pushGradReduce,
  slabDepth,
  tileTarget,
  unpackSlab,
  viewSpan,
  weightGradChunks,
} from "./conv3d.ts";

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
 * @throws {RangeError} When the blocking is unsupported, or an operand cannot be split to fit
 *   the binding limit (one depth slice of a packed operand, one channel of a view, or one
 *   block of channels of the packed weights exceeds it).
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
  const coP = _roundUp(ly.c, blocking.c);
  const tile = [blocking.c, 2 * blocking.ph, 2 * blocking.pw] as const;
  const fits = _spansFit(plan, lx, ly) && _packFits(plan, x, lx, xg, y.buffer) &&
    _paramsFit(plan, weight, bias) && fitsBinding(plan, lx.c * 8 * coP + coP) &&
    _tilesFit(plan, ly, tile);
  if (!fits) {
    _slabForward(plan, x, lx, weight, bias, y, ly, blocking, op, dispatches);
    return dispatches;
  }
  const xp = packActivation(plan, x, xg, dispatches, op, y.buffer);
  const chunk = { c0: 0, cc: ly.c, ccP: coP };
  const wp = _packWeights(plan, weight, bias, lx.c, ly.c, true, chunk, op, dispatches);
  const nHB = Math.ceil(lx.h / blocking.ph);
  const nWB = Math.ceil(lx.w / blocking.pw);
  const target = tileTarget(plan, y, tile, false, op);
  dispatches.push(
    plan.push(convTranspose3dForwardSpec({ blocking }), {
      xp: _packedBinding(plan, xp),
      wp,
      y: target.buffer,
    }, {
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
 * @throws {RangeError} When the blocking is unsupported, or an operand cannot be split to fit
 *   the binding limit (one depth slice of a packed operand, one channel of a view, or one
 *   block of channels of the packed weights exceeds it).
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
  const accumulate = options.accumulate ?? false;
  const dispatches: Dispatch[] = [];
  const dyg = upsampledGeometry(dy.shape);
  const ciP = _roundUp(ldx.c, blocking.c);
  const tile = [blocking.c, blocking.ph, blocking.pw] as const;
  const fits = _spansFit(plan, ldy, ldx) && _packFits(plan, dy, ldy, dyg, dx.buffer) &&
    _paramsFit(plan, weight, undefined) && fitsBinding(plan, ldy.c * 8 * ciP + ciP) &&
    _tilesFit(plan, ldx, tile);
  if (!fits) {
    _slabBackwardInput(plan, dy, ldy, weight, dx, ldx, blocking, accumulate, op, dispatches);
    return dispatches;
  }
  const dyp = packActivation(plan, dy, dyg, dispatches, op, dx.buffer);
  const chunk = { c0: 0, cc: ldx.c, ccP: ciP };
  const wp = _packWeights(plan, weight, undefined, ldx.c, ldy.c, false, chunk, op, dispatches);
  const nHB = Math.ceil(ldx.h / blocking.ph);
  const nWB = Math.ceil(ldx.w / blocking.pw);
  const target = tileTarget(plan, dx, tile, accumulate, op);
  dispatches.push(
    plan.push(convTranspose3dBackwardInputSpec({ blocking }), {
      dyp: _packedBinding(plan, dyp),
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
 * @throws {RangeError} When the blocking is unsupported, or an operand cannot be split to fit
 *   the binding limit (one depth slice of a packed operand, one channel of a view, or one
 *   block of channels of the packed weights exceeds it).
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
  const accumulate = options.accumulate ?? false;
  const dispatches: Dispatch[] = [];
  const xg = alignedGeometry(x.shape, blocking.ci);
  const dyg = upsampledGeometry(dy.shape, blocking.co);
  const ciBlocks = Math.ceil(Cin / blocking.ci);
  const coBlocks = Math.ceil(Cout / blocking.co);
  const nWB = Math.ceil(lx.w / 8);
  const rows = lx.n * lx.d * lx.h;
  const { chunks, rpc } = weightGradChunks(rows, nWB, ciBlocks * coBlocks, cpu);
  const coP = coBlocks * blocking.co;
  const stride = ciBlocks * blocking.ci * coP * gradRecordLength(8);
  const fits = _spansFit(plan, lx, ldy) && _packFits(plan, x, lx, xg) &&
    _packFits(plan, dy, ldy, dyg) && _paramsFit(plan, dWeight, dBias) &&
    fitsBinding(plan, chunks * stride);
  if (!fits) {
    _slabWeightGrad(plan, x, lx, dy, ldy, dWeight, dBias, blocking, accumulate, op, dispatches);
    return dispatches;
  }
  const xp = packActivation(plan, x, xg, dispatches, op);
  const dyp = packActivation(plan, dy, dyg, dispatches, op);
  const part = plan.scratch(chunks * stride * 4, `${op}.part`);
  dispatches.push(plan.push(convTranspose3dWeightGradSpec({ blocking }), {
    xp: _packedBinding(plan, xp),
    dyp: _packedBinding(plan, dyp),
    part: { buffer: part, offset: 0, size: chunks * stride * 4 },
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
    chunk0: 0,
  }));
  const partials = {
    part: { buffer: part, offset: 0, size: chunks * stride * 4 },
    cin: Cin,
    cout: Cout,
    taps: 8,
    coP,
    coMajor: false,
    stride,
    chunks,
  };
  dispatches.push(pushGradReduce(plan, partials, dWeight, dBias, accumulate, op));
  return dispatches;
}

/** A range of channels of an op's output (or of its weights): `[c0, c0 + cc)`, padded to `ccP`. */
interface _ChannelChunk {
  c0: number;
  cc: number;
  ccP: number;
}

/**
 * Pack the weights of one channel chunk (see `convTranspose3dPackWeightsSpec`): forward,
 * output channels `ch` of all input channels, with the biases; input gradient, input
 * channels `ch` of all output channels. When the weights exceed a binding, each dispatch binds
 * an aligned window of whole input-channel rows (forward: from the chunk's first column of the
 * first row to its last column of the last row).
 */
function _packWeights(
  plan: StepPlan,
  weight: BufferArg,
  bias: BufferArg | undefined,
  cin: number,
  cout: number,
  forward: boolean,
  ch: _ChannelChunk,
  op: string,
  dispatches: Dispatch[],
): BufferArg {
  const A = forward ? cin : cout;
  const total = A * 8 * ch.ccP + ch.ccP;
  const wp = _scratchRange(plan, total * 4, `${op}.weights`);
  const row = 8 * cout; // floats of one input channel of the weights
  const r0 = forward ? 0 : ch.c0;
  const r1 = forward ? cin : ch.c0 + ch.cc;
  const col0 = forward ? 8 * ch.c0 : 0;
  const col1 = forward ? 8 * (ch.c0 + ch.cc) : row;
  const windowOf = (ra: number, rb: number) =>
    _floatWindow(plan, weight, ra * row + col0, (rb - 1) * row + col1);
  const b = bias ? _floatWindow(plan, bias, ch.c0, ch.c0 + ch.cc) : undefined;
  if (bias && !b) {
    throw new RangeError(
      `Cannot run ${op}: the biases of ${ch.cc} channels exceed the binding limit ` +
        `${plan.bindingLimit}`,
    );
  }
  let ra = r0;
  while (ra < r1) {
    let rb = ra + 1;
    if (!windowOf(ra, rb)) {
      throw new RangeError(
        `Cannot run ${op}: one input channel of the weights (${(col1 - col0) * 4} bytes, with ` +
          `the offset alignment) exceeds the binding limit ${plan.bindingLimit}`,
      );
    }
    while (rb < r1 && windowOf(ra, rb + 1)) rb++;
    const w = windowOf(ra, rb)!;
    if (!forward && (ra !== r0 || rb !== r1)) {
      // The input gradient's packed rows interleave the input channels: one window per chunk.
      throw new RangeError(
        `Cannot run ${op}: the weights of ${ch.cc} input channels exceed the binding limit ` +
          `${plan.bindingLimit}`,
      );
    }
    // Index of w[ci, co, t] in the window: w.off + (ci − ra)·row + 8·co + t − col0.
    const base = _u32(w.off - ra * row - col0 + (forward ? 8 * ch.c0 : 0));
    dispatches.push(plan.push(convTranspose3dPackWeightsSpec, {
      w: w.binding,
      bias: b?.binding ?? w.binding,
      wp,
    }, {
      A,
      B: ch.cc,
      BP: ch.ccP,
      base: forward ? base : _u32(w.off + (ch.c0 - ra) * row),
      sA: forward ? row : 8,
      sB: forward ? 8 : row,
      hasBias: b ? 1 : 0,
      bOff: b?.off ?? 0,
      i0: forward ? ra * 8 * ch.ccP : 0,
      i1: forward && rb < r1 ? rb * 8 * ch.ccP : total,
    }));
    ra = rb;
  }
  return wp;
}

/**
 * The forward in depth slabs (operands that exceed a binding): output channels in chunks
 * whose packed weights and tiles fit; per sample and slab of input depths, pack the slab, then
 * per chunk compute its output tiles (two output slices per input slice) and unpack them into
 * `y`. Every output is the same sum in the same order as unchunked: bit-identical.
 */
function _slabForward(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  weight: BufferArg,
  bias: BufferArg | undefined,
  y: TensorView,
  ly: ViewLayout,
  b: ConvTransposeBlocking,
  op: string,
  dispatches: Dispatch[],
): void {
  const xg = alignedGeometry(x.shape);
  const nHB = Math.ceil(lx.h / b.ph);
  const nWB = Math.ceil(lx.w / b.pw);
  const hq = nHB * 2 * b.ph;
  const wq = nWB * 2 * b.pw;
  const perX = lx.c * xg.hp * xg.wp;
  const perTile = 2 * hq * wq; // tile floats per output channel and input slice
  const chunks = _channelChunks(plan, op, ly.c, b.c, b.c, [
    { what: "the packed weights", floats: (k) => lx.c * 8 * k + k },
    { what: "the output tiles of one input depth slice", floats: (k) => k * perTile },
  ]);
  const most = Math.max(...chunks.map((ch) => ch.ccP));
  const s = slabDepth(plan, op, lx.d, [
    { what: "the packed input slab", floatsPerSlice: perX, halo: 0 },
    { what: "the output tiles", floatsPerSlice: most * perTile, halo: 0 },
  ]);
  const wps = chunks.map((ch) =>
    _packWeights(plan, weight, bias, lx.c, ly.c, true, ch, op, dispatches)
  );
  const xs = _scratchRange(plan, s * perX * 4, `${op}.slab`);
  const ys = _scratchRange(plan, s * most * perTile * 4, `${op}.slabTiles`);
  const spec = convTranspose3dForwardSpec({ blocking: b });
  for (let n = 0; n < lx.n; n++) {
    for (let d0 = 0; d0 < lx.d; d0 += s) {
      const sd = Math.min(s, lx.d - d0);
      const g: ConvGeometry = { ...xg, n: 1, dp: sd };
      packSlab(plan, x, lx, n, d0, g, xs, dispatches, op);
      chunks.forEach((ch, k) => {
        dispatches.push(plan.push(spec, { xp: xs, wp: wps[k], y: ys }, {
          Cin: lx.c,
          xTot: lx.c,
          xOff: 0,
          D: sd,
          Hp: g.hp,
          Wp4: g.wp / 4,
          CoP4: ch.ccP / 4,
          nHB,
          nWB,
          blocks: sd * nHB * nWB,
          coBlocks: ch.ccP / b.c,
          N: 1,
          yTot: ch.ccP,
          yOff: 0,
          yS4: (2 * sd * hq * wq) / 4,
          yDS4: (hq * wq) / 4,
          yW4: wq / 4,
        }));
        unpackSlab(plan, ys, y, ly, n, ch, 2 * sd, 2 * d0, hq, wq, false, op, dispatches);
      });
    }
  }
}

/**
 * The input gradient in depth slabs: input channels in chunks whose packed weights and tiles
 * fit; per sample and slab, pack the slab of `dy` (two slices per input slice), then per chunk
 * compute its tiles and unpack (or add) them into `dx`. Bit-identical to the unchunked op.
 */
function _slabBackwardInput(
  plan: StepPlan,
  dy: TensorView,
  ldy: ViewLayout,
  weight: BufferArg,
  dx: TensorView,
  ldx: ViewLayout,
  b: ConvTransposeBlocking,
  accumulate: boolean,
  op: string,
  dispatches: Dispatch[],
): void {
  const dyg = upsampledGeometry(dy.shape);
  const nHB = Math.ceil(ldx.h / b.ph);
  const nWB = Math.ceil(ldx.w / b.pw);
  const hq = nHB * b.ph;
  const wq = nWB * b.pw;
  const perDy = 2 * ldy.c * dyg.hp * dyg.wp; // packed dy floats per input depth slice
  const row = 8 * ldy.c;
  // A chunk's weights are one window of rows unless the whole tensor fits (alignment slack).
  const slack = fitsBinding(plan, floatsOf(weight)) ? undefined : plan.limits.alignment / 4;
  const chunks = _channelChunks(plan, op, ldx.c, b.c, b.c, [
    { what: "the packed weights", floats: (k) => ldy.c * 8 * k + k },
    { what: "the weights", floats: (k) => (slack === undefined ? 0 : k * row + slack) },
    { what: "the input-gradient tiles of one depth slice", floats: (k) => k * hq * wq },
  ]);
  const most = Math.max(...chunks.map((ch) => ch.ccP));
  const s = slabDepth(plan, op, ldx.d, [
    { what: "the packed output-gradient slab", floatsPerSlice: perDy, halo: 0 },
    { what: "the input-gradient tiles", floatsPerSlice: most * hq * wq, halo: 0 },
  ]);
  const wps = chunks.map((ch) =>
    _packWeights(plan, weight, undefined, ldx.c, ldy.c, false, ch, op, dispatches)
  );
  const dys = _scratchRange(plan, s * perDy * 4, `${op}.slab`);
  const ys = _scratchRange(plan, s * most * hq * wq * 4, `${op}.slabTiles`);
  const spec = convTranspose3dBackwardInputSpec({ blocking: b });
  for (let n = 0; n < ldx.n; n++) {
    for (let d0 = 0; d0 < ldx.d; d0 += s) {
      const sd = Math.min(s, ldx.d - d0);
      const g: ConvGeometry = { ...dyg, n: 1, dp: 2 * sd };
      packSlab(plan, dy, ldy, n, 2 * d0, g, dys, dispatches, op);
      chunks.forEach((ch, k) => {
        dispatches.push(plan.push(spec, { dyp: dys, wp: wps[k], y: ys }, {
          Cout: ldy.c,
          dyTot: ldy.c,
          dyOff: 0,
          D: sd,
          dyHp: g.hp,
          dyWp4: g.wp / 4,
          CiP4: ch.ccP / 4,
          nHB,
          nWB,
          blocks: sd * nHB * nWB,
          ciBlocks: ch.ccP / b.c,
          N: 1,
          yTot: ch.ccP,
          yOff: 0,
          yS4: (sd * hq * wq) / 4,
          yDS4: (hq * wq) / 4,
          yW4: wq / 4,
          accumulate: 0,
        }));
        unpackSlab(plan, ys, dx, ldx, n, ch, sd, d0, hq, wq, accumulate, op, dispatches);
      });
    }
  }
}

/**
 * The weight and bias gradients in depth slabs and input-channel chunks: per sample and slab,
 * pack `x` and `dy`, then per chunk of input channels reduce the slab's rows into that chunk's
 * partial records (numbered on across slabs); per group of slabs whose records fit a binding,
 * a compensated reduction of each chunk's records into its rows of `dWeight` (which start on
 * an aligned byte; groups after the first add to them). The row chunks differ from the
 * unchunked op's, so results agree within float32 rounding of the partial sums.
 */
function _slabWeightGrad(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  dy: TensorView,
  ldy: ViewLayout,
  dWeight: BufferArg,
  dBias: BufferArg | undefined,
  b: ConvTransposeWeightGradBlocking,
  accumulate: boolean,
  op: string,
  dispatches: Dispatch[],
): void {
  const Cout = ldy.c;
  const xg = alignedGeometry(x.shape, b.ci);
  const dyg = upsampledGeometry(dy.shape, b.co);
  const coP = dyg.cb;
  const coBlocks = coP / b.co;
  const perX = xg.cb * xg.hp * xg.wp;
  const perDy = 2 * coP * dyg.hp * dyg.wp;
  const s = slabDepth(plan, op, lx.d, [
    { what: "the packed input slab", floatsPerSlice: perX, halo: 0 },
    { what: "the packed output-gradient slab", floatsPerSlice: perDy, halo: 0 },
  ]);
  // Input channels per chunk: a multiple of the blocking whose first row of dWeight starts on
  // an aligned byte (dWeight's own offset is aligned).
  const align = plan.limits.alignment;
  const unit = _lcm(b.ci, align / _gcd(align, 32 * Cout));
  const rec = coP * gradRecordLength(8); // record floats per input channel and chunk
  const chunks = _channelChunks(plan, op, lx.c, unit, b.ci, [
    { what: "the partial sums of one chunk", floats: (k) => k * rec },
    { what: "the weight gradient", floats: (k) => k * 8 * Cout },
  ]);
  const stride = (ch: _ChannelChunk) => ch.ccP * rec;
  const maxChunks = Math.floor(plan.bindingLimit / (4 * Math.max(...chunks.map(stride))));
  const ciBlocks = Math.max(...chunks.map((ch) => ch.ccP / b.ci));
  const nWB = Math.ceil(lx.w / 8);
  const cpu = isCpuAdapter(plan);
  const slabs: { n: number; d0: number; sd: number; chunks: number; rpc: number }[] = [];
  for (let n = 0; n < lx.n; n++) {
    for (let d0 = 0; d0 < lx.d; d0 += s) {
      const sd = Math.min(s, lx.d - d0);
      const rows = sd * lx.h;
      const wanted = weightGradChunks(rows, nWB, ciBlocks * coBlocks, cpu).chunks;
      const least = Math.ceil((rows * nWB) / MAX_WEIGHT_GRAD_STEPS);
      let count = Math.min(rows, Math.max(least, Math.min(wanted, maxChunks), 1));
      if (count > maxChunks) {
        throw new RangeError(
          `Cannot run ${op}: the partial sums of one depth slice need ${
            count * Math.max(...chunks.map(stride)) * 4
          } bytes, the binding limit is ${plan.bindingLimit}`,
        );
      }
      const rpc = Math.ceil(rows / count);
      count = Math.ceil(rows / rpc);
      slabs.push({ n, d0, sd, chunks: count, rpc });
    }
  }
  // Groups of slabs whose records fit one binding; each is reduced into dWeight.
  const groups: (typeof slabs)[] = [[]];
  let inGroup = 0;
  for (const slab of slabs) {
    if (inGroup + slab.chunks > maxChunks) {
      groups.push([]);
      inGroup = 0;
    }
    groups[groups.length - 1].push(slab);
    inGroup += slab.chunks;
  }
  const most = Math.max(...groups.map((g) => g.reduce((t, sl) => t + sl.chunks, 0)));
  const parts = chunks.map((ch) => _scratchRange(plan, most * stride(ch) * 4, `${op}.part`));
  const xs = _scratchRange(plan, s * perX * 4, `${op}.slab`);
  const dys = _scratchRange(plan, s * perDy * 4, `${op}.dySlab`);
  const spec = convTranspose3dWeightGradSpec({ blocking: b });
  const dwBuffer = bufferOf(dWeight);
  const dwBase = dWeight instanceof GPUBuffer ? 0 : dWeight.offset ?? 0;
  groups.forEach((group, gi) => {
    let chunk0 = 0;
    for (const { n, d0, sd, chunks: count, rpc } of group) {
      const gx: ConvGeometry = { ...xg, n: 1, dp: sd };
      const gdy: ConvGeometry = { ...dyg, n: 1, dp: 2 * sd };
      packSlab(plan, x, lx, n, d0, gx, xs, dispatches, op);
      packSlab(plan, dy, ldy, n, 2 * d0, gdy, dys, dispatches, op);
      chunks.forEach((ch, k) => {
        dispatches.push(plan.push(spec, { xp: xs, dyp: dys, part: parts[k] }, {
          CoP: coP,
          D: sd,
          H: lx.h,
          nWB,
          xTot: xg.cb,
          xOff: ch.c0,
          xHp: gx.hp,
          xWp4: gx.wp / 4,
          dyTot: coP,
          dyOff: 0,
          dyHp: gdy.hp,
          dyWp4: gdy.wp / 4,
          rows: sd * lx.h,
          rpc,
          chunks: count,
          ciBlocks: ch.ccP / b.ci,
          chunk0,
        }));
      });
      chunk0 += count;
    }
    chunks.forEach((ch, k) => {
      const partials = {
        part: parts[k],
        cin: ch.cc,
        cout: Cout,
        taps: 8,
        coP,
        coMajor: false,
        stride: stride(ch),
        chunks: chunk0,
      };
      const dw = { buffer: dwBuffer, offset: dwBase + ch.c0 * Cout * 32, size: ch.cc * Cout * 32 };
      // Every chunk's records hold the bias sums; the first chunk's reduce writes them.
      const db = k === 0 ? dBias : undefined;
      dispatches.push(pushGradReduce(plan, partials, dw, db, gi > 0 || accumulate, op));
    });
  });
}

/**
 * Split `channels` into balanced chunks of whole `unit`s (the last may be shorter), each
 * padded to a multiple of `pad`: as few as keep every `needs` within the binding limit for
 * the largest chunk.
 */
function _channelChunks(
  plan: StepPlan,
  op: string,
  channels: number,
  unit: number,
  pad: number,
  needs: readonly { what: string; floats: (k: number) => number }[],
): _ChannelChunk[] {
  const units = Math.ceil(channels / unit);
  const fits = (k: number) => needs.every((nd) => fitsBinding(plan, nd.floats(k)));
  if (!fits(unit)) {
    const nd = needs.find((nd) => !fitsBinding(plan, nd.floats(unit)))!;
    throw new RangeError(
      `Cannot run ${op}: ${nd.what} of ${unit} channels need ${
        nd.floats(unit) * 4
      } bytes, the binding limit is ${plan.bindingLimit}`,
    );
  }
  let per = 1;
  while (per < units && fits((per + 1) * unit)) per++;
  const count = Math.ceil(units / per);
  per = Math.ceil(units / count);
  const out: _ChannelChunk[] = [];
  for (let c0 = 0; c0 < channels; c0 += per * unit) {
    const cc = Math.min(per * unit, channels - c0);
    out.push({ c0, cc, ccP: _roundUp(cc, pad) });
  }
  return out;
}

/**
 * Bind floats `[first, end)` of `arg`: `arg` itself when it fits a binding, else the aligned
 * range of its buffer that holds them; `off` is the index of float `first` in the binding.
 * Undefined when the range exceeds the binding limit.
 */
function _floatWindow(
  plan: StepPlan,
  arg: BufferArg,
  first: number,
  end: number,
): { binding: BufferArg; off: number } | undefined {
  if (fitsBinding(plan, floatsOf(arg))) return { binding: arg, off: first };
  const base = arg instanceof GPUBuffer ? 0 : arg.offset ?? 0;
  const align = plan.limits.alignment;
  const start = Math.floor((base + first * 4) / align) * align;
  const size = base + end * 4 - start;
  if (size > plan.bindingLimit) return undefined;
  return {
    binding: { buffer: bufferOf(arg), offset: start, size },
    off: (base + first * 4 - start) / 4,
  };
}

/** Whether the views' byte spans fit a binding. */
function _spansFit(plan: StepPlan, a: ViewLayout, b: ViewLayout): boolean {
  return fitsBinding(plan, viewSpan(a) / 4) && fitsBinding(plan, viewSpan(b) / 4);
}

/** Whether the parameter bindings fit (the ops bind them whole when unchunked). */
function _paramsFit(plan: StepPlan, a: BufferArg, b: BufferArg | undefined): boolean {
  return fitsBinding(plan, floatsOf(a)) && (!b || fitsBinding(plan, floatsOf(b)));
}

/**
 * Whether `packActivation(x, g, avoid)` fits a binding: a packed copy of `geometryFloats(g)`,
 * or the view itself (its span, checked by {@linkcode _spansFit}).
 */
function _packFits(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  g: ConvGeometry,
  avoid?: GPUBuffer,
): boolean {
  checkU32("packActivation", lx.n * lx.cTot * lx.spatial);
  const inPlace = x.buffer !== avoid && g.cb === lx.c && g.dp === lx.d && g.hp === lx.h &&
    g.wp === lx.w;
  return inPlace || fitsBinding(plan, geometryFloats(g));
}

/** Whether a `tileTarget` of `y` fits: the view itself, or its tile-padded scratch. */
function _tilesFit(plan: StepPlan, ly: ViewLayout, tile: readonly [number, number, number]) {
  const [tc, th, tw] = tile;
  if (ly.c % tc === 0 && ly.h % th === 0 && ly.w % tw === 0) return true;
  return fitsBinding(
    plan,
    ly.n * _roundUp(ly.c, tc) * ly.d * _roundUp(ly.h, th) * _roundUp(ly.w, tw),
  );
}

/** A packed activation's binding: its buffer, or its span when the buffer exceeds a binding. */
function _packedBinding(plan: StepPlan, p: PackedActivation): BufferArg {
  if (p.buffer.size <= plan.bindingLimit) return p.buffer;
  const g = p.geometry;
  const bytes = ((g.n - 1) * p.channelStride + p.channelOffset + g.cb) * g.dp * g.hp * g.wp * 4;
  return { buffer: p.buffer, offset: 0, size: bytes };
}

/** A plan scratch buffer bound as exactly its first `bytes` bytes. */
function _scratchRange(plan: StepPlan, bytes: number, label: string): BufferArg {
  return { buffer: plan.scratch(bytes, label), offset: 0, size: bytes };
}

function _u32(v: number): number {
  return ((v % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

function _roundUp(v: number, m: number): number {
  return Math.ceil(v / m) * m;
}

function _gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function _lcm(a: number, b: number): number {
  return (a / _gcd(a, b)) * b;
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
