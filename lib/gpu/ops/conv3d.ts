/**
 * 3-D convolution ops (stride 1, padding "same", odd kernels, bias) on NCDHW views: forward,
 * input gradient (optionally accumulating) and weight/bias gradients. Each op validates its
 * views, takes its packed operands from plan scratch and pushes a few dispatches
 * (see `lib/gpu/kernels/conv3d.ts` for the kernels and their layouts):
 *
 * | op | dispatches |
 * |---|---|
 * | {@linkcode conv3dForward} | pack x (halo), pack weights + bias, direct conv [, unpack] |
 * | {@linkcode conv3dBackwardInput} | pack dy (halo), pack flipped transposed weights, direct conv [, unpack] |
 * | {@linkcode conv3dBackwardWeight} | pack x (unless the forward's is passed), pack dy, partial sums, reduce |
 *
 * A pack is skipped when the view already has the packed layout (1×1×1 kernels and `dy` of the
 * weight gradient on volumes with `H % 4 = 0`, `W % 8 = 0`); the unpack is needed only when the
 * output's H, W or channel count is not a multiple of the register tile (see
 * {@linkcode tileTarget}).
 *
 * Weights are plain buffers in PyTorch layout `[Cout, Cin, kD, kH, kW]`; they are re-packed
 * every time the plan runs (a few thousand floats), so an in-place optimizer update between
 * steps is always seen.
 *
 * @module
 */

import {
  alignedGeometry,
  conv3dDirectSpec,
  conv3dPackSpec,
  conv3dPackVec4Spec,
  conv3dPackWeightsSpec,
  conv3dUnpackSpec,
  conv3dWeightGradSpec,
  CONV_PH_MAX,
  CONV_PW,
  type ConvDirectBlocking,
  type ConvGeometry,
  convGradReduceSpec,
  type ConvWeightGradBlocking,
  defaultDirectBlocking,
  defaultWeightGradBlocking,
  geometryFloats,
  gradRecordLength,
  haloGeometry,
  type Kernel3,
} from "../kernels/conv3d.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import { checkNoWriteAlias } from "./reduce.ts";
import type { StepPlan } from "../step_plan.ts";
import { checkBinding, checkFloats, checkU32, fitsBinding, isCpuAdapter } from "./_checks.ts";
import { layoutOf, rowChunks, type TensorView, type ViewLayout } from "../tensor.ts";

/**
 * An activation in a packed, zero-padded layout: a plan scratch copy, or the view's own buffer
 * when its layout already is the packed one (no halo, `H % 4 = 0`, `W % 8 = 0`, no channel
 * padding needed), in which case the channel slice is addressed through
 * `channelStride`/`channelOffset`.
 */
export interface PackedActivation {
  /** The buffer (`vec4`-aligned rows). */
  readonly buffer: GPUBuffer;
  /** Its layout (`cb` = channels of the source). */
  readonly geometry: ConvGeometry;
  /** Shape of the source view `[N, C, D, H, W]`. */
  readonly shape: readonly [number, number, number, number, number];
  /** Channels per sample in `buffer`. */
  readonly channelStride: number;
  /** First channel of the source in `buffer`. */
  readonly channelOffset: number;
}

/** Options shared by the conv ops. */
export interface Conv3dOptions {
  /** Kernel extent `[kD, kH, kW]`, each odd (padding is `(k − 1)/2`). */
  kernel: Kernel3;
  /**
   * Register blocking of the direct kernel (tuning: any supported blocking is correct on any
   * adapter; the default picks `co: 16` on CPU adapters for large layers with ≥ 16 output
   * channels, whose kernel takes ≈ 18 s to compile cold).
   * @default {@linkcode defaultDirectBlocking} for the plan's adapter and output channels
   */
  blocking?: Partial<ConvDirectBlocking>;
}

/** Options of {@linkcode conv3dBackwardInput}. */
export interface Conv3dBackwardInputOptions extends Conv3dOptions {
  /**
   * Add the gradient to what `dx` holds (a tensor that feeds two consumers gets two
   * gradients) instead of overwriting it.
   * @default false
   */
  accumulate?: boolean;
}

/** Options of {@linkcode conv3dBackwardWeight}. */
export interface Conv3dBackwardWeightOptions {
  /** Kernel extent `[kD, kH, kW]`, each odd. */
  kernel: Kernel3;
  /**
   * The packed input returned by {@linkcode conv3dForward} of the same `x` in the same plan;
   * saves one pack of `x`. It must still hold the forward's input when the plan reaches this
   * op: plan scratch is never shared, so it does unless `x` itself changed in between (for a
   * 1×1×1 kernel on an aligned volume the packed input *is* `x`'s buffer).
   */
  packedInput?: PackedActivation;
  /**
   * Add the gradients to what `dWeight`/`dBias` hold instead of overwriting them.
   * @default false
   */
  accumulate?: boolean;
  /**
   * Register blocking of the partial-sum kernel (tuning).
   * @default {@linkcode defaultWeightGradBlocking} for the plan's adapter
   */
  blocking?: Partial<ConvWeightGradBlocking>;
}

/** What {@linkcode conv3dForward} pushed. */
export interface Conv3dForwardResult {
  /**
   * The packed input, reusable by {@linkcode conv3dBackwardWeight}; undefined when the op ran
   * in depth slabs (its operands exceed the plan's binding limit), which pack per slab.
   */
  packedInput?: PackedActivation;
  /** The dispatches pushed, in order. */
  dispatches: Dispatch[];
}

/**
 * Push a 3-D convolution `y = conv(x, weight) + bias` (stride 1, "same" padding).
 *
 * @param plan The step plan.
 * @param x Input view `[N, Cin, D, H, W]`.
 * @param weight Weights `[Cout, Cin, kD, kH, kW]` (PyTorch layout).
 * @param bias Bias `[Cout]`, or undefined for none.
 * @param y Output view `[N, Cout, D, H, W]` (may be a channel slice; every element is written).
 * @param options Kernel extent and optional blocking.
 * @returns The packed input (for the weight gradient) and the dispatches.
 * @throws {TypeError} When a view is invalid, the shapes disagree or a parameter is too small.
 * @throws {RangeError} When the kernel is not odd, the blocking is unsupported or a buffer
 *   exceeds the binding limits.
 * @example
 * ```ts ignore
 * const { packedInput } = conv3dForward(plan, view(x, [1, 8, 32, 32, 32]), w, b,
 *   view(y, [1, 16, 32, 32, 32]), { kernel: [3, 3, 3] });
 * ```
 */
export function conv3dForward(
  plan: StepPlan,
  x: TensorView,
  weight: BufferArg,
  bias: BufferArg | undefined,
  y: TensorView,
  options: Conv3dOptions,
): Conv3dForwardResult {
  const op = "conv3dForward";
  const lx = layoutOf(x, `${op} x`);
  const ly = layoutOf(y, `${op} y`);
  _checkSpatial(op, "y", ly, lx);
  const T = _taps(options.kernel);
  checkFloats(op, "weight", weight, ly.c * lx.c * T);
  if (bias) checkFloats(op, "bias", bias, ly.c);
  const dispatches: Dispatch[] = [];
  const geometry = haloGeometry(x.shape, options.kernel);
  const blocking = {
    ...defaultDirectBlocking(isCpuAdapter(plan), ly.c, { blocks: _blocks(ly), depth: ly.d }),
    ...options.blocking,
  };
  const wp = _packWeights(plan, weight, bias, lx.c, ly.c, T, blocking.co, false, dispatches);
  if (!_directFits(plan, x, lx, geometry, ly, blocking, y.buffer)) {
    _slabDirect(plan, x, lx, wp, y, ly, options.kernel, blocking, false, op, dispatches);
    return { dispatches };
  }
  const packedInput = packActivation(plan, x, geometry, dispatches, op, y.buffer);
  _direct(plan, packedInput, wp, y, ly, options.kernel, blocking, false, op, dispatches);
  return { packedInput, dispatches };
}

/**
 * Push the input gradient of {@linkcode conv3dForward}: `dx = convᵀ(dy, weight)`, the "same"
 * convolution of `dy` with the kernel flipped in all three axes and its channel axes swapped.
 *
 * @param plan The step plan.
 * @param dy Gradient of the output `[N, Cout, D, H, W]`.
 * @param weight Weights `[Cout, Cin, kD, kH, kW]`.
 * @param dx Receives the input gradient `[N, Cin, D, H, W]` (overwritten, or added to).
 * @param options Kernel extent, `accumulate`, optional blocking.
 * @returns The dispatches pushed.
 * @throws {TypeError} When a view is invalid, the shapes disagree or the weights are too small.
 * @throws {RangeError} When the kernel is not odd, the blocking is unsupported or a buffer
 *   exceeds the binding limits.
 */
export function conv3dBackwardInput(
  plan: StepPlan,
  dy: TensorView,
  weight: BufferArg,
  dx: TensorView,
  options: Conv3dBackwardInputOptions,
): Dispatch[] {
  const op = "conv3dBackwardInput";
  const ldy = layoutOf(dy, `${op} dy`);
  const ldx = layoutOf(dx, `${op} dx`);
  _checkSpatial(op, "dx", ldx, ldy);
  const T = _taps(options.kernel);
  checkFloats(op, "weight", weight, ldy.c * ldx.c * T);
  const dispatches: Dispatch[] = [];
  const geometry = haloGeometry(dy.shape, options.kernel);
  const blocking = {
    ...defaultDirectBlocking(isCpuAdapter(plan), ldx.c, { blocks: _blocks(ldx), depth: ldx.d }),
    ...options.blocking,
  };
  const wp = _packWeights(plan, weight, undefined, ldx.c, ldy.c, T, blocking.co, true, dispatches);
  const accumulate = options.accumulate ?? false;
  if (!_directFits(plan, dy, ldy, geometry, ldx, blocking, dx.buffer)) {
    _slabDirect(plan, dy, ldy, wp, dx, ldx, options.kernel, blocking, accumulate, op, dispatches);
    return dispatches;
  }
  const packed = packActivation(plan, dy, geometry, dispatches, op, dx.buffer);
  _direct(plan, packed, wp, dx, ldx, options.kernel, blocking, accumulate, op, dispatches);
  return dispatches;
}

/**
 * Push the weight and bias gradients of {@linkcode conv3dForward}:
 * `dW[co, ci, kd, kh, kw] = Σ_{n,d,h,w} dy[n, co, d, h, w] · x[n, ci, d + kd − pD, h + kh − pH, w + kw − pW]`
 * (zero outside the volume), `dB[co] = Σ_{n,d,h,w} dy[n, co, d, h, w]`. Deterministic: partial
 * sums per chunk of rows, then a compensated sum over chunks in a fixed order.
 *
 * @param plan The step plan.
 * @param x The forward input `[N, Cin, D, H, W]`.
 * @param dy Gradient of the output `[N, Cout, D, H, W]`.
 * @param dWeight Receives `[Cout, Cin, kD, kH, kW]`.
 * @param dBias Receives `[Cout]`, or undefined when the conv has no bias.
 * @param options Kernel extent, optional packed input from the forward, `accumulate`, blocking.
 * @returns The dispatches pushed.
 * @throws {TypeError} When a view is invalid, shapes disagree, an output is too small, outputs
 *   share a buffer, or `packedInput` does not belong to `x`.
 * @throws {RangeError} When the kernel is not odd, the blocking is unsupported or a buffer
 *   exceeds the binding limits.
 */
export function conv3dBackwardWeight(
  plan: StepPlan,
  x: TensorView,
  dy: TensorView,
  dWeight: BufferArg,
  dBias: BufferArg | undefined,
  options: Conv3dBackwardWeightOptions,
): Dispatch[] {
  const op = "conv3dBackwardWeight";
  const lx = layoutOf(x, `${op} x`);
  const ldy = layoutOf(dy, `${op} dy`);
  _checkSpatial(op, "dy", ldy, lx);
  const kernel = options.kernel;
  const T = _taps(kernel);
  const Cin = lx.c;
  const Cout = ldy.c;
  checkFloats(op, "dWeight", dWeight, Cout * Cin * T);
  if (dBias) {
    checkFloats(op, "dBias", dBias, Cout);
    // Disjoint ranges of one buffer (a flat gradient buffer) are fine; overlaps are not.
    checkNoWriteAlias(op, { dWeight, dBias }, {});
  }
  const cpu = isCpuAdapter(plan);
  const blocking = {
    ...defaultWeightGradBlocking(cpu, Cout, { blocks: _blocks(ldy) }),
    ...options.blocking,
  };
  const dispatches: Dispatch[] = [];
  const geometry = haloGeometry(x.shape, kernel);
  const dyGeometry = alignedGeometry(dy.shape, blocking.co);
  if (!_weightGradFits(plan, x, lx, geometry, dy, ldy, dyGeometry, blocking, T)) {
    _slabWeightGrad(plan, x, lx, dy, ldy, dWeight, dBias, kernel, blocking, options, dispatches);
    return dispatches;
  }
  let xp: PackedActivation;
  if (options.packedInput) {
    const p = options.packedInput;
    if (!_sameGeometry(p.geometry, geometry) || !p.shape.every((v, i) => v === x.shape[i])) {
      throw new TypeError(
        `Cannot run ${op}: packedInput has shape ${JSON.stringify(p.shape)} and another ` +
          `geometry than x ${JSON.stringify(x.shape)} with kernel ${JSON.stringify(kernel)}`,
      );
    }
    xp = p;
  } else {
    xp = packActivation(plan, x, geometry, dispatches, op);
  }
  const dyp = packActivation(plan, dy, dyGeometry, dispatches, op);

  const nHB = Math.ceil(lx.h / blocking.ph);
  const nWB = Math.ceil(lx.w / blocking.pw);
  const rows = lx.n * lx.d * nHB;
  const coBlocks = Math.ceil(Cout / blocking.co);
  const { chunks, rpc } = weightGradChunks(rows, nWB, Cin * coBlocks, cpu);
  const coP = coBlocks * blocking.co;
  const stride = Cin * coP * gradRecordLength(T);
  checkBinding(plan, op, "partial sums", chunks * stride);
  const part = plan.scratch(chunks * stride * 4, `${op}.part`);
  dispatches.push(plan.push(conv3dWeightGradSpec({ kernel, blocking }), {
    xp: _span(plan, xp.buffer, _packedBytes(xp)),
    dyp: _span(plan, dyp.buffer, _packedBytes(dyp)),
    part: _span(plan, part, chunks * stride * 4),
  }, {
    Cin,
    D: lx.d,
    nHB,
    nWB,
    xTot: xp.channelStride,
    xOff: xp.channelOffset,
    xDp: xp.geometry.dp,
    xHp: xp.geometry.hp,
    xWp4: xp.geometry.wp / 4,
    dyTot: dyp.channelStride,
    dyOff: dyp.channelOffset,
    dyHp: dyGeometry.hp,
    dyWp4: dyGeometry.wp / 4,
    rows,
    rpc,
    chunks,
    coBlocks,
    chunk0: 0,
    chunkStride4: stride / 4,
  }));
  const partials = {
    part: _span(plan, part, chunks * stride * 4),
    cin: Cin,
    cout: Cout,
    taps: T,
    coP,
    coMajor: true,
    stride,
    chunks,
  };
  dispatches.push(
    pushGradReduce(plan, partials, dWeight, dBias, options.accumulate ?? false, op),
  );
  return dispatches;
}

/**
 * Most inner steps (row blocks × column tiles) one weight-gradient invocation reduces. Bounds
 * llvmpipe's loop budget (about 65,535 iterations per invocation) and the float32 drift of the
 * running sums: an accumulator adds at most `ph·pw·MAX_STEPS` (16,384 with the CPU blocking)
 * products before the compensated sum over chunks takes over.
 */
export const MAX_WEIGHT_GRAD_STEPS = 1024;

/**
 * How {@linkcode conv3dBackwardWeight} splits its reduction: `chunks` invocations per
 * (input channel, output-channel block), each over `rpc` consecutive row blocks. Aims at a few
 * hundred invocations on CPU adapters (a few workgroups per core, small partial buffers) and
 * many thousands elsewhere, with at least 16 inner steps per invocation when the volume allows
 * and at most {@linkcode MAX_WEIGHT_GRAD_STEPS}.
 *
 * @param rows Row blocks `N·D·⌈H/ph⌉`.
 * @param steps Inner steps per row block (`⌈W/pw⌉`).
 * @param pairs Invocations per chunk (`Cin · output-channel blocks`).
 * @param cpu Whether the adapter is a CPU adapter.
 * @returns Chunk count and row blocks per chunk.
 */
export function weightGradChunks(
  rows: number,
  steps: number,
  pairs: number,
  cpu: boolean,
): { chunks: number; rpc: number } {
  const target = cpu ? 512 : 16384;
  const total = rows * steps;
  let chunks = Math.ceil(target / pairs);
  chunks = Math.min(chunks, Math.floor(total / 16));
  chunks = Math.max(chunks, Math.ceil(total / MAX_WEIGHT_GRAD_STEPS), 1);
  chunks = Math.min(chunks, rows);
  const rpc = Math.ceil(rows / chunks);
  return { chunks: Math.ceil(rows / rpc), rpc };
}

/** Layout of the partial records that {@linkcode pushGradReduce} sums. */
export interface GradPartials {
  /** The partial records, `chunks · stride` floats (a buffer, or a range from byte 0). */
  part: BufferArg;
  /** Input channels. */
  cin: number;
  /** Output channels. */
  cout: number;
  /** Taps per channel pair. */
  taps: number;
  /** Output channels per record row (padded). */
  coP: number;
  /** Weight order: conv `[Cout, Cin, …]` (true) or transposed conv `[Cin, Cout, …]` (false). */
  coMajor: boolean;
  /** Floats per chunk. */
  stride: number;
  /** Chunks. */
  chunks: number;
}

/**
 * Push {@linkcode convGradReduceSpec}: sum the partial records of every chunk into `dWeight`
 * (and `dBias`).
 *
 * @param plan The step plan.
 * @param p The partial records and their layout.
 * @param dWeight Receives `cin·cout·taps` floats.
 * @param dBias Receives `cout` floats, or undefined to skip the biases.
 * @param accumulate Add to the outputs instead of overwriting them.
 * @param op Op name for labels.
 * @returns The dispatch.
 */
export function pushGradReduce(
  plan: StepPlan,
  p: GradPartials,
  dWeight: BufferArg,
  dBias: BufferArg | undefined,
  accumulate: boolean,
  op: string,
): Dispatch {
  // Without a bias the reduce still needs a distinct writable binding: 4 bytes of scratch.
  const db = dBias ?? plan.scratch(4, `${op}.noBias`);
  return plan.push(convGradReduceSpec, { part: p.part, dw: dWeight, db }, {
    Cin: p.cin,
    Cout: p.cout,
    T: p.taps,
    Tp: gradRecordLength(p.taps),
    CoP: p.coP,
    coMajor: p.coMajor ? 1 : 0,
    stride: p.stride,
    chunks: p.chunks,
    hasBias: dBias ? 1 : 0,
    accumulate: accumulate ? 1 : 0,
    one: 1,
  });
}

/** Where a tile-storing kernel writes (its `y*` uniforms) and how to finish. */
export interface TileTarget {
  /** Buffer (or range from byte 0) to bind as the kernel's output. */
  buffer: BufferArg;
  /** Output uniforms of the kernel (`vec4` addressing, accumulate flag). */
  uniforms: {
    yTot: number;
    yOff: number;
    yS4: number;
    yDS4: number;
    yW4: number;
    accumulate: number;
  };
  /** Pushes the unpack into the view when the kernel wrote to scratch (no-op otherwise). */
  finish: (dispatches: Dispatch[]) => void;
}

/**
 * Resolve the output of a kernel that stores whole tiles (`tile = [channels, rows, columns]`,
 * columns a multiple of 4) as `vec4`s without bounds checks: the view itself when its channel
 * count, H and W are multiples of the tile, else a tile-padded scratch that
 * {@linkcode conv3dUnpackSpec} then copies (and accumulates) into the view.
 *
 * @param plan The step plan.
 * @param y The output view.
 * @param tile `[channels, rows, columns]` of one invocation's block.
 * @param accumulate Whether the result is added to the view.
 * @param op Op name for errors and labels.
 * @returns The target.
 * @throws {RangeError} When the scratch exceeds the binding limits.
 */
export function tileTarget(
  plan: StepPlan,
  y: TensorView,
  tile: readonly [number, number, number],
  accumulate: boolean,
  op: string,
): TileTarget {
  const ly = layoutOf(y, `${op} output`);
  const [tc, th, tw] = tile;
  checkU32(op, ly.n * ly.cTot * ly.spatial);
  if (ly.c % tc === 0 && ly.h % th === 0 && ly.w % tw === 0) {
    return {
      buffer: _span(plan, y.buffer, viewSpan(ly)),
      uniforms: {
        yTot: ly.cTot,
        yOff: ly.cOff,
        yS4: ly.spatial / 4,
        yDS4: (ly.h * ly.w) / 4,
        yW4: ly.w / 4,
        accumulate: accumulate ? 1 : 0,
      },
      finish: () => {},
    };
  }
  const cp = Math.ceil(ly.c / tc) * tc;
  const hq = Math.ceil(ly.h / th) * th;
  const wq = Math.ceil(ly.w / tw) * tw;
  const floats = ly.n * cp * ly.d * hq * wq;
  checkBinding(plan, op, "tile-padded output", floats);
  const yp = plan.scratch(floats * 4, `${op}.tiles`);
  return {
    buffer: yp,
    uniforms: {
      yTot: cp,
      yOff: 0,
      yS4: (ly.d * hq * wq) / 4,
      yDS4: (hq * wq) / 4,
      yW4: wq / 4,
      accumulate: 0,
    },
    finish: (dispatches) => {
      dispatches.push(plan.push(conv3dUnpackSpec, { yp, y: _span(plan, y.buffer, viewSpan(ly)) }, {
        C: ly.c,
        D: ly.d,
        H: ly.h,
        W: ly.w,
        yTot: ly.cTot,
        yOff: ly.cOff,
        Cp: cp,
        Hq: hq,
        Wq: wq,
        Dy: ly.d,
        d0: 0,
        row0: 0,
        rows: ly.n * ly.c * ly.d * ly.h,
        accumulate: accumulate ? 1 : 0,
      }));
    },
  };
}

/** Push the direct kernel into a {@linkcode tileTarget} of `y`. */
function _direct(
  plan: StepPlan,
  xp: PackedActivation,
  wp: GPUBuffer,
  y: TensorView,
  ly: ViewLayout,
  kernel: Kernel3,
  blocking: ConvDirectBlocking,
  accumulate: boolean,
  op: string,
  dispatches: Dispatch[],
): void {
  const g = xp.geometry;
  const { ph, pw, co } = blocking;
  const nHB = Math.ceil(ly.h / ph);
  const nWB = Math.ceil(ly.w / pw);
  const coBlocks = Math.ceil(ly.c / co);
  const target = tileTarget(plan, y, [co, ph, pw], accumulate, op);
  dispatches.push(
    plan.push(conv3dDirectSpec({ kernel, blocking }), {
      xp: _span(plan, xp.buffer, _packedBytes(xp)),
      wp,
      y: target.buffer,
    }, {
      Cin: xp.shape[1],
      xTot: xp.channelStride,
      xOff: xp.channelOffset,
      Dp: g.dp,
      Hp: g.hp,
      Wp4: g.wp / 4,
      CoP4: (coBlocks * co) / 4,
      nHB,
      nWB,
      blocks: Math.ceil(ly.d / (blocking.pd ?? 1)) * nHB * nWB,
      coBlocks,
      N: ly.n,
      ...target.uniforms,
    }),
  );
  target.finish(dispatches);
}

/**
 * An activation in a packed layout: the view itself when its layout already is `geometry`
 * (no halo, rows and columns not padded, no channel padding), else a plan scratch copy made
 * by a pack dispatch (pushed onto `dispatches`), with `vec4` loads when `W % 4 = 0`.
 *
 * @param plan The step plan.
 * @param x Source view `[N, C, D, H, W]`.
 * @param geometry Target layout (`haloGeometry`, `alignedGeometry`, …) of the same batch.
 * @param dispatches Receives the pack dispatch, if one is needed.
 * @param op Op name for errors and labels.
 * @param avoid A buffer the consumer writes: the view is copied even when it could be used in
 *   place if it lives there (WebGPU forbids binding a written buffer twice in a dispatch).
 * @returns The packed activation.
 * @throws {TypeError} When the view is invalid.
 * @throws {RangeError} When the packed buffer exceeds the binding limits.
 */
export function packActivation(
  plan: StepPlan,
  x: TensorView,
  geometry: ConvGeometry,
  dispatches: Dispatch[],
  op = "packActivation",
  avoid?: GPUBuffer,
): PackedActivation {
  const lx = layoutOf(x, `${op} x`);
  checkU32(op, lx.n * lx.cTot * lx.spatial);
  const shape = x.shape;
  if (
    x.buffer !== avoid && geometry.offset.every((o) => o === 0) && geometry.cb === lx.c &&
    geometry.dp === lx.d && geometry.hp === lx.h && geometry.wp === lx.w
  ) {
    return { buffer: x.buffer, geometry, shape, channelStride: lx.cTot, channelOffset: lx.cOff };
  }
  const floats = geometryFloats(geometry);
  checkBinding(plan, op, "packed activation", floats);
  const buffer = plan.scratch(floats * 4, `${op}.packed`);
  const rows = geometry.n * geometry.cb * geometry.dp * geometry.hp;
  const spec = lx.w % 4 === 0 ? conv3dPackVec4Spec(geometry.offset[2] % 4) : conv3dPackSpec;
  dispatches.push(plan.push(spec, { x: _span(plan, x.buffer, viewSpan(lx)), xp: buffer }, {
    C: lx.c,
    D: lx.d,
    H: lx.h,
    W: lx.w,
    xTot: lx.cTot,
    xOff: lx.cOff,
    Cb: geometry.cb,
    Dp: geometry.dp,
    Hp: geometry.hp,
    Wp4: geometry.wp / 4,
    oD: geometry.offset[0],
    oH: geometry.offset[1],
    oW: geometry.offset[2],
    d0: 0,
    row0: 0,
    rows,
  }));
  return { buffer, geometry, shape, channelStride: geometry.cb, channelOffset: 0 };
}

function _packWeights(
  plan: StepPlan,
  weight: BufferArg,
  bias: BufferArg | undefined,
  cin: number,
  cout: number,
  T: number,
  co: number,
  transpose: boolean,
  dispatches: Dispatch[],
): GPUBuffer {
  // Forward: A = Cin, B = Cout. Input gradient: the packed conv maps Cout → Cin.
  const A = transpose ? cout : cin;
  const B = transpose ? cin : cout;
  const BP = Math.ceil(B / co) * co;
  const total = A * T * BP + BP;
  const wp = plan.scratch(total * 4, transpose ? "conv3d.weightsT" : "conv3d.weights");
  dispatches.push(plan.push(conv3dPackWeightsSpec, { w: weight, bias: bias ?? weight, wp }, {
    A,
    B,
    BP,
    T,
    transpose: transpose ? 1 : 0,
    flip: transpose ? 1 : 0,
    hasBias: bias ? 1 : 0,
    total,
  }));
  return wp;
}

/** Spatial blocks of the default 4 × 8 tile over a view: `N·D·⌈H/4⌉·⌈W/8⌉`. */
function _blocks(l: ViewLayout): number {
  return l.n * l.d * Math.ceil(l.h / CONV_PH_MAX) * Math.ceil(l.w / CONV_PW);
}

function _taps(kernel: Kernel3): number {
  if (
    !Array.isArray(kernel) || kernel.length !== 3 ||
    !kernel.every((k) => Number.isInteger(k) && k >= 1 && k % 2 === 1)
  ) {
    throw new RangeError(`Invalid kernel ${JSON.stringify(kernel)}: extents must be odd integers`);
  }
  return kernel[0] * kernel[1] * kernel[2];
}

function _checkSpatial(op: string, name: string, a: ViewLayout, b: ViewLayout): void {
  if (a.n !== b.n || a.d !== b.d || a.h !== b.h || a.w !== b.w) {
    throw new TypeError(
      `Cannot run ${op}: ${name} is [${a.n}, ${a.c}, ${a.d}, ${a.h}, ${a.w}], which does not ` +
        `match [${b.n}, ${b.c}, ${b.d}, ${b.h}, ${b.w}] in batch and volume`,
    );
  }
}

function _sameGeometry(a: ConvGeometry, b: ConvGeometry): boolean {
  return a.n === b.n && a.cb === b.cb && a.dp === b.dp && a.hp === b.hp && a.wp === b.wp &&
    a.offset.every((v, i) => v === b.offset[i]);
}

/**
 * Bytes from the start of a view's buffer to the end of its last row (what an op binds of
 * the view's buffer when the whole buffer exceeds the binding limit).
 *
 * @param l The view's layout.
 * @returns The byte span.
 */
export function viewSpan(l: ViewLayout): number {
  return ((l.n - 1) * l.cTot + l.cOff + l.c) * l.spatial * 4;
}

/** Bytes from the start of a packed activation's buffer to the end of its last row. */
function _packedBytes(p: PackedActivation): number {
  const g = p.geometry;
  return ((g.n - 1) * p.channelStride + p.channelOffset + g.cb) * g.dp * g.hp * g.wp * 4;
}

/** The whole buffer when it fits one binding, else its first `bytes` bytes (a view's span). */
function _span(plan: StepPlan, buffer: GPUBuffer, bytes: number): BufferArg {
  return buffer.size <= plan.bindingLimit ? buffer : { buffer, offset: 0, size: bytes };
}

/** Whether a packed copy of `x` is needed for `geometry` (see {@linkcode packActivation}). */
function _needsPack(x: TensorView, l: ViewLayout, g: ConvGeometry, avoid?: GPUBuffer): boolean {
  return !(x.buffer !== avoid && g.offset.every((o) => o === 0) && g.cb === l.c &&
    g.dp === l.d && g.hp === l.h && g.wp === l.w);
}

/** Whether every binding of the unchunked direct conv (pack, conv, unpack) fits. */
function _directFits(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  geometry: ConvGeometry,
  ly: ViewLayout,
  blocking: ConvDirectBlocking,
  avoid: GPUBuffer,
): boolean {
  if (!fitsBinding(plan, viewSpan(lx) / 4) || !fitsBinding(plan, viewSpan(ly) / 4)) return false;
  if (_needsPack(x, lx, geometry, avoid) && !fitsBinding(plan, geometryFloats(geometry))) {
    return false;
  }
  const { co, ph, pw } = blocking;
  if (ly.c % co === 0 && ly.h % ph === 0 && ly.w % pw === 0) return true;
  const tiles = ly.n * Math.ceil(ly.c / co) * co * ly.d * Math.ceil(ly.h / ph) * ph *
    Math.ceil(ly.w / pw) * pw;
  return fitsBinding(plan, tiles);
}

/** Whether every binding of the unchunked weight gradient fits. */
function _weightGradFits(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  geometry: ConvGeometry,
  dy: TensorView,
  ldy: ViewLayout,
  dyGeometry: ConvGeometry,
  blocking: ConvWeightGradBlocking,
  taps: number,
): boolean {
  if (!fitsBinding(plan, viewSpan(lx) / 4) || !fitsBinding(plan, viewSpan(ldy) / 4)) {
    return false;
  }
  if (_needsPack(x, lx, geometry) && !fitsBinding(plan, geometryFloats(geometry))) return false;
  if (_needsPack(dy, ldy, dyGeometry) && !fitsBinding(plan, geometryFloats(dyGeometry))) {
    return false;
  }
  const nHB = Math.ceil(lx.h / blocking.ph);
  const nWB = Math.ceil(lx.w / blocking.pw);
  const coBlocks = Math.ceil(ldy.c / blocking.co);
  const { chunks } = weightGradChunks(lx.n * lx.d * nHB, nWB, lx.c * coBlocks, isCpuAdapter(plan));
  return fitsBinding(plan, chunks * lx.c * coBlocks * blocking.co * gradRecordLength(taps));
}

/**
 * Depth slices per slab: the most that keep every slab buffer (`floatsPerSlice` floats per
 * slice plus `halo` extra slices each) within the binding limit.
 *
 * @param plan The step plan.
 * @param op Op name for the error.
 * @param depth Depth of the volume (the most a slab needs).
 * @param buffers The slab buffers: what they hold, floats per slice, extra halo slices.
 * @returns Slices per slab (at least 1).
 * @throws {RangeError} When one slice (with its halo) of a buffer exceeds the binding limit.
 */
export function slabDepth(
  plan: StepPlan,
  op: string,
  depth: number,
  buffers: readonly { what: string; floatsPerSlice: number; halo: number }[],
): number {
  let s = depth;
  for (const b of buffers) {
    const fit = Math.floor(plan.bindingLimit / (4 * b.floatsPerSlice)) - b.halo;
    if (fit < 1) {
      throw new RangeError(
        `Cannot run ${op}: ${b.what} of one depth slice need ${
          (1 + b.halo) * b.floatsPerSlice * 4
        } bytes, the binding limit is ${plan.bindingLimit}`,
      );
    }
    s = Math.min(s, fit);
  }
  return s;
}

/** A plan scratch buffer bound as exactly its first `bytes` bytes. */
function _scratchRange(plan: StepPlan, bytes: number, label: string) {
  return { buffer: plan.scratch(bytes, label), offset: 0, size: bytes };
}

/**
 * Pack depths `[d0 − oD, d0 − oD + g.dp)` of sample `n` of `x` into `xs` (geometry `g`, one
 * sample), one dispatch per range of channels whose rows fit a binding.
 *
 * @param plan The step plan.
 * @param x Source view.
 * @param lx Its layout.
 * @param n Sample.
 * @param d0 First source depth of the slab (before the halo).
 * @param g Geometry of the slab (`n = 1`, `dp` = slab depth plus halo).
 * @param xs The slab buffer.
 * @param dispatches Receives the pack dispatches.
 * @param op Op name for errors.
 * @throws {RangeError} When one channel row of `x` exceeds the binding limit.
 */
export function packSlab(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  n: number,
  d0: number,
  g: ConvGeometry,
  xs: BufferArg,
  dispatches: Dispatch[],
  op: string,
): void {
  const vec = lx.w % 4 === 0 ? 4 : 1;
  const sample = {
    buffer: x.buffer,
    cTot: lx.cTot,
    cOff: n * lx.cTot + lx.cOff,
    plane: lx.spatial,
    vec,
  };
  const chunks = rowChunks(op, 1, lx.c, [sample], plan.limits);
  const spec = vec === 4 ? conv3dPackVec4Spec(g.offset[2] % 4) : conv3dPackSpec;
  const rowsPerChannel = g.dp * g.hp;
  chunks.forEach((ch, i) => {
    const end = i === chunks.length - 1 ? g.cb : ch.c0 + ch.cc; // the last writes the padding
    dispatches.push(plan.push(spec, { x: ch.windows[0].binding, xp: xs }, {
      C: lx.c,
      D: lx.d,
      H: lx.h,
      W: lx.w,
      xTot: lx.cTot,
      xOff: ch.windows[0].offAbs,
      Cb: g.cb,
      Dp: g.dp,
      Hp: g.hp,
      Wp4: g.wp / 4,
      oD: g.offset[0],
      oH: g.offset[1],
      oW: g.offset[2],
      d0,
      row0: ch.c0 * rowsPerChannel,
      rows: end * rowsPerChannel,
    }));
  });
}

/**
 * The direct conv in depth slabs (operands that exceed a binding): per sample and slab, pack
 * the slab with its halo, convolve into a slab of output tiles, unpack into `y`. Every output
 * element is the same sum in the same order as unchunked, so results are bit-identical.
 */
function _slabDirect(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  wp: GPUBuffer,
  y: TensorView,
  ly: ViewLayout,
  kernel: Kernel3,
  blocking: ConvDirectBlocking,
  accumulate: boolean,
  op: string,
  dispatches: Dispatch[],
): void {
  const full = haloGeometry(x.shape, kernel);
  const { ph, pw, co } = blocking;
  const nHB = Math.ceil(ly.h / ph);
  const nWB = Math.ceil(ly.w / pw);
  const coBlocks = Math.ceil(ly.c / co);
  const cp = coBlocks * co;
  const hq = nHB * ph;
  const wq = nWB * pw;
  const halo = kernel[0] - 1;
  const perX = lx.c * full.hp * full.wp;
  const s = slabDepth(plan, op, lx.d, [
    { what: "the packed input slab", floatsPerSlice: perX, halo },
    { what: "the output tiles", floatsPerSlice: cp * hq * wq, halo: 0 },
  ]);
  const xs = _scratchRange(plan, (s + halo) * perX * 4, `${op}.slab`);
  const ys = _scratchRange(plan, s * cp * hq * wq * 4, `${op}.slabTiles`);
  const spec = conv3dDirectSpec({ kernel, blocking });
  for (let n = 0; n < lx.n; n++) {
    for (let d0 = 0; d0 < lx.d; d0 += s) {
      const sd = Math.min(s, lx.d - d0);
      const g: ConvGeometry = { ...full, n: 1, dp: sd + halo };
      packSlab(plan, x, lx, n, d0, g, xs, dispatches, op);
      dispatches.push(plan.push(spec, { xp: xs, wp, y: ys }, {
        Cin: lx.c,
        xTot: lx.c,
        xOff: 0,
        Dp: g.dp,
        Hp: g.hp,
        Wp4: g.wp / 4,
        CoP4: cp / 4,
        nHB,
        nWB,
        blocks: Math.ceil(sd / (blocking.pd ?? 1)) * nHB * nWB,
        coBlocks,
        N: 1,
        yTot: cp,
        yOff: 0,
        yS4: (sd * hq * wq) / 4,
        yDS4: (hq * wq) / 4,
        yW4: wq / 4,
        accumulate: 0,
      }));
      const channels = { c0: 0, cc: ly.c, ccP: cp };
      unpackSlab(plan, ys, y, ly, n, channels, sd, d0, hq, wq, accumulate, op, dispatches);
    }
  }
}

/**
 * Copy a tile slab `ys` (`channels.ccP` padded channels × `D` slices × `hq` × `wq`) into the
 * channels `channels.c0 …` of sample `n` of `y` at depth `d0`, overwriting or adding; one
 * dispatch per range of channels whose rows fit a binding (the direct and transposed convs'
 * slab paths).
 *
 * @param plan The step plan.
 * @param ys The slab buffer.
 * @param y Destination view.
 * @param ly Its layout.
 * @param n Sample.
 * @param channels First channel, channel count and padded count of the slab.
 * @param D Slab depth.
 * @param d0 Destination depth of the slab's first slice.
 * @param hq Tile-padded height of the slab.
 * @param wq Tile-padded width of the slab.
 * @param accumulate Add into `y` instead of overwriting.
 * @param op Op name for errors.
 * @param dispatches Receives the unpack dispatches.
 * @throws {RangeError} When one channel row of `y` exceeds the binding limit.
 */
export function unpackSlab(
  plan: StepPlan,
  ys: BufferArg,
  y: TensorView,
  ly: ViewLayout,
  n: number,
  channels: { c0: number; cc: number; ccP: number },
  D: number,
  d0: number,
  hq: number,
  wq: number,
  accumulate: boolean,
  op: string,
  dispatches: Dispatch[],
): void {
  const sample = {
    buffer: y.buffer,
    cTot: ly.cTot,
    cOff: n * ly.cTot + ly.cOff + channels.c0,
    plane: ly.spatial,
  };
  for (const r of rowChunks(op, 1, channels.cc, [sample], plan.limits)) {
    dispatches.push(plan.push(conv3dUnpackSpec, { yp: ys, y: r.windows[0].binding }, {
      C: channels.cc,
      D,
      H: ly.h,
      W: ly.w,
      yTot: ly.cTot,
      yOff: r.windows[0].offAbs,
      Cp: channels.ccP,
      Hq: hq,
      Wq: wq,
      Dy: ly.d,
      d0,
      row0: r.c0 * D * ly.h,
      rows: (r.c0 + r.cc) * D * ly.h,
      accumulate: accumulate ? 1 : 0,
    }));
  }
}

/**
 * The weight gradient in depth slabs: per sample and slab, pack `x` (with halo) and `dy`,
 * reduce the slab's rows into its own partial records (chunks numbered on across slabs), then
 * a compensated reduction per group of slabs whose records fit one binding (groups after the
 * first add to `dWeight`). The chunk boundaries differ from the unchunked
 * op's, so results agree within float32 rounding of the partial sums, not bit for bit.
 */
function _slabWeightGrad(
  plan: StepPlan,
  x: TensorView,
  lx: ViewLayout,
  dy: TensorView,
  ldy: ViewLayout,
  dWeight: BufferArg,
  dBias: BufferArg | undefined,
  kernel: Kernel3,
  blocking: ConvWeightGradBlocking,
  options: Conv3dBackwardWeightOptions,
  dispatches: Dispatch[],
): void {
  const op = "conv3dBackwardWeight";
  const full = haloGeometry(x.shape, kernel);
  const dyFull = alignedGeometry(dy.shape, blocking.co);
  const T = _taps(kernel);
  const Cin = lx.c;
  const Cout = ldy.c;
  const halo = kernel[0] - 1;
  const perX = Cin * full.hp * full.wp;
  const perDy = dyFull.cb * dyFull.hp * dyFull.wp;
  const s = slabDepth(plan, op, lx.d, [
    { what: "the packed input slab", floatsPerSlice: perX, halo },
    { what: "the packed output-gradient slab", floatsPerSlice: perDy, halo: 0 },
  ]);
  const nHB = Math.ceil(lx.h / blocking.ph);
  const nWB = Math.ceil(lx.w / blocking.pw);
  const coBlocks = Math.ceil(Cout / blocking.co);
  const coP = coBlocks * blocking.co;
  const stride = Cin * coP * gradRecordLength(T);
  const slabs: { n: number; d0: number; sd: number; chunks: number; rpc: number }[] = [];
  for (let n = 0; n < lx.n; n++) {
    for (let d0 = 0; d0 < lx.d; d0 += s) {
      slabs.push({ n, d0, sd: Math.min(s, lx.d - d0), chunks: 0, rpc: 0 });
    }
  }
  const maxChunks = Math.floor(plan.bindingLimit / (4 * stride));
  if (maxChunks < 1) checkBinding(plan, op, "the partial sums of one chunk", stride);
  const cpu = isCpuAdapter(plan);
  for (const slab of slabs) {
    const rows = slab.sd * nHB;
    const wanted = weightGradChunks(rows, nWB, Cin * coBlocks, cpu).chunks;
    const least = Math.ceil((rows * nWB) / MAX_WEIGHT_GRAD_STEPS);
    const chunks = Math.min(rows, Math.max(least, Math.min(wanted, maxChunks), 1));
    if (chunks > maxChunks) {
      checkBinding(plan, op, "the partial sums of one depth slab", chunks * stride);
    }
    slab.rpc = Math.ceil(rows / chunks);
    slab.chunks = Math.ceil(rows / slab.rpc);
  }
  // Groups of slabs whose records fit one binding; each group is reduced into dW (the
  // groups after the first add to it).
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
  const xs = _scratchRange(plan, (s + halo) * perX * 4, `${op}.slab`);
  const dys = _scratchRange(plan, s * perDy * 4, `${op}.dySlab`);
  const part = _scratchRange(plan, most * stride * 4, `${op}.part`);
  const spec = conv3dWeightGradSpec({ kernel, blocking });
  groups.forEach((group, gi) => {
    let chunk0 = 0;
    for (const { n, d0, sd, chunks, rpc } of group) {
      const gx: ConvGeometry = { ...full, n: 1, dp: sd + halo };
      const gdy: ConvGeometry = { ...dyFull, n: 1, dp: sd };
      packSlab(plan, x, lx, n, d0, gx, xs, dispatches, op);
      packSlab(plan, dy, ldy, n, d0, gdy, dys, dispatches, op);
      dispatches.push(plan.push(spec, { xp: xs, dyp: dys, part }, {
        Cin,
        D: sd,
        nHB,
        nWB,
        xTot: Cin,
        xOff: 0,
        xDp: gx.dp,
        xHp: gx.hp,
        xWp4: gx.wp / 4,
        dyTot: gdy.cb,
        dyOff: 0,
        dyHp: gdy.hp,
        dyWp4: gdy.wp / 4,
        rows: sd * nHB,
        rpc,
        chunks,
        coBlocks,
        chunk0,
        chunkStride4: stride / 4,
      }));
      chunk0 += chunks;
    }
    const partials = {
      part,
      cin: Cin,
      cout: Cout,
      taps: T,
      coP,
      coMajor: true,
      stride,
      chunks: chunk0,
    };
    const accumulate = gi > 0 || (options.accumulate ?? false);
    dispatches.push(pushGradReduce(plan, partials, dWeight, dBias, accumulate, op));
  });
}
