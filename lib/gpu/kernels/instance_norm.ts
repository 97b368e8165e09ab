/**
 * Normalisation kernels shared by instance and batch normalisation, with an optional fused
 * activation (`activation.ts`). The statistics come from `segment_sum.ts` (mean and biased
 * variance per group) or, for batch-norm inference, from the running buffers. A group is
 * `g = n·gStrideN + c`: `gStrideN = C` per sample (instance norm), `0` per channel (batch norm).
 *
 * Forward (`normApplySpec`): `z = γ_c·(x − μ_g)·r_g + β_c`, `y = f(z)`, `r_g = 1/√(σ²_g + eps)`.
 *
 * Backward, with `x̂ = (x − μ)·r`, `dz = dy·f'(z)` and `M` the group's element count
 * (Ioffe & Szegedy 2015, §3; Ulyanov et al. 2016 for the per-sample case):
 * - `dβ_c = Σ dz`, `dγ_c = Σ dz·x̂` over every `(n, s)` of channel `c`, PReLU `da_c = Σ dy·z`
 *   over `z ≤ 0`;
 * - `dx = γ·r·(dz − k·mean_g(dz) − x̂·k·mean_g(dz·x̂))`, `k = 1` when the statistics were
 *   computed from the batch (training), `k = 0` when they are constants (running statistics).
 *
 * Three dispatches: `normBackwardPartialSpec` (per-chunk compensated sums, like the
 * reductions), `normBackwardCombineSpec` (one invocation per channel: per-group means and the
 * parameter gradients), `normBackwardDxSpec` (elementwise). Every kernel has the vec4 path
 * of `reduce.ts` (rows of whole vec4s) and a scalar one.
 *
 * @module
 */

import { grid1d, type KernelSpec, wgsl } from "../kernel_spec.ts";
import {
  activationApply,
  activationGrad,
  type ActivationKind,
  activationSlope,
} from "./activation.ts";
import {
  COMBINE_WG,
  KAHAN_WGSL,
  PARTIAL_WG,
  ROW_ORIGIN,
  ROW_WG,
  rowGrid,
  rowHeader,
  rowLoop,
  tensorBinding,
  type Vec,
  vecPrelude,
  viewUniforms,
} from "./reduce.ts";
import { PARTIAL_HEADER, partialGrid } from "./segment_sum.ts";

/** Compile-time options of the normalisation kernels. */
export interface NormKernelOptions {
  /** Activation fused after the affine transform. */
  activation: ActivationKind;
  /** Vector width of the tensor bindings. */
  vec: Vec;
}

function _suffix(o: NormKernelOptions): string {
  const kind = o.activation;
  return (kind === "identity" ? "" : kind === "leakyRelu" ? "LeakyRelu" : "Prelu") + o.vec;
}

/** Uniforms of {@linkcode normApplySpec}. */
export type NormApplyUniform =
  | "S"
  | "C"
  | "N"
  | "xTot"
  | "xOff"
  | "yTot"
  | "yOff"
  | "gStrideN"
  | "eps"
  | "slope";

/**
 * Normalise, scale, shift and activate: `y = f(γ_c·(x − μ_g)·r_g + β_c)` over views.
 *
 * @param options The fused activation.
 * @returns The spec.
 */
export function normApplySpec(options: NormKernelOptions): KernelSpec<NormApplyUniform> {
  const { activation: act, vec } = options;
  return {
    name: `normApply${_suffix(options)}`,
    bindings: {
      x: tensorBinding("read", vec),
      y: tensorBinding("write", vec),
      mean: "read",
      variance: "read",
      scale: "read",
      shift: "read",
      ...(act === "prelu" ? { slope: "read" as const } : {}),
    },
    uniforms: {
      S: "u32",
      C: "u32",
      N: "u32",
      ...ROW_ORIGIN,
      ...viewUniforms(["x", "y"]),
      gStrideN: "u32",
      eps: "f32",
      slope: "f32",
    },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["x", "y"], vec) + wgsl`
  let g = n * u.gStrideN + c;
  let m = mean[g];
  let k = scale[c] * inverseSqrt(variance[g] + u.eps);
  let b = shift[c];
  ${activationSlope(act)}` + rowLoop(
      `
    let z = (x[xB + s] - m) * k + b;
    y[yB + s] = ${activationApply(act, "z")};`,
      vec,
    ),
  };
}

/** Uniforms of {@linkcode normBackwardPartialSpec}. */
export type NormPartialUniform =
  | "SV"
  | "C"
  | "xTot"
  | "xOff"
  | "dyTot"
  | "dyOff"
  | "r0"
  | "rows"
  | "parts"
  | "chunkV"
  | "gStrideN"
  | "eps"
  | "slope"
  | "one";

/**
 * Quantities per partial of the normalisation backward: `Σdz`, `Σdz·x̂` and, for PReLU,
 * `Σdy·z` over `z ≤ 0`.
 *
 * @param act The fused activation.
 * @returns 2 or 3.
 */
export function normPartialQuantities(act: ActivationKind): number {
  return act === "prelu" ? 3 : 2;
}

/**
 * Per-chunk compensated sums of the normalisation backward (layout of `segment_sum.ts`:
 * partial `t = row·parts + p` at `part[Q·t + q]`).
 *
 * @param options The fused activation.
 * @returns The spec.
 */
export function normBackwardPartialSpec(
  options: NormKernelOptions,
): KernelSpec<NormPartialUniform> {
  const { activation: act, vec } = options;
  const q = normPartialQuantities(act);
  const z = act === "identity" ? "" : "let z = gam * xh + bet;";
  return {
    name: `normBackwardPartial${_suffix(options)}`,
    bindings: {
      x: tensorBinding("read", vec),
      dy: tensorBinding("read", vec),
      mean: "read",
      variance: "read",
      scale: "read",
      shift: "read",
      ...(act === "prelu" ? { slope: "read" as const } : {}),
      part: "write",
    },
    uniforms: {
      SV: "u32",
      C: "u32",
      ...viewUniforms(["x", "dy"]),
      r0: "u32",
      rows: "u32",
      parts: "u32",
      chunkV: "u32",
      gStrideN: "u32",
      eps: "f32",
      slope: "f32",
      one: "f32",
    },
    workgroupSize: PARTIAL_WG,
    dispatch: partialGrid,
    prelude: vecPrelude(vec) + KAHAN_WGSL,
    body: PARTIAL_HEADER + wgsl`
  let g = n * u.gStrideN + c;
  let m = mean[g];
  let r = inverseSqrt(variance[g] + u.eps);
  let gam = scale[c];
  let bet = shift[c];
  ${activationSlope(act)}
  let xB = (n * u.xTot + u.xOff + c) * u.SV;
  let dyB = (n * u.dyTot + u.dyOff + c) * u.SV;
  var sA = KT(T(0.0), T(0.0));
  var sB = KT(T(0.0), T(0.0));
  var sC = KT(T(0.0), T(0.0));
  for (var s = s0; s < s1; s++) {
    let xh = (x[xB + s] - m) * r;
    let gy = dy[dyB + s];
    ${z}
    let dz = ${activationGrad(act, "z", "gy")};
    sA = kt(sA, dz, u.one);
    sB = kt(sB, dz * xh, u.one);
    ${act === "prelu" ? "sC = kt(sC, select(gy * z, T(0.0), z > T(0.0)), u.one);" : ""}
  }
  part[${q}u * t] = ktValue(sA);
  part[${q}u * t + 1u] = ktValue(sB);
  ${act === "prelu" ? "part[3u * t + 2u] = ktValue(sC);" : ""}
`,
  };
}

/** Uniforms of {@linkcode normBackwardCombineSpec}. */
export type NormCombineUniform =
  | "C"
  | "N"
  | "parts"
  | "perSample"
  | "invCount"
  | "k"
  | "accumulate"
  | "one";

/**
 * Merge the backward partials: one invocation per channel `c`, compensated sums over its
 * rows and chunks. Writes `coef[2g] = k·mean_g(dz)`, `coef[2g + 1] = k·mean_g(dz·x̂)` (per
 * sample `g = n·C + c` when `perSample`, else `g = c`), and `dshift[c] = Σdz`,
 * `dscale[c] = Σdz·x̂` (PReLU: `dslope[c]`), added to the existing values when `accumulate`
 * is 1.
 *
 * @param options The fused activation (`vec` is ignored: partials are scalars).
 * @returns The spec.
 */
export function normBackwardCombineSpec(
  options: Pick<NormKernelOptions, "activation">,
): KernelSpec<NormCombineUniform> {
  const act = options.activation;
  const q = normPartialQuantities(act);
  const prelu = act === "prelu";
  return {
    name: `normBackwardCombine${_suffix({ activation: act, vec: 1 })}`,
    bindings: {
      part: "read",
      coef: "write",
      dscale: "read_write",
      dshift: "read_write",
      ...(prelu ? { dslope: "read_write" as const } : {}),
    },
    uniforms: {
      C: "u32",
      N: "u32",
      parts: "u32",
      perSample: "u32",
      invCount: "f32",
      k: "f32",
      accumulate: "u32",
      one: "f32",
    },
    workgroupSize: COMBINE_WG,
    dispatch: ({ C }) => grid1d(C, COMBINE_WG),
    prelude: vecPrelude(1) + KAHAN_WGSL + wgsl`
fn store(cur: f32, v: f32) -> f32 { return select(v, cur + v, u.accumulate != 0u); }
`,
    body: wgsl`
  let c = gid.x + gid.y * nwg.x * ${COMBINE_WG}u;
  if (c >= u.C) { return; }
  var tA = K1(0.0, 0.0);
  var tB = K1(0.0, 0.0);
  var tC = K1(0.0, 0.0);
  for (var n = 0u; n < u.N; n++) {
    let row = n * u.C + c;
    var a = K1(0.0, 0.0);
    var b = K1(0.0, 0.0);
    for (var p = 0u; p < u.parts; p++) {
      let i = ${q}u * (row * u.parts + p);
      a = k1(a, part[i], u.one);
      b = k1(b, part[i + 1u], u.one);
      ${prelu ? "tC = k1(tC, part[i + 2u], u.one);" : ""}
    }
    let ra = a.s - a.c;
    let rb = b.s - b.c;
    if (u.perSample != 0u) {
      coef[2u * row] = u.k * ra * u.invCount;
      coef[2u * row + 1u] = u.k * rb * u.invCount;
    }
    tA = k1(tA, ra, u.one);
    tB = k1(tB, rb, u.one);
  }
  let sA = tA.s - tA.c;
  let sB = tB.s - tB.c;
  if (u.perSample == 0u) {
    coef[2u * c] = u.k * sA * u.invCount;
    coef[2u * c + 1u] = u.k * sB * u.invCount;
  }
  dshift[c] = store(dshift[c], sA);
  dscale[c] = store(dscale[c], sB);
  ${prelu ? "dslope[c] = store(dslope[c], tC.s - tC.c);" : ""}
`,
  };
}

/** Uniforms of {@linkcode normBackwardDxSpec}. */
export type NormDxUniform =
  | "S"
  | "C"
  | "N"
  | "xTot"
  | "xOff"
  | "dyTot"
  | "dyOff"
  | "dxTot"
  | "dxOff"
  | "gStrideN"
  | "eps"
  | "slope";

/**
 * Input gradient `dx = γ·r·(dz − coef[2g] − x̂·coef[2g + 1])` over views.
 *
 * @param options The fused activation and vector width.
 * @returns The spec.
 */
export function normBackwardDxSpec(options: NormKernelOptions): KernelSpec<NormDxUniform> {
  const { activation: act, vec } = options;
  const z = act === "identity" ? "" : "let z = gam * xh + bet;";
  return {
    name: `normBackwardDx${_suffix(options)}`,
    bindings: {
      x: tensorBinding("read", vec),
      dy: tensorBinding("read", vec),
      mean: "read",
      variance: "read",
      scale: "read",
      shift: "read",
      ...(act === "prelu" ? { slope: "read" as const } : {}),
      coef: "read",
      dx: tensorBinding("write", vec),
    },
    uniforms: {
      S: "u32",
      C: "u32",
      N: "u32",
      ...ROW_ORIGIN,
      ...viewUniforms(["x", "dy", "dx"]),
      gStrideN: "u32",
      eps: "f32",
      slope: "f32",
    },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["x", "dy", "dx"], vec) + wgsl`
  let g = n * u.gStrideN + c;
  let m = mean[g];
  let r = inverseSqrt(variance[g] + u.eps);
  let gam = scale[c];
  let bet = shift[c];
  let gr = gam * r;
  let mA = coef[2u * g];
  let mB = coef[2u * g + 1u];
  ${activationSlope(act)}` + rowLoop(
      `
    let xh = (x[xB + s] - m) * r;
    let gy = dy[dyB + s];
    ${z}
    let dz = ${activationGrad(act, "z", "gy")};
    dx[dxB + s] = gr * (dz - mA - xh * mB);`,
      vec,
    ),
  };
}
