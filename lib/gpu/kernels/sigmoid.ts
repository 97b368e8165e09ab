/**
 * Logistic sigmoid on NCDHW views, forward `y = 1/(1 + e^(−x))` (evaluated as
 * `x ≥ 0 ? 1/(1 + e^(−x)) : e^x/(1 + e^x)`, so `exp` never overflows) and backward
 * `dx = dy·y·(1 − y)` from the forward output `y`. Row-grid kernels with the vec4 path.
 *
 * @module
 */

import type { KernelSpec } from "../kernel_spec.ts";
import type { UnaryKernelOptions } from "./leaky_relu.ts";
import {
  ROW_ORIGIN,
  ROW_WG,
  rowGrid,
  rowHeader,
  rowLoop,
  tensorBinding,
  vecPrelude,
  viewUniforms,
} from "./reduce.ts";

/** Uniforms of {@linkcode sigmoidForwardSpec}. */
export type SigmoidForwardUniform = "S" | "C" | "N" | "xTot" | "xOff" | "yTot" | "yOff";

/**
 * Sigmoid forward over views `x → y`.
 *
 * @param options In place (`x` and `y` bound once as `xy`), vector width.
 * @returns The spec.
 */
export function sigmoidForwardSpec(
  options: UnaryKernelOptions,
): KernelSpec<SigmoidForwardUniform> {
  const { inPlace, vec } = options;
  const X = inPlace ? "xy" : "x";
  const Y = inPlace ? "xy" : "y";
  return {
    name: `sigmoidForward${inPlace ? "InPlace" : ""}${vec}`,
    bindings: inPlace
      ? { xy: tensorBinding("read_write", vec) }
      : { x: tensorBinding("read", vec), y: tensorBinding("write", vec) },
    uniforms: { S: "u32", C: "u32", N: "u32", ...ROW_ORIGIN, ...viewUniforms(["x", "y"]) },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["x", "y"], vec) + rowLoop(
      `
    let v = ${X}[xB + s];
    let e = exp(-abs(v));
    let r = 1.0 / (1.0 + e);
    ${Y}[yB + s] = select(e * r, r, v >= T(0.0));`,
      vec,
    ),
  };
}

/** Uniforms of {@linkcode sigmoidBackwardSpec}. */
export type SigmoidBackwardUniform =
  | "S"
  | "C"
  | "N"
  | "yTot"
  | "yOff"
  | "dyTot"
  | "dyOff"
  | "dxTot"
  | "dxOff";

/**
 * Sigmoid backward over views: `dx = dy·y·(1 − y)`, `y` the forward output.
 *
 * @param options In place (`dy` and `dx` bound once as `grad`), vector width.
 * @returns The spec.
 */
export function sigmoidBackwardSpec(
  options: UnaryKernelOptions,
): KernelSpec<SigmoidBackwardUniform> {
  const { inPlace, vec } = options;
  const DY = inPlace ? "grad" : "dy";
  const DX = inPlace ? "grad" : "dx";
  return {
    name: `sigmoidBackward${inPlace ? "InPlace" : ""}${vec}`,
    bindings: inPlace
      ? { y: tensorBinding("read", vec), grad: tensorBinding("read_write", vec) }
      : {
        y: tensorBinding("read", vec),
        dy: tensorBinding("read", vec),
        dx: tensorBinding("write", vec),
      },
    uniforms: { S: "u32", C: "u32", N: "u32", ...ROW_ORIGIN, ...viewUniforms(["y", "dy", "dx"]) },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["y", "dy", "dx"], vec) + rowLoop(
      `
    let p = y[yB + s];
    ${DX}[dxB + s] = ${DY}[dyB + s] * p * (1.0 - p);`,
      vec,
    ),
  };
}
