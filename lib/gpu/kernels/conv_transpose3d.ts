/**
 * 2×2×2 transposed convolution with stride 2 (the U-Net's learned upsampling), float32 NCDHW:
 * `y[n, co, 2d + a, 2h + b, 2w + c] = bias[co] + Σ_ci x[n, ci, d, h, w] · W[ci, co, a, b, c]`
 * with weights `[Cin, Cout, 2, 2, 2]` (PyTorch's `ConvTranspose3d(kernel_size=2, stride=2)`).
 * Every output voxel has exactly one source voxel, so each direction is a set of small dense
 * products; like `conv3d.ts` the kernels work on packed operands (`conv3dPackSpec`,
 * {@linkcode convTranspose3dPackWeightsSpec}), block registers, load `vec4`s and use no
 * workgroup memory:
 * - {@linkcode convTranspose3dForwardSpec}: invocation = one sub-lattice row pair `(a, b)` ×
 *   `co` channels × `ph` input rows × `pw` input columns (both `c`);
 * - {@linkcode convTranspose3dBackwardInputSpec}: invocation = `ci` channels × `ph` rows × `pw`
 *   columns of `dx`, reading the `2ph × 2pw` patch of `dy` for all 8 taps;
 * - {@linkcode convTranspose3dWeightGradSpec}: partial `Σ x·dy` for `ci × co × 8` weights and
 *   `co` biases per invocation over a chunk of input rows, reduced by `convGradReduceSpec`.
 *
 * @module
 */

import { grid1d, type KernelSpec, wgsl } from "../kernel_spec.ts";
import { CONV_PH_MAX, CONV_PW, type ConvGeometry } from "./conv3d.ts";

/** Register blocking of the transposed-conv kernels. */
export interface ConvTransposeBlocking {
  /** Channels per invocation (output channels forward, input channels backward; multiple of 4). */
  c: number;
  /** Input rows per invocation. */
  ph: number;
  /** Input columns per invocation (4 or 8). */
  pw: number;
  /** Invocations per workgroup. */
  wg: number;
}

/** Register blocking of {@linkcode convTranspose3dWeightGradSpec}. */
export interface ConvTransposeWeightGradBlocking {
  /** Input channels per invocation. */
  ci: number;
  /** Output channels per invocation. */
  co: number;
  /** Invocations per workgroup. */
  wg: number;
}

/**
 * Default blocking of the forward and input-gradient kernels.
 *
 * @param cpu Whether the adapter is a CPU/fallback adapter.
 * @returns CPU adapters: 8 channels × 2 rows × 8 columns, `wg` 16; others 4 × 1 × 8, `wg` 64.
 */
export function defaultTransposeBlocking(cpu: boolean): ConvTransposeBlocking {
  return cpu ? { c: 8, ph: 2, pw: CONV_PW, wg: 16 } : { c: 4, ph: 1, pw: CONV_PW, wg: 64 };
}

/**
 * Default blocking of the weight-gradient kernel.
 *
 * @param cpu Whether the adapter is a CPU/fallback adapter.
 * @returns CPU adapters: 8 input × 4 output channels (256 accumulators), `wg` 16; others
 *   4 × 4, `wg` 64.
 */
export function defaultTransposeWeightGradBlocking(cpu: boolean): ConvTransposeWeightGradBlocking {
  return cpu ? { ci: 8, co: 4, wg: 16 } : { ci: 4, co: 4, wg: 64 };
}

/**
 * Geometry of a packed `dy` (`[N, C, 2D, 2H, 2W]` for an input volume `D, H, W`): rows and
 * columns twice the padded input's, so the `2ph × 2pw` patches of the backward kernels are
 * aligned and in range.
 *
 * @param dyShape Shape of `dy`.
 * @param channelMultiple Channels are padded to a multiple of this.
 * @returns The geometry.
 */
export function upsampledGeometry(dyShape: readonly number[], channelMultiple = 1): ConvGeometry {
  const [n, c, d2, h2, w2] = dyShape;
  return {
    n,
    cb: Math.ceil(c / channelMultiple) * channelMultiple,
    dp: d2,
    hp: 2 * Math.ceil(h2 / 2 / CONV_PH_MAX) * CONV_PH_MAX,
    wp: 2 * Math.ceil(w2 / 2 / CONV_PW) * CONV_PW,
    offset: [0, 0, 0],
  };
}

const XYZW = "xyzw";

/** Uniforms of {@linkcode convTranspose3dPackWeightsSpec}. */
export type ConvTransposePackWeightsUniform =
  | "A"
  | "B"
  | "BP"
  | "base"
  | "sA"
  | "sB"
  | "hasBias"
  | "bOff"
  | "i0"
  | "i1";

const PACK_WG = 64;

/**
 * Re-lay (a block of) the weights `[Cin, Cout, 2, 2, 2]` for the transposed-conv kernels:
 * `wp[(a·8 + t)·BP + b] = w[base + a·sA + b·sB + t]` for `b < B` (zero for `B ≤ b < BP`),
 * then `BP` biases `wp[A·8·BP + b] = bias[bOff + b]` (zero without bias or for `b ≥ B`). The
 * index is formed in wrapping u32 arithmetic, so `base` may be "negative" modulo 2³²: a
 * dispatch that binds an aligned window of the weights (rows `a` of a range) sets `base` so
 * that the indices land inside it. So, with `w` the whole tensor:
 * - forward, output channels `[co0, co0 + B)`: `A = Cin`, `sA = 8·Cout`, `sB = 8`,
 *   `base = 8·co0`, bias `bOff = co0`;
 * - input gradient, input channels `[ci0, ci0 + B)`: `A = Cout`, `sA = 8`, `sB = 8·Cout`,
 *   `base = 8·Cout·ci0`.
 *
 * A dispatch writes `wp[i]` for `i` in `[i0, i1)` (all of `[0, A·8·BP + BP)` over the
 * dispatches of one block). `bias` must be bound even without bias (bind the weights again).
 */
export const convTranspose3dPackWeightsSpec: KernelSpec<ConvTransposePackWeightsUniform> = {
  name: "convTranspose3dPackWeights",
  bindings: { w: "read", bias: "read", wp: "write" },
  uniforms: {
    A: "u32",
    B: "u32",
    BP: "u32",
    base: "u32",
    sA: "u32",
    sB: "u32",
    hasBias: "u32",
    bOff: "u32",
    i0: "u32",
    i1: "u32",
  },
  workgroupSize: PACK_WG,
  dispatch: ({ i0, i1 }) => grid1d(i1 - i0, PACK_WG),
  body: wgsl`
  let i = gid.x + gid.y * nwg.x * ${PACK_WG}u + u.i0;
  if (i >= u.i1) { return; }
  let nw = u.A * 8u * u.BP;
  var v = 0.0;
  if (i < nw) {
    let b = i % u.BP;
    let r = i / u.BP;
    let t = r % 8u;
    let a = r / 8u;
    if (b < u.B) { v = w[u.base + a * u.sA + b * u.sB + t]; }
  } else {
    let b = i - nw;
    if (u.hasBias != 0u && b < u.B) { v = bias[u.bOff + b]; }
  }
  wp[i] = v;`,
};

/** Uniforms of {@linkcode convTranspose3dForwardSpec}. */
export type ConvTransposeForwardUniform =
  | "Cin"
  | "xTot"
  | "xOff"
  | "D"
  | "Hp"
  | "Wp4"
  | "CoP4"
  | "nHB"
  | "nWB"
  | "blocks"
  | "coBlocks"
  | "N"
  | "yTot"
  | "yOff"
  | "yS4"
  | "yDS4"
  | "yW4";

function _checkBlocking(name: string, b: { c: number; ph: number; pw: number }): void {
  const ok = [b.c, b.ph, b.pw].every((v) => Number.isInteger(v) && v >= 1);
  if (!ok || b.c % 4 !== 0 || (b.pw !== 4 && b.pw !== 8) || CONV_PH_MAX % b.ph !== 0) {
    throw new RangeError(`Cannot build ${name}: blocking ${JSON.stringify(b)} is not supported`);
  }
}

/**
 * Transposed-conv forward over a packed `x` (`alignedGeometry`) and weights packed as
 * `wp[(ci·8 + tap)·CoP + co]` plus `CoP` biases. Grid: `(blocks, coBlocks·4, N)`; `gid.y % 4`
 * selects the output sub-rows `(a, b)`. Whole tiles (`c` channels × `2ph` rows × `2pw`
 * columns of the output) are stored as `vec4`s without bounds checks, output `(n, c, z, y, x)`
 * at `vec4` `(n·yTot + yOff + c)·yS4 + z·yDS4 + y·yW4 + x/4` (the view, or a tile-padded
 * scratch; see `tileTarget` in `ops/conv3d.ts`).
 *
 * @param options Blocking (`c` = output channels per invocation).
 * @returns The spec.
 * @throws {RangeError} When the blocking is unsupported.
 */
export function convTranspose3dForwardSpec(
  options: { blocking: ConvTransposeBlocking },
): KernelSpec<ConvTransposeForwardUniform> {
  const b = options.blocking;
  _checkBlocking("convTranspose3dForward", b);
  const C4 = b.c / 4;
  const L = b.pw / 4;
  const acc = (r: number, p: number, c: number, q: number) => `a${r}_${p}_${c}_${q}`;
  const init: string[] = [];
  for (let q = 0; q < C4; q++) init.push(`let b${q} = wp[u.Cin * 8u * u.CoP4 + cb4 + ${q}u];`);
  for (let r = 0; r < b.ph; r++) {
    for (let p = 0; p < b.pw; p++) {
      for (let c = 0; c < 2; c++) {
        for (let q = 0; q < C4; q++) init.push(`var ${acc(r, p, c, q)} = b${q};`);
      }
    }
  }
  const inner: string[] = [];
  for (let r = 0; r < b.ph; r++) {
    for (let l = 0; l < L; l++) inner.push(`let x${r}_${l} = xp[xb + ${r}u * u.Wp4 + ${l}u];`);
  }
  for (let c = 0; c < 2; c++) {
    for (let q = 0; q < C4; q++) inner.push(`let k${c}_${q} = wp[wb + ${c}u * u.CoP4 + ${q}u];`);
  }
  for (let r = 0; r < b.ph; r++) {
    for (let p = 0; p < b.pw; p++) {
      const xs = `x${r}_${Math.floor(p / 4)}.${XYZW[p % 4]}`;
      for (let c = 0; c < 2; c++) {
        for (let q = 0; q < C4; q++) {
          const a = acc(r, p, c, q);
          inner.push(`${a} = fma(vec4<f32>(${xs}), k${c}_${q}, ${a});`);
        }
      }
    }
  }
  // Whole tiles as vec4s along the output row (columns 2w + c interleave c = 0, 1).
  const stores: string[] = [];
  for (let r = 0; r < b.ph; r++) {
    for (let q = 0; q < C4; q++) {
      for (let k = 0; k < 4; k++) {
        for (let v = 0; v < b.pw / 2; v++) {
          const vals = [0, 1, 2, 3].map((j) => `${acc(r, 2 * v + (j >> 1), j & 1, q)}.${XYZW[k]}`);
          stores.push(
            `y[yb + ${4 * q + k}u * u.yS4 + ${2 * r}u * u.yW4 + ${v}u] = vec4<f32>(${
              vals.join(", ")
            });`,
          );
        }
      }
    }
  }
  return {
    name: `convTranspose3dForward_c${b.c}h${b.ph}w${b.pw}g${b.wg}`,
    bindings: {
      xp: { access: "read", type: "vec4<f32>" },
      wp: { access: "read", type: "vec4<f32>" },
      y: { access: "write", type: "vec4<f32>" },
    },
    uniforms: {
      Cin: "u32",
      xTot: "u32",
      xOff: "u32",
      D: "u32",
      Hp: "u32",
      Wp4: "u32",
      CoP4: "u32",
      nHB: "u32",
      nWB: "u32",
      blocks: "u32",
      coBlocks: "u32",
      N: "u32",
      yTot: "u32",
      yOff: "u32",
      yS4: "u32",
      yDS4: "u32",
      yW4: "u32",
    },
    workgroupSize: b.wg,
    dispatch: ({ blocks, coBlocks, N }) => [Math.ceil(blocks / b.wg), coBlocks * 4, N],
    body: wgsl`
  let t = gid.x;
  if (t >= u.blocks) { return; }
  let wbk = t % u.nWB;
  let t1 = t / u.nWB;
  let hb = t1 % u.nHB;
  let d = t1 / u.nHB;
  let n = gid.z;
  let ab = gid.y % 4u;
  let cbk = gid.y / 4u;
  let cb4 = cbk * ${C4}u;
  let co0 = cbk * ${b.c}u;
  let h0 = hb * ${b.ph}u;
  ${init.join("\n  ")}
  for (var ci = 0u; ci < u.Cin; ci++) {
    let xb = (((n * u.xTot + u.xOff + ci) * u.D + d) * u.Hp + h0) * u.Wp4 + wbk * ${L}u;
    let wb = (ci * 8u + ab * 2u) * u.CoP4 + cb4;
    ${inner.join("\n    ")}
  }
  let yb = (n * u.yTot + u.yOff + co0) * u.yS4 + (2u * d + ab / 2u) * u.yDS4 +
    (2u * h0 + ab % 2u) * u.yW4 + wbk * ${b.pw / 2}u;
  ${stores.join("\n  ")}`,
  };
}

/** Uniforms of {@linkcode convTranspose3dBackwardInputSpec}. */
export type ConvTransposeBackwardInputUniform =
  | "Cout"
  | "dyTot"
  | "dyOff"
  | "D"
  | "dyHp"
  | "dyWp4"
  | "CiP4"
  | "nHB"
  | "nWB"
  | "blocks"
  | "ciBlocks"
  | "N"
  | "yTot"
  | "yOff"
  | "yS4"
  | "yDS4"
  | "yW4"
  | "accumulate";

/**
 * Transposed-conv input gradient `dx[n, ci, d, h, w] = Σ_{co, a, b, c} dy[n, co, 2d + a, 2h + b, 2w + c] · W[ci, co, a, b, c]`
 * over a packed `dy` ({@linkcode upsampledGeometry}) and weights packed as
 * `wp[(co·8 + tap)·CiP + ci]`. Grid `(blocks, ciBlocks, N)`. Whole tiles are stored as
 * `vec4`s into `y` (`dx` or a tile-padded scratch), addressed like the direct conv's output;
 * `accumulate = 1` adds to it.
 *
 * @param options Blocking (`c` = input channels per invocation).
 * @returns The spec.
 * @throws {RangeError} When the blocking is unsupported.
 */
export function convTranspose3dBackwardInputSpec(
  options: { blocking: ConvTransposeBlocking },
): KernelSpec<ConvTransposeBackwardInputUniform> {
  const b = options.blocking;
  _checkBlocking("convTranspose3dBackwardInput", b);
  const C4 = b.c / 4;
  const L2 = b.pw / 2; // vec4s of a 2·pw-wide dy row segment
  const acc = (r: number, p: number, q: number) => `a${r}_${p}_${q}`;
  const init: string[] = [];
  for (let r = 0; r < b.ph; r++) {
    for (let p = 0; p < b.pw; p++) {
      for (let q = 0; q < C4; q++) init.push(`var ${acc(r, p, q)} = vec4<f32>(0.0);`);
    }
  }
  const inner: string[] = [];
  for (let t = 0; t < 8; t++) {
    for (let q = 0; q < C4; q++) inner.push(`let k${t}_${q} = wp[wb + ${t}u * u.CiP4 + ${q}u];`);
  }
  for (let r = 0; r < b.ph; r++) {
    for (let ab = 0; ab < 4; ab++) {
      const [ta, tb] = [ab >> 1, ab & 1];
      inner.push(`{`);
      for (let l = 0; l < L2; l++) {
        inner.push(
          `let e${l} = dyp[db + ${ta}u * dyDS + ${2 * r + tb}u * u.dyWp4 + ${l}u];`,
        );
      }
      for (let p = 0; p < b.pw; p++) {
        for (let c = 0; c < 2; c++) {
          const col = 2 * p + c;
          const es = `e${Math.floor(col / 4)}.${XYZW[col % 4]}`;
          const tap = ab * 2 + c;
          for (let q = 0; q < C4; q++) {
            const a = acc(r, p, q);
            inner.push(`${a} = fma(vec4<f32>(${es}), k${tap}_${q}, ${a});`);
          }
        }
      }
      inner.push(`}`);
    }
  }
  const stores: string[] = [];
  for (let r = 0; r < b.ph; r++) {
    for (let q = 0; q < C4; q++) {
      for (let k = 0; k < 4; k++) {
        for (let v = 0; v < b.pw / 4; v++) {
          const vals = [0, 1, 2, 3].map((j) => `${acc(r, 4 * v + j, q)}.${XYZW[k]}`);
          stores.push(`{`);
          stores.push(`  let i = yb + ${4 * q + k}u * u.yS4 + ${r}u * u.yW4 + ${v}u;`);
          stores.push(
            `  y[i] = vec4<f32>(${vals.join(", ")}) + select(vec4<f32>(0.0), y[i], acc);`,
          );
          stores.push(`}`);
        }
      }
    }
  }
  return {
    name: `convTranspose3dBackwardInput_c${b.c}h${b.ph}w${b.pw}g${b.wg}`,
    bindings: {
      dyp: { access: "read", type: "vec4<f32>" },
      wp: { access: "read", type: "vec4<f32>" },
      y: { access: "read_write", type: "vec4<f32>" },
    },
    uniforms: {
      Cout: "u32",
      dyTot: "u32",
      dyOff: "u32",
      D: "u32",
      dyHp: "u32",
      dyWp4: "u32",
      CiP4: "u32",
      nHB: "u32",
      nWB: "u32",
      blocks: "u32",
      ciBlocks: "u32",
      N: "u32",
      yTot: "u32",
      yOff: "u32",
      yS4: "u32",
      yDS4: "u32",
      yW4: "u32",
      accumulate: "u32",
    },
    workgroupSize: b.wg,
    dispatch: ({ blocks, ciBlocks, N }) => [Math.ceil(blocks / b.wg), ciBlocks, N],
    body: wgsl`
  let t = gid.x;
  if (t >= u.blocks) { return; }
  let wbk = t % u.nWB;
  let t1 = t / u.nWB;
  let hb = t1 % u.nHB;
  let d = t1 / u.nHB;
  let n = gid.z;
  let cb4 = gid.y * ${C4}u;
  let ci0 = gid.y * ${b.c}u;
  let h0 = hb * ${b.ph}u;
  let dyDS = u.dyHp * u.dyWp4;
  ${init.join("\n  ")}
  for (var co = 0u; co < u.Cout; co++) {
    let db = (((n * u.dyTot + u.dyOff + co) * 2u * u.D + 2u * d) * u.dyHp + 2u * h0) * u.dyWp4 +
      wbk * ${L2}u;
    let wb = co * 8u * u.CiP4 + cb4;
    ${inner.join("\n    ")}
  }
  let acc = u.accumulate != 0u;
  let yb = (n * u.yTot + u.yOff + ci0) * u.yS4 + d * u.yDS4 + h0 * u.yW4 + wbk * ${b.pw / 4}u;
  ${stores.join("\n  ")}`,
  };
}

/** Uniforms of {@linkcode convTranspose3dWeightGradSpec}. */
export type ConvTransposeWeightGradUniform =
  | "CoP"
  | "D"
  | "H"
  | "nWB"
  | "xTot"
  | "xOff"
  | "xHp"
  | "xWp4"
  | "dyTot"
  | "dyOff"
  | "dyHp"
  | "dyWp4"
  | "rows"
  | "rpc"
  | "chunks"
  | "ciBlocks"
  | "chunk0";

/**
 * Partial transposed-conv weight and bias gradients: invocation `(chunk, ciBlock, coBlock)`
 * sums `x[n, ci, d, h, w] · dy[n, co, 2d + a, 2h + b, 2w + c]` over its chunk of input rows
 * `(n, d, h)` for `ci × co` channel pairs and the 8 taps, plus `Σ dy` per output channel, and
 * stores one record of 12 floats (`gradRecordLength(8)`: 8 sums, the bias sum, zeros) per
 * pair at `((chunk + chunk0)·CiP + ci)·CoP + co` records (`CiP = ciBlocks·ci`), the layout
 * `convGradReduceSpec` reads with `coMajor = 0`; `chunk0` numbers the records of a depth slab
 * on after those of the slabs before it. `xp` is packed with `alignedGeometry(x.shape, ci)`, `dyp` with
 * {@linkcode upsampledGeometry}`(dy.shape, co)`; `CoP` is the padded output-channel count.
 *
 * @param options Blocking.
 * @returns The spec.
 * @throws {RangeError} When a blocking value is not a positive integer.
 */
export function convTranspose3dWeightGradSpec(
  options: { blocking: ConvTransposeWeightGradBlocking },
): KernelSpec<ConvTransposeWeightGradUniform> {
  const { ci: CI, co: CO, wg } = options.blocking;
  if (![CI, CO, wg].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RangeError(
      `Cannot build convTranspose3dWeightGrad: blocking ${
        JSON.stringify(options.blocking)
      } is not supported`,
    );
  }
  const g = (i: number, c: number, t: number) => `g${i}_${c}_${t}`;
  const decl: string[] = [];
  for (let i = 0; i < CI; i++) {
    for (let c = 0; c < CO; c++) for (let t = 0; t < 8; t++) decl.push(`var ${g(i, c, t)} = 0.0;`);
  }
  for (let c = 0; c < CO; c++) decl.push(`var s${c} = vec4<f32>(0.0);`);
  const step: string[] = [];
  for (let i = 0; i < CI; i++) {
    for (let l = 0; l < 2; l++) step.push(`let x${i}_${l} = xp[xb + ${i}u * xCS + ${l}u];`);
  }
  const xs = (i: number, p: number) => `x${i}_${p >> 2}.${XYZW[p & 3]}`;
  for (let c = 0; c < CO; c++) {
    for (let ab = 0; ab < 4; ab++) {
      step.push(`{`);
      for (let l = 0; l < 4; l++) {
        step.push(
          `let e${l} = dyp[dyb + ${c}u * dyCS + ${ab >> 1}u * dyDS + ${
            ab & 1
          }u * u.dyWp4 + ${l}u];`,
        );
        step.push(`s${c} += e${l};`);
      }
      const es = (col: number) => `e${col >> 2}.${XYZW[col & 3]}`;
      for (let i = 0; i < CI; i++) {
        for (let cc = 0; cc < 2; cc++) {
          const t = ab * 2 + cc;
          let e0 = g(i, c, t);
          for (let p = 0; p < 4; p++) e0 = `fma(${xs(i, p)}, ${es(2 * p + cc)}, ${e0})`;
          let e1 = `${xs(i, 4)} * ${es(8 + cc)}`;
          for (let p = 5; p < 8; p++) e1 = `fma(${xs(i, p)}, ${es(2 * p + cc)}, ${e1})`;
          step.push(`${g(i, c, t)} = ${e0} + ${e1};`);
        }
      }
      step.push(`}`);
    }
  }
  // Records of 12 floats per (ci, co): 8 tap sums, the bias sum, 3 zeros (gradRecordLength).
  const stores: string[] = [];
  for (let i = 0; i < CI; i++) {
    for (let c = 0; c < CO; c++) {
      const rec = `pb + ((ci0 + ${i}u) * u.CoP + co0 + ${c}u) * 3u`;
      stores.push(`{`);
      stores.push(`  let o = ${rec};`);
      stores.push(
        `  part[o] = vec4<f32>(${[0, 1, 2, 3].map((t) => g(i, c, t)).join(", ")});`,
      );
      stores.push(
        `  part[o + 1u] = vec4<f32>(${[4, 5, 6, 7].map((t) => g(i, c, t)).join(", ")});`,
      );
      stores.push(
        `  part[o + 2u] = vec4<f32>((s${c}.x + s${c}.y) + (s${c}.z + s${c}.w), 0.0, 0.0, 0.0);`,
      );
      stores.push(`}`);
    }
  }
  return {
    name: `convTranspose3dWeightGrad_ci${CI}co${CO}g${wg}`,
    bindings: {
      xp: { access: "read", type: "vec4<f32>" },
      dyp: { access: "read", type: "vec4<f32>" },
      part: { access: "write", type: "vec4<f32>" },
    },
    uniforms: {
      CoP: "u32",
      D: "u32",
      H: "u32",
      nWB: "u32",
      xTot: "u32",
      xOff: "u32",
      xHp: "u32",
      xWp4: "u32",
      dyTot: "u32",
      dyOff: "u32",
      dyHp: "u32",
      dyWp4: "u32",
      rows: "u32",
      rpc: "u32",
      chunks: "u32",
      ciBlocks: "u32",
      chunk0: "u32",
    },
    workgroupSize: wg,
    // (chunk, ciBlock, coBlock) flattened so that few chunks still fill the SIMD lanes.
    dispatch: ({ chunks, ciBlocks, CoP }) => grid1d(chunks * ciBlocks * (CoP / CO), wg),
    body: wgsl`
  let t = gid.x + gid.y * nwg.x * ${wg}u;
  if (t >= u.chunks * u.ciBlocks * (u.CoP / ${CO}u)) { return; }
  let chunk = t % u.chunks;
  let rest = t / u.chunks;
  let cib = rest % u.ciBlocks;
  let ci0 = cib * ${CI}u;
  let co0 = (rest / u.ciBlocks) * ${CO}u;
  let r0 = chunk * u.rpc;
  let r1 = min(u.rows, r0 + u.rpc);
  var h = r0 % u.H;
  let q0 = r0 / u.H;
  var d = q0 % u.D;
  var n = q0 / u.D;
  let xCS = u.D * u.xHp * u.xWp4;
  let dyDS = u.dyHp * u.dyWp4;
  let dyCS = 2u * u.D * dyDS;
  ${decl.join("\n  ")}
  for (var r = r0; r < r1; r++) {
    let xrow = (((n * u.xTot + u.xOff + ci0) * u.D + d) * u.xHp + h) * u.xWp4;
    let dyrow = (((n * u.dyTot + u.dyOff + co0) * 2u * u.D + 2u * d) * u.dyHp + 2u * h) * u.dyWp4;
    for (var j = 0u; j < u.nWB; j++) {
      let xb = xrow + j * 2u;
      let dyb = dyrow + j * 4u;
      ${step.join("\n      ")}
    }
    h += 1u;
    if (h == u.H) {
      h = 0u;
      d += 1u;
      if (d == u.D) { d = 0u; n += 1u; }
    }
  }
  let pb = (chunk + u.chunk0) * u.ciBlocks * ${CI}u * u.CoP * 3u;
  ${stores.join("\n  ")}`,
  };
}
