/**
 * LeakyReLU forward and backward on NCDHW views: `y = x > 0 ? x : slope·x`,
 * `dx = dy · (x > 0 ? 1 : slope)` (PyTorch's convention at 0: the slope branch).
 *
 * Row-grid kernels (see `reduce.ts`): workgroup `(x, c, n)` handles `rowSpan(vec)` floats of
 * row `(n, c)`; `vec = 4` moves vec4s (rows of whole vec4s). With `inPlace` the output shares
 * the input's buffer (the same slice, or a disjoint one) through a single `read_write`
 * binding, as WebGPU forbids binding a written buffer twice.
 *
 * @module
 */

import type { KernelSpec } from "../kernel_spec.ts";
import {
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

/** Compile-time options of the unary elementwise kernels. */
export interface UnaryKernelOptions {
  /** Output and input share one buffer (bound once). */
  inPlace: boolean;
  /** Vector width. */
  vec: Vec;
}

/** Uniforms of {@linkcode leakyReluForwardSpec}. */
export type LeakyReluForwardUniform =
  | "S"
  | "C"
  | "N"
  | "xTot"
  | "xOff"
  | "yTot"
  | "yOff"
  | "slope";

/**
 * LeakyReLU forward over views `x → y`.
 *
 * @param options In place (`x` and `y` bound once as `xy`), vector width.
 * @returns The spec.
 */
export function leakyReluForwardSpec(
  options: UnaryKernelOptions,
): KernelSpec<LeakyReluForwardUniform> {
  const { inPlace, vec } = options;
  const X = inPlace ? "xy" : "x";
  const Y = inPlace ? "xy" : "y";
  return {
    name: `leakyReluForward${inPlace ? "InPlace" : ""}${vec}`,
    bindings: inPlace
      ? { xy: tensorBinding("read_write", vec) }
      : { x: tensorBinding("read", vec), y: tensorBinding("write", vec) },
    uniforms: {
      S: "u32",
      C: "u32",
      N: "u32",
      ...ROW_ORIGIN,
      ...viewUniforms(["x", "y"]),
      slope: "f32",
    },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["x", "y"], vec) + rowLoop(
      `
    let v = ${X}[xB + s];
    ${Y}[yB + s] = select(v * u.slope, v, v > T(0.0));`,
      vec,
    ),
  };
}

/** Uniforms of {@linkcode leakyReluBackwardSpec}. */
export type LeakyReluBackwardUniform =
  | "S"
  | "C"
  | "N"
  | "xTot"
  | "xOff"
  | "dyTot"
  | "dyOff"
  | "dxTot"
  | "dxOff"
  | "slope";

/**
 * LeakyReLU backward over views: `dx = dy · (x > 0 ? 1 : slope)`, `x` the forward input.
 *
 * @param options In place (`dy` and `dx` bound once as `grad`), vector width.
 * @returns The spec.
 */
export function leakyReluBackwardSpec(
  options: UnaryKernelOptions,
): KernelSpec<LeakyReluBackwardUniform> {
  const { inPlace, vec } = options;
  const DY = inPlace ? "grad" : "dy";
  const DX = inPlace ? "grad" : "dx";
  return {
    name: `leakyReluBackward${inPlace ? "InPlace" : ""}${vec}`,
    bindings: inPlace
      ? { x: tensorBinding("read", vec), grad: tensorBinding("read_write", vec) }
      : {
        x: tensorBinding("read", vec),
        dy: tensorBinding("read", vec),
        dx: tensorBinding("write", vec),
      },
    uniforms: {
      S: "u32",
      C: "u32",
      N: "u32",
      ...ROW_ORIGIN,
      ...viewUniforms(["x", "dy", "dx"]),
      slope: "f32",
    },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["x", "dy", "dx"], vec) + rowLoop(
      `
    let g = ${DY}[dyB + s];
    ${DX}[dxB + s] = select(g * u.slope, g, x[xB + s] > T(0.0));`,
      vec,
    ),
  };
}
