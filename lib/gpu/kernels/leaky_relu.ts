/**
 * LeakyReLU forward and backward on NCDHW views: `y = x > 0 ? x : slope·x`,
 * `dx = dy · (x > 0 ? 1 : slope)` (PyTorch's convention at 0: the slope branch).
 *
 * Row-grid kernels (see `reduce.ts`): workgroup `(x, c, n)` handles `ROW_SPAN` elements of row
 * `(n, c)`. With `inPlace` the output shares the input's buffer (any channel slices of it,
 * including the same one) through a single `read_write` binding, as WebGPU forbids binding a
 * written buffer twice.
 *
 * @module
 */

import type { KernelSpec } from "../kernel_spec.ts";
import { ROW_WG, rowGrid, rowHeader, rowLoop, viewUniforms } from "./reduce.ts";

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
 * @param options `inPlace`: `x` and `y` live in one buffer, bound once as `xy`.
 * @returns The spec.
 */
export function leakyReluForwardSpec(
  options: { inPlace: boolean },
): KernelSpec<LeakyReluForwardUniform> {
  const X = options.inPlace ? "xy" : "x";
  const Y = options.inPlace ? "xy" : "y";
  return {
    name: options.inPlace ? "leakyReluForwardInPlace" : "leakyReluForward",
    bindings: options.inPlace ? { xy: "read_write" } : { x: "read", y: "write" },
    uniforms: { S: "u32", C: "u32", N: "u32", ...viewUniforms(["x", "y"]), slope: "f32" },
    workgroupSize: ROW_WG,
    dispatch: rowGrid,
    body: rowHeader(["x", "y"]) + rowLoop(`
    let v = ${X}[xB + s];
    ${Y}[yB + s] = select(v * u.slope, v, v > 0.0);`),
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
 * @param options `inPlace`: `dy` and `dx` live in one buffer, bound once as `grad`.
 * @returns The spec.
 */
export function leakyReluBackwardSpec(
  options: { inPlace: boolean },
): KernelSpec<LeakyReluBackwardUniform> {
  const DY = options.inPlace ? "grad" : "dy";
  const DX = options.inPlace ? "grad" : "dx";
  return {
    name: options.inPlace ? "leakyReluBackwardInPlace" : "leakyReluBackward",
    bindings: options.inPlace
      ? { x: "read", grad: "read_write" }
      : { x: "read", dy: "read", dx: "write" },
    uniforms: {
      S: "u32",
      C: "u32",
      N: "u32",
      ...viewUniforms(["x", "dy", "dx"]),
      slope: "f32",
    },
    workgroupSize: ROW_WG,
    dispatch: rowGrid,
    body: rowHeader(["x", "dy", "dx"]) + rowLoop(`
    let g = ${DY}[dyB + s];
    ${DX}[dxB + s] = select(g * u.slope, g, x[xB + s] > 0.0);`),
  };
}
