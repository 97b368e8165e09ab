/**
 * PReLU with one learnable slope per channel, on NCDHW views: `y = x > 0 ? x : a_c·x`;
 * backward `dx = dy·(x > 0 ? 1 : a_c)` and `da_c = Σ_{n,s: x ≤ 0} dy·x` (PyTorch's convention:
 * the slope branch at 0). The slope gradient is reduced like `segment_sum.ts`: the backward
 * kernel writes `dx` and one compensated partial of `da` per chunk; `segmentSumCombine`
 * (per channel) finishes it.
 *
 * @module
 */

import { type KernelSpec, wgsl } from "../kernel_spec.ts";
import type { UnaryKernelOptions } from "./leaky_relu.ts";
import {
  KAHAN_WGSL,
  PARTIAL_WG,
  ROW_ORIGIN,
  ROW_WG,
  rowGrid,
  rowHeader,
  rowLoop,
  tensorBinding,
  vecPrelude,
  viewUniforms,
} from "./reduce.ts";
import { PARTIAL_HEADER, partialGrid } from "./segment_sum.ts";

/** Uniforms of {@linkcode preluForwardSpec}. */
export type PreluForwardUniform = "S" | "C" | "N" | "xTot" | "xOff" | "yTot" | "yOff";

/**
 * PReLU forward over views `x → y`.
 *
 * @param options In place (`x` and `y` bound once as `xy`), vector width.
 * @returns The spec.
 */
export function preluForwardSpec(options: UnaryKernelOptions): KernelSpec<PreluForwardUniform> {
  const { inPlace, vec } = options;
  const X = inPlace ? "xy" : "x";
  const Y = inPlace ? "xy" : "y";
  return {
    name: `preluForward${inPlace ? "InPlace" : ""}${vec}`,
    bindings: inPlace
      ? { xy: tensorBinding("read_write", vec), slope: "read" }
      : { x: tensorBinding("read", vec), y: tensorBinding("write", vec), slope: "read" },
    uniforms: { S: "u32", C: "u32", N: "u32", ...ROW_ORIGIN, ...viewUniforms(["x", "y"]) },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["x", "y"], vec) + "\n  let a = slope[c];" + rowLoop(
      `
    let v = ${X}[xB + s];
    ${Y}[yB + s] = select(v * a, v, v > T(0.0));`,
      vec,
    ),
  };
}

/** Uniforms of {@linkcode preluBackwardSpec}. */
export type PreluBackwardUniform =
  | "SV"
  | "C"
  | "xTot"
  | "xOff"
  | "dyTot"
  | "dyOff"
  | "dxTot"
  | "dxOff"
  | "r0"
  | "rows"
  | "parts"
  | "chunkV"
  | "one";

/**
 * PReLU backward: `dx` over views, plus per-chunk partials of the slope gradient
 * (`part[row·parts + p]`, chunking of `segment_sum.ts`).
 *
 * @param options In place (`dy` and `dx` bound once as `grad`), vector width.
 * @returns The spec.
 */
export function preluBackwardSpec(options: UnaryKernelOptions): KernelSpec<PreluBackwardUniform> {
  const { inPlace, vec } = options;
  const DY = inPlace ? "grad" : "dy";
  const DX = inPlace ? "grad" : "dx";
  return {
    name: `preluBackward${inPlace ? "InPlace" : ""}${vec}`,
    bindings: inPlace
      ? {
        x: tensorBinding("read", vec),
        grad: tensorBinding("read_write", vec),
        slope: "read",
        part: "write",
      }
      : {
        x: tensorBinding("read", vec),
        dy: tensorBinding("read", vec),
        dx: tensorBinding("write", vec),
        slope: "read",
        part: "write",
      },
    uniforms: {
      SV: "u32",
      C: "u32",
      ...viewUniforms(["x", "dy", "dx"]),
      r0: "u32",
      rows: "u32",
      parts: "u32",
      chunkV: "u32",
      one: "f32",
    },
    workgroupSize: PARTIAL_WG,
    dispatch: partialGrid,
    prelude: vecPrelude(vec) + KAHAN_WGSL,
    body: PARTIAL_HEADER + wgsl`
  let a = slope[c];
  let xB = (n * u.xTot + u.xOff + c) * u.SV;
  let dyB = (n * u.dyTot + u.dyOff + c) * u.SV;
  let dxB = (n * u.dxTot + u.dxOff + c) * u.SV;
  var acc = KT(T(0.0), T(0.0));
  for (var s = s0; s < s1; s++) {
    let v = x[xB + s];
    let g = ${DY}[dyB + s];
    let pos = v > T(0.0);
    ${DX}[dxB + s] = select(g * a, g, pos);
    acc = kt(acc, select(g * v, T(0.0), pos), u.one);
  }
  part[t] = ktValue(acc);
`,
  };
}
