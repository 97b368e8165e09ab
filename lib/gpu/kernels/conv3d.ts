/**
 * 3-D convolution kernels (stride 1, padding "same", odd kernels `kD×kH×kW`), float32 NCDHW.
 *
 * Every direction is a register-blocked direct convolution over *packed* operands:
 * - {@linkcode conv3dPackSpec} copies a view (any channel slice) into a zero-padded buffer whose
 *   rows are a multiple of 4 floats long and start on a `vec4` boundary, with the halo of the
 *   padding already in place, so the hot loops load whole `vec4`s and never test a border;
 * - {@linkcode conv3dPackWeightsSpec} re-lays the PyTorch weights `[Cout, Cin, kD, kH, kW]` as
 *   `[Cin][tap][Cout padded to CO]` (and, transposed and flipped, for the input gradient), with
 *   the bias after them;
 * - {@linkcode conv3dDirectSpec} computes `CO` output channels × `PH` rows × `PW` columns (of
 *   one or two depth slices) per invocation in registers. It serves the forward pass and the input gradient (a "same"
 *   convolution of `dy` with the flipped, transposed kernel), optionally accumulating;
 * - {@linkcode conv3dWeightGradSpec} reduces `dy · x` over `PH` rows × `PW` columns at a time for
 *   `CO × kD·kH·kW` weights (plus `CO` bias sums) per invocation, each invocation over its own
 *   chunk of rows, and writes one partial record per chunk; {@linkcode convGradReduceSpec}
 *   adds the records in a fixed order (deterministic, compensated).
 *
 * Why this shape (measured on Mesa llvmpipe, see `docs/performance.md`): llvmpipe runs the lanes
 * of a workgroup as 8-wide SIMD, but every storage-buffer load is a per-lane gather whether or
 * not the address is uniform; a `vec4` load costs about twice a scalar one for four times the
 * data. So the kernels maximise FMAs per `vec4` load (40–64 here) and keep far more
 * accumulators per invocation (256, or 512 with 16 output channels) than a GPU would; spilled accumulators are cheap
 * stack traffic next to a gather. No kernel uses workgroup memory or barriers. Loops are
 * unrolled at spec-build time except the channel and row loops, which keeps every invocation
 * far inside llvmpipe's budget of about 65,535 loop iterations (see `reduce.ts`).
 *
 * Packed activation layout (see {@linkcode ConvGeometry}): element `(n, c, d, h, w)` of the
 * source lives at float `(((n·Cb + c)·Dp + d + oD)·Hp + h + oH)·Wp + w + oW`; every other float
 * is zero.
 *
 * @module
 */

import { grid1d, type KernelSpec, wgsl } from "../kernel_spec.ts";

const XYZW = "xyzw";

/** Kernel extent `[kD, kH, kW]`, each odd. */
export type Kernel3 = readonly [number, number, number];

/** Register blocking of {@linkcode conv3dDirectSpec}. */
export interface ConvDirectBlocking {
  /** Output channels per invocation (multiple of 4). */
  co: number;
  /** Output rows (H) per invocation. */
  ph: number;
  /** Output columns (W) per invocation (multiple of 4). */
  pw: number;
  /** Invocations per workgroup. */
  wg: number;
  /**
   * Output depth slices per invocation (1 or 2; default 1): with 2 both slices share every
   * tap's weight loads. An odd depth leaves a last block of one slice (its second store is
   * skipped).
   */
  pd?: number;
}

/** Register blocking of {@linkcode conv3dWeightGradSpec}. */
export interface ConvWeightGradBlocking {
  /** Output channels (of the forward conv) per invocation. */
  co: number;
  /** Rows (H) reduced per inner step. */
  ph: number;
  /** Columns (W) reduced per inner step (multiple of 4). */
  pw: number;
  /** Invocations per workgroup. */
  wg: number;
}

/** Column tile of every conv kernel: packed rows are padded to a multiple of this. */
export const CONV_PW = 8;
/** Row tile that packed activations are padded to; every blocking's `ph` must divide it. */
export const CONV_PH_MAX = 4;

/**
 * Default blocking of the direct kernel. CPU adapters (llvmpipe): 8 channels × 4 rows × 8
 * columns (256 accumulators: spilled accumulators are cheap next to a gather), `wg` 16 so
 * small layers still give every core work; 16 channels × 4 × 8 (512 accumulators) where that
 * pays: at least 16 output channels whose padding to 16 costs less than the ≈ 15 % that the
 * larger block gains (the weight loads per FMA halve; measured +14 to +57 % per CPU-second on
 * the BRATS layers, see `docs/performance.md`), and at least {@linkcode CO16_MIN_INVOCATIONS}
 * invocations, so small layers keep enough workgroups for both cores. Other adapters:
 * 8 × 1 × 8 (64 accumulators, within a GPU's register file), `wg` 64. At most 4 output
 * channels (a segmentation head) use 4.
 *
 * @param cpu Whether the adapter is a CPU/fallback adapter.
 * @param outChannels Output channels of the conv the kernel computes.
 * @param options `blocks`: spatial blocks of the 4 × 8 tile, `N·D·⌈H/4⌉·⌈W/8⌉` (default 0:
 *   unknown, never 16 channels); `depth`: the output depth `D` (default 0: unknown, one depth
 *   per invocation).
 * @returns The blocking.
 * @example
 * ```ts
 * import { defaultDirectBlocking } from "./conv3d.ts";
 * // BRATS level 0 (30 channels, 48×80×80): 16 channels per invocation on llvmpipe.
 * const b = defaultDirectBlocking(true, 30, { blocks: 48 * 20 * 10 });
 * if (b.co !== 16) throw new Error(JSON.stringify(b));
 * ```
 */
export function defaultDirectBlocking(
  cpu: boolean,
  outChannels = 8,
  options: { blocks?: number; depth?: number } = {},
): ConvDirectBlocking {
  const co = outChannels <= 4 ? 4 : 8;
  if (!cpu) return { co, ph: 1, pw: CONV_PW, wg: 64 };
  const blocks = options.blocks ?? 0;
  const depth = options.depth ?? 0;
  const wide = _wideCpuBlock(outChannels, blocks);
  const pd = wide && depth > 0 &&
      PD2_GAIN * depth / _roundUp(depth, 2) > 1 &&
      (blocks / 2) * Math.ceil(outChannels / 16) >= CO16_MIN_INVOCATIONS
    ? 2
    : 1;
  return { co: wide ? 16 : co, ph: 4, pw: CONV_PW, wg: 16, pd };
}

/**
 * Speed of two output depths per invocation relative to one, per computed output, with the
 * 16-channel CPU block (each tap's weights then serve both slices: ≈ 154 FMAs per loaded
 * `vec4` instead of 85; measured +10 to +17 % on the BRATS layers, see `docs/performance.md`).
 * {@linkcode defaultDirectBlocking} takes two depths where this beats the padding of an odd
 * depth and there are still {@linkcode CO16_MIN_INVOCATIONS} invocations.
 */
const PD2_GAIN = 1.1;

/** Whether a CPU conv kernel should take 16 output channels (see `defaultDirectBlocking`). */
function _wideCpuBlock(outChannels: number, blocks: number): boolean {
  return outChannels >= 16 &&
    CO16_GAIN * outChannels / _roundUp(outChannels, 16) > outChannels / _roundUp(outChannels, 8) &&
    blocks * Math.ceil(outChannels / 16) >= CO16_MIN_INVOCATIONS;
}

/**
 * Fewest invocations (spatial blocks × 16-channel blocks) for which
 * {@linkcode defaultDirectBlocking} picks 16 channels on a CPU adapter: 32 workgroups of 16,
 * so both cores stay balanced. Of nnn-bench at B = 1 only the input gradient of dec1a (16
 * channels at 32³) reaches it; every BRATS conv at 48×80×80 above level 4 does, except the
 * input gradient of level 3's first conv.
 */
export const CO16_MIN_INVOCATIONS = 512;

/** Speed of the 16-channel CPU block relative to the 8-channel one, per computed output. */
const CO16_GAIN = 1.15;

/**
 * Default blocking of the weight-gradient kernel: per invocation `co·(T + 1)` accumulators and
 * `ph` rows × 8 columns per step. CPU adapters: 8 channels (4 for at most 4) × 2 rows, `wg` 16,
 * and 16 channels on the same large layers as {@linkcode defaultDirectBlocking} (each loaded
 * `x` vector then serves twice the FMAs; measured +11 to +19 % per CPU-second on the BRATS
 * layers); other adapters: 4 channels × 1 row, `wg` 64.
 *
 * @param cpu Whether the adapter is a CPU/fallback adapter.
 * @param outChannels Output channels of the forward conv.
 * @param options `blocks`: spatial blocks `N·D·⌈H/4⌉·⌈W/8⌉` of the volume (default 0:
 *   unknown, never 16 channels).
 * @returns The blocking.
 */
export function defaultWeightGradBlocking(
  cpu: boolean,
  outChannels = 8,
  options: { blocks?: number } = {},
): ConvWeightGradBlocking {
  if (!cpu) return { co: 4, ph: 1, pw: CONV_PW, wg: 64 };
  const co = _wideCpuBlock(outChannels, options.blocks ?? 0) ? 16 : outChannels <= 4 ? 4 : 8;
  return { co, ph: 2, pw: CONV_PW, wg: 16 };
}

/** Geometry of a packed (zero-padded, row-aligned) activation buffer. */
export interface ConvGeometry {
  /** Batch. */
  n: number;
  /** Channels stored (≥ the source's; the extra ones are zero). */
  cb: number;
  /** Depth slices. */
  dp: number;
  /** Rows per depth slice. */
  hp: number;
  /** Floats per row (multiple of 4). */
  wp: number;
  /** Where source element `(d, h, w) = (0, 0, 0)` sits: `[oD, oH, oW]`. */
  offset: readonly [number, number, number];
}

/**
 * Geometry of the packed input of a "same" convolution over a `[N, C, D, H, W]` volume:
 * a halo of `(k − 1)/2` on each side, rows padded to a multiple of {@linkcode CONV_PH_MAX},
 * columns to a multiple of {@linkcode CONV_PW} plus the `vec4`s the last column tile reads.
 *
 * @param shape Source shape `[N, C, D, H, W]`.
 * @param kernel Kernel extent.
 * @returns The geometry.
 */
export function haloGeometry(shape: readonly number[], kernel: Kernel3): ConvGeometry {
  const [n, c, d, h, w] = shape;
  const [kd, kh, kw] = kernel;
  const l = Math.ceil((CONV_PW + kw - 1) / 4);
  return {
    n,
    cb: c,
    dp: d + kd - 1,
    hp: _roundUp(h, CONV_PH_MAX) + kh - 1,
    wp: _roundUp(w, CONV_PW) + 4 * l - CONV_PW,
    offset: [(kd - 1) / 2, (kh - 1) / 2, (kw - 1) / 2],
  };
}

/**
 * Geometry of a packed operand without halo: rows padded to {@linkcode CONV_PH_MAX}, columns
 * to {@linkcode CONV_PW}, channels to `channelMultiple` (zeros).
 *
 * @param shape Source shape `[N, C, D, H, W]`.
 * @param channelMultiple Channels are padded to a multiple of this.
 * @returns The geometry.
 */
export function alignedGeometry(shape: readonly number[], channelMultiple = 1): ConvGeometry {
  const [n, c, d, h, w] = shape;
  return {
    n,
    cb: _roundUp(c, channelMultiple),
    dp: d,
    hp: _roundUp(h, CONV_PH_MAX),
    wp: _roundUp(w, CONV_PW),
    offset: [0, 0, 0],
  };
}

/**
 * Floats of a packed buffer.
 *
 * @param g The geometry.
 * @returns `n · cb · dp · hp · wp`.
 */
export function geometryFloats(g: ConvGeometry): number {
  return g.n * g.cb * g.dp * g.hp * g.wp;
}

/** Uniforms of {@linkcode conv3dPackSpec}. */
export type ConvPackUniform =
  | "C"
  | "D"
  | "H"
  | "W"
  | "xTot"
  | "xOff"
  | "Cb"
  | "Dp"
  | "Hp"
  | "Wp4"
  | "oD"
  | "oH"
  | "oW"
  | "d0"
  | "row0"
  | "rows";

const PACK_WG = 64;

/**
 * Copy a view `x` (`[N, C, D, H, W]`, any channel slice) into a packed, zero-padded buffer
 * `xp` (see {@linkcode ConvGeometry}); one invocation per padded row. Every float of `xp` is
 * written, so the buffer needs no clearing.
 *
 * A dispatch covers packed rows `[row0, rows)` (uniforms). Packed depth `dd` holds source depth
 * `dd + d0 − oD`: with `d0 > 0` the buffer is a depth slab of the source whose halo holds the
 * neighbouring slices (zero only outside the volume), which is how the conv ops split a volume
 * that exceeds a binding into slabs.
 */
export const conv3dPackSpec: KernelSpec<ConvPackUniform> = {
  name: "conv3dPack",
  bindings: { x: "read", xp: { access: "write", type: "vec4<f32>" } },
  uniforms: {
    C: "u32",
    D: "u32",
    H: "u32",
    W: "u32",
    xTot: "u32",
    xOff: "u32",
    Cb: "u32",
    Dp: "u32",
    Hp: "u32",
    Wp4: "u32",
    oD: "u32",
    oH: "u32",
    oW: "u32",
    d0: "u32",
    row0: "u32",
    rows: "u32",
  },
  workgroupSize: PACK_WG,
  dispatch: ({ row0, rows }) => grid1d(rows - row0, PACK_WG),
  body: wgsl`
  let row = gid.x + gid.y * nwg.x * ${PACK_WG}u + u.row0;
  if (row >= u.rows) { return; }
  let hh = row % u.Hp;
  let t1 = row / u.Hp;
  let dd = t1 % u.Dp;
  let t2 = t1 / u.Dp;
  let c = t2 % u.Cb;
  let n = t2 / u.Cb;
  let d = i32(dd) + i32(u.d0) - i32(u.oD);
  let h = i32(hh) - i32(u.oH);
  let valid = c < u.C && d >= 0 && d < i32(u.D) && h >= 0 && h < i32(u.H);
  let src = select(0u, ((n * u.xTot + u.xOff + c) * u.D + u32(d)) * u.H * u.W + u32(h) * u.W, valid);
  let dst = row * u.Wp4;
  let w0 = -i32(u.oW);
  for (var q = 0u; q < u.Wp4; q++) {
    var v = vec4<f32>(0.0);
    if (valid) {
      let wq = w0 + i32(q * 4u);
      for (var k = 0; k < 4; k++) {
        let w = wq + k;
        if (w >= 0 && w < i32(u.W)) { v[k] = x[src + u32(w)]; }
      }
    }
    xp[dst + q] = v;
  }`,
};

/**
 * {@linkcode conv3dPackSpec} for sources whose rows are whole `vec4`s (`W % 4 = 0`, so every
 * row of every channel slice starts on a `vec4`): one `vec4` load per `vec4` written instead
 * of four guarded scalar loads (about 3× faster on llvmpipe). The column offset `oW` must
 * satisfy `oW % 4 = shift`.
 *
 * @param shift `oW % 4` (0–3), a compile-time constant.
 * @returns The spec (named `conv3dPackVec4_s<shift>`).
 * @throws {RangeError} When `shift` is not 0–3.
 */
export function conv3dPackVec4Spec(shift: number): KernelSpec<ConvPackUniform> {
  if (!Number.isInteger(shift) || shift < 0 || shift > 3) {
    throw new RangeError(`Cannot build conv3dPackVec4: shift ${shift} is not 0–3`);
  }
  // Written vec4 q holds source columns 4q − oW … 4q − oW + 3: with m = ⌈oW/4⌉ these are the
  // last 4 − shift components of source vec4 q − m (`lo`) and the first `shift` of vec4
  // q − m + 1 (`hi`); with shift 0 exactly source vec4 q − oW/4.
  const combine = shift === 0 ? "hi" : `vec4<f32>(${
    [...Array(4).keys()].map((k) => {
      const c = 4 - shift + k;
      return c < 4 ? `lo.${XYZW[c]}` : `hi.${XYZW[c - 4]}`;
    }).join(", ")
  })`;
  return {
    name: `conv3dPackVec4_s${shift}`,
    bindings: {
      x: { access: "read", type: "vec4<f32>" },
      xp: { access: "write", type: "vec4<f32>" },
    },
    uniforms: conv3dPackSpec.uniforms,
    workgroupSize: PACK_WG,
    dispatch: conv3dPackSpec.dispatch,
    body: wgsl`
  let row = gid.x + gid.y * nwg.x * ${PACK_WG}u + u.row0;
  if (row >= u.rows) { return; }
  let hh = row % u.Hp;
  let t1 = row / u.Hp;
  let dd = t1 % u.Dp;
  let t2 = t1 / u.Dp;
  let c = t2 % u.Cb;
  let n = t2 / u.Cb;
  let d = i32(dd) + i32(u.d0) - i32(u.oD);
  let h = i32(hh) - i32(u.oH);
  let valid = c < u.C && d >= 0 && d < i32(u.D) && h >= 0 && h < i32(u.H);
  let w4 = i32(u.W / 4u);
  let src = select(0u, (((n * u.xTot + u.xOff + c) * u.D + u32(d)) * u.H + u32(h)) * u32(w4), valid);
  let dst = row * u.Wp4;
  let k0 = ${shift === 0 ? "" : "1 "}- i32((u.oW + 3u) / 4u);
  var lo = vec4<f32>(0.0);
  for (var q = 0u; q < u.Wp4; q++) {
    let k = k0 + i32(q);
    var hi = vec4<f32>(0.0);
    if (valid && k >= 0 && k < w4) { hi = x[src + u32(k)]; }
    xp[dst + q] = ${combine};
    lo = hi;
  }`,
  };
}

/** Uniforms of {@linkcode conv3dPackWeightsSpec}. */
export type ConvPackWeightsUniform =
  | "A"
  | "B"
  | "BP"
  | "T"
  | "transpose"
  | "flip"
  | "hasBias"
  | "total";

/**
 * Re-lay conv weights for the direct kernels: `wp[(a·T + t)·BP + b]` for `a` the packed
 * conv's input channel, `t` its tap and `b < BP` its output channel (zero for `b ≥ B`), then
 * `BP` biases at `A·T·BP` (zero without bias). The source tap is `t'` = `T − 1 − t` with
 * `flip = 1` (the kernel mirrored in all three axes), else `t`; the source element is
 * `w[b, a, t']` (`transpose = 0`, weights `[B, A, T]`) or `w[a, b, t']` (`transpose = 1`,
 * weights `[A, B, T]`). So:
 * - conv forward: `A = Cin`, `B = Cout`, transpose 0, flip 0, with bias;
 * - conv input gradient: `A = Cout`, `B = Cin`, transpose 1, flip 1.
 *
 * (The transposed conv packs its weights with `convTranspose3dPackWeightsSpec`, which also
 * packs blocks of channels from windows of weights larger than a binding.)
 *
 * `bias` must be bound even without bias (bind the weights again; it is only read).
 */
export const conv3dPackWeightsSpec: KernelSpec<ConvPackWeightsUniform> = {
  name: "conv3dPackWeights",
  bindings: { w: "read", bias: "read", wp: "write" },
  uniforms: {
    A: "u32",
    B: "u32",
    BP: "u32",
    T: "u32",
    transpose: "u32",
    flip: "u32",
    hasBias: "u32",
    total: "u32",
  },
  workgroupSize: PACK_WG,
  dispatch: ({ total }) => grid1d(total, PACK_WG),
  body: wgsl`
  let i = gid.x + gid.y * nwg.x * ${PACK_WG}u;
  if (i >= u.total) { return; }
  let nw = u.A * u.T * u.BP;
  var v = 0.0;
  if (i < nw) {
    let b = i % u.BP;
    let r = i / u.BP;
    let t = r % u.T;
    let a = r / u.T;
    if (b < u.B) {
      let ts = select(t, u.T - 1u - t, u.flip != 0u);
      if (u.transpose == 0u) {
        v = w[(b * u.A + a) * u.T + ts];
      } else {
        v = w[(a * u.B + b) * u.T + ts];
      }
    }
  } else {
    let b = i - nw;
    if (u.hasBias != 0u && b < u.B) { v = bias[b]; }
  }
  wp[i] = v;`,
};

/** Uniforms of {@linkcode conv3dDirectSpec}. */
export type ConvDirectUniform =
  | "Cin"
  | "xTot"
  | "xOff"
  | "Dp"
  | "Hp"
  | "Wp4"
  | "CoP4"
  | "nHB"
  | "nWB"
  | "blocks"
  | "coBlocks"
  | "yTot"
  | "yOff"
  | "yS4"
  | "yDS4"
  | "yW4"
  | "N"
  | "accumulate";

/**
 * Direct "same" convolution `y = conv(xp, wp) + bias` (or `y += …` when the `accumulate`
 * uniform is 1) for packed operands. Invocation `(block, coBlock, n)` computes `co` output
 * channels × `ph` rows × `pw` columns of `pd` (1 or 2) depth slices: per input channel and
 * depth tap it loads `(ph + kH − 1)·⌈(pw + kW − 1)/4⌉` input `vec4`s (plus, with `pd = 2`, one
 * more input slice per input channel) and `kH·kW·co/4` weight `vec4`s and issues
 * `pd·kH·kW·ph·pw·co` FMAs. `xp` must have {@linkcode haloGeometry}; `wp` comes from
 * {@linkcode conv3dPackWeightsSpec} with `BP = 4·CoP4`.
 *
 * The block is stored without bounds checks as `vec4`s along W into a tile-aligned target:
 * output `(n, c, d, h, w)` at `vec4` `(n·yTot + yOff + c)·yS4 + d·yDS4 + h·yW4 + w/4`,
 * for every `c < coBlocks·co`, `h < nHB·ph`, `w < nWB·pw`. That is the output view itself
 * when its `H`, `W` and channel count are multiples of the tile (and `W` of 4), else a padded
 * scratch that {@linkcode conv3dUnpackSpec} copies into the view.
 *
 * @param options Kernel extent and blocking (compile-time constants).
 * @returns The spec (named `conv3dDirect_<kD><kH><kW>_…`).
 * @throws {RangeError} When a kernel extent is even or the blocking is not a multiple of 4.
 */
export function conv3dDirectSpec(
  options: { kernel: Kernel3; blocking: ConvDirectBlocking },
): KernelSpec<ConvDirectUniform> {
  const [KD, KH, KW] = _checkKernel(options.kernel);
  const { co, ph, pw, wg } = options.blocking;
  const PD = options.blocking.pd ?? 1;
  if (
    !_positiveInts(co, ph, pw, wg) || co % 4 !== 0 || pw % 4 !== 0 || pw > CONV_PW ||
    CONV_PH_MAX % ph !== 0 || (PD !== 1 && PD !== 2)
  ) {
    throw new RangeError(
      `Cannot build conv3dDirect: blocking ${JSON.stringify(options.blocking)} is not supported`,
    );
  }
  const T = KD * KH * KW;
  const CO4 = co / 4;
  const rows = ph + KH - 1;
  const L = Math.ceil((pw + KW - 1) / 4);
  const acc = (e: number, r: number, p: number, q: number) => `a${e}_${r}_${p}_${q}`;
  const init: string[] = [];
  for (let q = 0; q < CO4; q++) init.push(`let b${q} = wp[u.Cin * ${T}u * u.CoP4 + cb4 + ${q}u];`);
  for (let e = 0; e < PD; e++) {
    for (let r = 0; r < ph; r++) {
      for (let p = 0; p < pw; p++) {
        for (let q = 0; q < CO4; q++) init.push(`var ${acc(e, r, p, q)} = b${q};`);
      }
    }
  }
  // Input slice s of the block's window (s < KD + PD − 1) is loaded once, just before the
  // first depth tap that reads it; output slice e reads slice kd + e at depth tap kd, so
  // with PD = 2 each tap's weights serve both slices (same FMA order per output as PD = 1).
  const inner: string[] = [];
  const loadSlice = (sl: number) => {
    inner.push(`let rb${sl} = xb + ${sl}u * u.Hp * u.Wp4;`);
    for (let j = 0; j < rows; j++) {
      for (let l = 0; l < L; l++) {
        inner.push(`let x${sl}_${j}_${l} = xp[rb${sl} + ${j}u * u.Wp4 + ${l}u];`);
      }
    }
  };
  const xs = (sl: number, j: number, c: number) =>
    `x${sl}_${j}_${Math.floor(c / 4)}.${XYZW[c % 4]}`;
  for (let sl = 0; sl < PD - 1; sl++) loadSlice(sl);
  for (let kd = 0; kd < KD; kd++) {
    loadSlice(kd + PD - 1);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const tap = (kd * KH + kh) * KW + kw;
        inner.push(`{`);
        for (let q = 0; q < CO4; q++) {
          inner.push(`let k${q} = wp[wb + ${tap}u * u.CoP4 + ${q}u];`);
        }
        for (let e = 0; e < PD; e++) {
          for (let r = 0; r < ph; r++) {
            for (let p = 0; p < pw; p++) {
              for (let q = 0; q < CO4; q++) {
                const a = acc(e, r, p, q);
                inner.push(`${a} = fma(vec4<f32>(${xs(kd + e, r + kh, p + kw)}), k${q}, ${a});`);
              }
            }
          }
        }
        inner.push(`}`);
      }
    }
  }
  // Stores: unconditional vec4s along W into a tile-aligned target (the output view itself
  // when its shape is a multiple of the tile, else a padded scratch that conv3dUnpackSpec
  // copies out). Guarded scalar stores made llvmpipe's compile time explode (seconds per
  // kernel for 256 scatters) without being faster. With PD = 2 the second slice is skipped
  // past the last depth (`Dp − (kD − 1)` is the output depth of the dispatch).
  const stores: string[] = [];
  for (let e = 0; e < PD; e++) {
    if (e > 0) stores.push(`if (d + ${e}u < u.Dp - ${KD - 1}u) {`);
    for (let r = 0; r < ph; r++) {
      for (let q = 0; q < CO4; q++) {
        for (let c = 0; c < 4; c++) {
          const ch = 4 * q + c;
          for (let pv = 0; pv < pw / 4; pv++) {
            const v = [0, 1, 2, 3].map((k) => `${acc(e, r, 4 * pv + k, q)}.${XYZW[c]}`).join(
              ", ",
            );
            stores.push(`{`);
            stores.push(
              `  let i = yb + ${ch}u * u.yS4 + ${
                e > 0 ? `${e}u * u.yDS4 + ` : ""
              }${r}u * u.yW4 + ${pv}u;`,
            );
            stores.push(`  y[i] = vec4<f32>(${v}) + select(vec4<f32>(0.0), y[i], acc);`);
            stores.push(`}`);
          }
        }
      }
    }
    if (e > 0) stores.push(`}`);
  }
  return {
    name: `conv3dDirect_${KD}${KH}${KW}_co${co}h${ph}w${pw}g${wg}${PD > 1 ? `d${PD}` : ""}`,
    bindings: {
      xp: { access: "read", type: "vec4<f32>" },
      wp: { access: "read", type: "vec4<f32>" },
      y: { access: "read_write", type: "vec4<f32>" },
    },
    uniforms: {
      Cin: "u32",
      xTot: "u32",
      xOff: "u32",
      Dp: "u32",
      Hp: "u32",
      Wp4: "u32",
      CoP4: "u32",
      nHB: "u32",
      nWB: "u32",
      blocks: "u32",
      coBlocks: "u32",
      yTot: "u32",
      yOff: "u32",
      yS4: "u32",
      yDS4: "u32",
      yW4: "u32",
      N: "u32",
      accumulate: "u32",
    },
    workgroupSize: wg,
    dispatch: ({ blocks, coBlocks, N }) => [Math.ceil(blocks / wg), coBlocks, N],
    body: wgsl`
  let t = gid.x;
  if (t >= u.blocks) { return; }
  let wbk = t % u.nWB;
  let t1 = t / u.nWB;
  let hb = t1 % u.nHB;
  let d = (t1 / u.nHB) * ${PD}u;
  let n = gid.z;
  let cb4 = gid.y * ${CO4}u;
  let co0 = gid.y * ${co}u;
  let h0 = hb * ${ph}u;
  ${init.join("\n  ")}
  for (var ci = 0u; ci < u.Cin; ci++) {
    let xb = (((n * u.xTot + u.xOff + ci) * u.Dp + d) * u.Hp + h0) * u.Wp4 + wbk * ${pw / 4}u;
    let wb = ci * ${T}u * u.CoP4 + cb4;
    ${inner.join("\n    ")}
  }
  let acc = u.accumulate != 0u;
  let yb = (n * u.yTot + u.yOff + co0) * u.yS4 + d * u.yDS4 + h0 * u.yW4 + wbk * ${pw / 4}u;
  ${stores.join("\n  ")}`,
  };
}

/** Uniforms of {@linkcode conv3dUnpackSpec}. */
export type ConvUnpackUniform =
  | "C"
  | "D"
  | "H"
  | "W"
  | "yTot"
  | "yOff"
  | "Cp"
  | "Hq"
  | "Wq"
  | "Dy"
  | "d0"
  | "row0"
  | "rows"
  | "accumulate";

/**
 * Copy a tile-padded result `yp` (`[N, Cp, D, Hq, Wq]`, as written by
 * {@linkcode conv3dDirectSpec} into scratch) into a view `y` (`[N, C, D, H, W]`, any channel
 * slice), overwriting or (`accumulate = 1`) adding; one invocation per row of the view.
 * A dispatch covers rows `[row0, rows)`; `yp` may be a depth slab of `D` slices that lands at
 * depths `[d0, d0 + D)` of a view `Dy` deep.
 */
export const conv3dUnpackSpec: KernelSpec<ConvUnpackUniform> = {
  name: "conv3dUnpack",
  bindings: { yp: "read", y: "read_write" },
  uniforms: {
    C: "u32",
    D: "u32",
    H: "u32",
    W: "u32",
    yTot: "u32",
    yOff: "u32",
    Cp: "u32",
    Hq: "u32",
    Wq: "u32",
    Dy: "u32",
    d0: "u32",
    row0: "u32",
    rows: "u32",
    accumulate: "u32",
  },
  workgroupSize: PACK_WG,
  dispatch: ({ row0, rows }) => grid1d(rows - row0, PACK_WG),
  body: wgsl`
  let row = gid.x + gid.y * nwg.x * ${PACK_WG}u + u.row0;
  if (row >= u.rows) { return; }
  let h = row % u.H;
  let t1 = row / u.H;
  let d = t1 % u.D;
  let t2 = t1 / u.D;
  let c = t2 % u.C;
  let n = t2 / u.C;
  let src = (((n * u.Cp + c) * u.D + d) * u.Hq + h) * u.Wq;
  let dst = (((n * u.yTot + u.yOff + c) * u.Dy + d + u.d0) * u.H + h) * u.W;
  let acc = u.accumulate != 0u;
  for (var w = 0u; w < u.W; w++) {
    y[dst + w] = yp[src + w] + select(0.0, y[dst + w], acc);
  }`,
};

/** Uniforms of {@linkcode conv3dWeightGradSpec}. */
export type ConvWeightGradUniform =
  | "Cin"
  | "D"
  | "nHB"
  | "nWB"
  | "xTot"
  | "xOff"
  | "xDp"
  | "xHp"
  | "xWp4"
  | "dyTot"
  | "dyOff"
  | "dyHp"
  | "dyWp4"
  | "rows"
  | "rpc"
  | "chunks"
  | "coBlocks"
  | "chunk0"
  | "chunkStride4";

/**
 * Partial weight and bias gradients of a "same" convolution. Invocation `(chunk, ci, coBlock)`
 * sums `dy[n, co, d, h, w] · x[n, ci, d + kd − pD, h + kh − pH, w + kw − pW]` over the row
 * blocks `(n, d, hb)` of its chunk (`rpc` blocks of `ph` rows) for its `co` channels and all
 * `T` taps, plus `Σ dy` per channel, and stores one record of `Tp` = {@linkcode gradRecordLength}`(T)`
 * floats per channel — `T` sums, the bias sum, zeros — at
 * `((chunk·Cin + ci)·coBlocks + coBlock)·co·Tp + c·Tp` (i.e. records ordered
 * `[chunk][ci][co padded]`), the layout {@linkcode convGradReduceSpec} reads; chunk `k` of the
 * dispatch is record chunk `k + chunk0`, `chunkStride4 = Cin·coBlocks·co·Tp/4` (so several
 * dispatches, one per depth slab, fill one record buffer). `xp` has
 * {@linkcode haloGeometry}, `dyp` {@linkcode alignedGeometry} with channels padded to `co`.
 *
 * @param options Kernel extent and blocking (compile-time constants).
 * @returns The spec.
 * @throws {RangeError} When a kernel extent is even or the blocking is unsupported.
 */
export function conv3dWeightGradSpec(
  options: { kernel: Kernel3; blocking: ConvWeightGradBlocking },
): KernelSpec<ConvWeightGradUniform> {
  const [KD, KH, KW] = _checkKernel(options.kernel);
  const { co, ph, pw, wg } = options.blocking;
  if (!_positiveInts(co, ph, pw, wg) || pw % 4 !== 0 || pw > CONV_PW || CONV_PH_MAX % ph !== 0) {
    throw new RangeError(
      `Cannot build conv3dWeightGrad: blocking ${
        JSON.stringify(options.blocking)
      } is not supported`,
    );
  }
  const T = KD * KH * KW;
  const PW4 = pw / 4;
  const L = Math.ceil((pw + KW - 1) / 4);
  const g = (c: number, t: number) => `g${c}_${t}`;
  const decl: string[] = [];
  for (let c = 0; c < co; c++) {
    for (let t = 0; t < T; t++) decl.push(`var ${g(c, t)} = 0.0;`);
    decl.push(`var s${c} = vec4<f32>(0.0);`);
  }
  const step: string[] = [];
  const dys = (c: number, r: number, p: number) => `e${c}_${r}_${Math.floor(p / 4)}.${XYZW[p % 4]}`;
  for (let c = 0; c < co; c++) {
    for (let r = 0; r < ph; r++) {
      for (let q = 0; q < PW4; q++) {
        step.push(`let e${c}_${r}_${q} = dyp[dyb + ${c}u * dyCS + ${r}u * u.dyWp4 + ${q}u];`);
        step.push(`s${c} += e${c}_${r}_${q};`);
      }
    }
  }
  for (let kd = 0; kd < KD; kd++) {
    for (let j = 0; j < ph + KH - 1; j++) {
      step.push(`{`);
      for (let l = 0; l < L; l++) {
        step.push(`let x${l} = xp[xb + ${kd}u * xDS + ${j}u * u.xWp4 + ${l}u];`);
      }
      const xs = (p: number) => `x${Math.floor(p / 4)}.${XYZW[p % 4]}`;
      for (let c = 0; c < co; c++) {
        for (let kh = 0; kh < KH; kh++) {
          const r = j - kh;
          if (r < 0 || r >= ph) continue;
          for (let kw = 0; kw < KW; kw++) {
            const t = (kd * KH + kh) * KW + kw;
            // Two independent chains of pw/2 FMAs keep the dependency chain short.
            const half = pw / 2;
            let e0 = g(c, t);
            for (let p = 0; p < half; p++) e0 = `fma(${dys(c, r, p)}, ${xs(p + kw)}, ${e0})`;
            let e1 = `${dys(c, r, half)} * ${xs(half + kw)}`;
            for (let p = half + 1; p < pw; p++) e1 = `fma(${dys(c, r, p)}, ${xs(p + kw)}, ${e1})`;
            step.push(`${g(c, t)} = ${e0} + ${e1};`);
          }
        }
      }
      step.push(`}`);
    }
  }
  // Record of (ci, co): T sums, the bias sum, zeros up to Tp = ⌈(T + 1)/4⌉·4; vec4 stores.
  const Tp = gradRecordLength(T);
  const stores: string[] = [];
  for (let c = 0; c < co; c++) {
    const vals = [...Array(Tp).keys()].map((t) =>
      t < T ? g(c, t) : t === T ? `(s${c}.x + s${c}.y) + (s${c}.z + s${c}.w)` : "0.0"
    );
    for (let v = 0; v < Tp / 4; v++) {
      stores.push(
        `part[pb + ${(c * Tp) / 4 + v}u] = vec4<f32>(${vals.slice(4 * v, 4 * v + 4).join(", ")});`,
      );
    }
  }
  return {
    name: `conv3dWeightGrad_${KD}${KH}${KW}_co${co}h${ph}w${pw}g${wg}`,
    bindings: {
      xp: { access: "read", type: "vec4<f32>" },
      dyp: { access: "read", type: "vec4<f32>" },
      part: { access: "write", type: "vec4<f32>" },
    },
    uniforms: {
      Cin: "u32",
      D: "u32",
      nHB: "u32",
      nWB: "u32",
      xTot: "u32",
      xOff: "u32",
      xDp: "u32",
      xHp: "u32",
      xWp4: "u32",
      dyTot: "u32",
      dyOff: "u32",
      dyHp: "u32",
      dyWp4: "u32",
      rows: "u32",
      rpc: "u32",
      chunks: "u32",
      coBlocks: "u32",
      chunk0: "u32",
      chunkStride4: "u32",
    },
    workgroupSize: wg,
    // (chunk, ci, coBlock) flattened into one axis: with few chunks (small volumes) a grid of
    // [chunks/wg, Cin, coBlocks] would leave most SIMD lanes of every workgroup idle.
    dispatch: ({ chunks, Cin, coBlocks }) => grid1d(chunks * Cin * coBlocks, wg),
    body: wgsl`
  let t = gid.x + gid.y * nwg.x * ${wg}u;
  if (t >= u.chunks * u.Cin * u.coBlocks) { return; }
  let chunk = t % u.chunks;
  let rest = t / u.chunks;
  let ci = rest % u.Cin;
  let cb = rest / u.Cin;
  let r0 = chunk * u.rpc;
  let r1 = min(u.rows, r0 + u.rpc);
  var hb = r0 % u.nHB;
  let q0 = r0 / u.nHB;
  var d = q0 % u.D;
  var n = q0 / u.D;
  let xDS = u.xHp * u.xWp4;
  let dyCS = u.D * u.dyHp * u.dyWp4;
  ${decl.join("\n  ")}
  for (var r = r0; r < r1; r++) {
    let xrow = (((n * u.xTot + u.xOff + ci) * u.xDp + d) * u.xHp + hb * ${ph}u) * u.xWp4;
    let dyrow = (((n * u.dyTot + u.dyOff + cb * ${co}u) * u.D + d) * u.dyHp + hb * ${ph}u) *
      u.dyWp4;
    for (var j = 0u; j < u.nWB; j++) {
      let xb = xrow + j * ${PW4}u;
      let dyb = dyrow + j * ${PW4}u;
      ${step.join("\n      ")}
    }
    hb += 1u;
    if (hb == u.nHB) {
      hb = 0u;
      d += 1u;
      if (d == u.D) { d = 0u; n += 1u; }
    }
  }
  let pb = (chunk + u.chunk0) * u.chunkStride4 + (ci * u.coBlocks + cb) * ${(co * Tp) / 4}u;
  ${stores.join("\n  ")}`,
  };
}

/**
 * Floats per (input channel, output channel) record of the partial weight gradients: `T`
 * sums, the bias sum, zeros up to a multiple of 4 (so records are stored as `vec4`s).
 *
 * @param taps Taps `T` of the kernel.
 * @returns `⌈(T + 1)/4⌉·4`.
 */
export function gradRecordLength(taps: number): number {
  return Math.ceil((taps + 1) / 4) * 4;
}

/** Uniforms of {@linkcode convGradReduceSpec}. */
export type ConvGradReduceUniform =
  | "Cin"
  | "Cout"
  | "T"
  | "Tp"
  | "CoP"
  | "coMajor"
  | "stride"
  | "chunks"
  | "hasBias"
  | "accumulate"
  | "one";

const REDUCE_WG = 64;

/**
 * Second pass of the weight gradients: adds the partial records of every chunk, in chunk
 * order with Kahan compensation (`one` must be 1.0; see `reduce.ts`), so results are
 * deterministic. Chunk `k`'s record of channels `(ci, co)` starts at
 * `k·stride + (ci·CoP + co)·Tp`; it holds `T` tap sums and, at `T`, the bias sum (read from
 * `ci = 0`). Invocation `(ci, co)` writes the `T` weights of the pair to `dw[o]`,
 * `o = (co·Cin + ci)·T + t` when `coMajor = 1` (conv weights `[Cout, Cin, …]`) or
 * `o = (ci·Cout + co)·T + t` (transposed conv `[Cin, Cout, …]`), and the `ci = 0` invocations
 * the bias `db[co]` when `hasBias = 1`; one invocation per pair keeps integer divisions
 * (scalarised on llvmpipe) out of the per-output work. With `accumulate = 1` the sums are
 * added to what `dw`/`db` hold. `db` must be bound even without bias (any buffer other than
 * `dw` and `part`).
 */
export const convGradReduceSpec: KernelSpec<ConvGradReduceUniform> = {
  name: "convGradReduce",
  bindings: { part: "read", dw: "read_write", db: "read_write" },
  uniforms: {
    Cin: "u32",
    Cout: "u32",
    T: "u32",
    Tp: "u32",
    CoP: "u32",
    coMajor: "u32",
    stride: "u32",
    chunks: "u32",
    hasBias: "u32",
    accumulate: "u32",
    one: "f32",
  },
  workgroupSize: REDUCE_WG,
  dispatch: ({ Cin, Cout }) => grid1d(Cin * Cout, REDUCE_WG),
  prelude: wgsl`
fn chunkSum(off: u32) -> f32 {
  var s = 0.0;
  var comp = 0.0;
  for (var c = 0u; c < u.chunks; c++) {
    let v = part[c * u.stride + off] - comp;
    let t = (s + v) * u.one;
    comp = (t - s) - v;
    s = t;
  }
  return s;
}`,
  body: wgsl`
  let pair = gid.x + gid.y * nwg.x * ${REDUCE_WG}u;
  if (pair >= u.Cin * u.Cout) { return; }
  var ci = pair / u.Cout;
  var co = pair % u.Cout;
  if (u.coMajor != 0u) {
    ci = pair % u.Cin;
    co = pair / u.Cin;
  }
  let rec = (ci * u.CoP + co) * u.Tp;
  let o = pair * u.T;
  let acc = u.accumulate != 0u;
  for (var t = 0u; t < u.T; t++) {
    let s = chunkSum(rec + t);
    dw[o + t] = s + select(0.0, dw[o + t], acc);
  }
  if (ci == 0u && u.hasBias != 0u) {
    let s = chunkSum(rec + u.T);
    db[co] = s + select(0.0, db[co], acc);
  }`,
};

function _checkKernel(kernel: Kernel3): [number, number, number] {
  if (kernel.length !== 3 || !kernel.every((k) => Number.isInteger(k) && k >= 1 && k % 2 === 1)) {
    throw new RangeError(`Invalid kernel ${JSON.stringify(kernel)}: extents must be odd integers`);
  }
  return [kernel[0], kernel[1], kernel[2]];
}

function _positiveInts(...values: number[]): boolean {
  return values.every((v) => Number.isInteger(v) && v >= 1);
}

function _roundUp(v: number, m: number): number {
  return Math.ceil(v / m) * m;
}
