/**
 * Softmax over the channels of NCDHW views, at every `(n, d, h, w)`:
 * `p_c = e^(x_c − m)/Σ_k e^(x_k − m)` with `m = max_k x_k` (so no `exp` overflows and the
 * largest term is 1), and its backward `dx_c = p_c·(dp_c − Σ_k p_k·dp_k)` from the forward
 * output `p` and the gradient `dp` of the probabilities.
 *
 * Grid: workgroup `(x, 0, n)` handles `rowSpan(vec)` spatial positions of sample `n`; each
 * invocation loops over the channels (neighbouring lanes read neighbouring positions; with
 * `vec = 4` each lane handles four positions at once).
 *
 * @module
 */

import { type KernelSpec, wgsl } from "../kernel_spec.ts";
import {
  ROW_WG,
  rowPer,
  rowSpan,
  tensorBinding,
  type Vec,
  vecPrelude,
  viewUniforms,
} from "./reduce.ts";

function _header(tensors: readonly string[], vec: Vec): string {
  return [
    "  let n = wid.z;",
    `  let SV = u.S / ${vec}u;`,
    ...tensors.map((t) => `  let ${t}B = (n * u.${t}Tot + u.${t}Off) * SV;`),
    `  let s0 = wid.x * ${ROW_WG * rowPer(vec)}u + lid.x;`,
  ].join("\n");
}

function _loop(body: string, vec: Vec): string {
  return wgsl`
  for (var it = 0u; it < ${rowPer(vec)}u; it++) {
    let s = s0 + it * ${ROW_WG}u;
    if (s >= SV) { break; }
${body}
  }`;
}

function _grid(vec: Vec) {
  return ({ S, N }: { S: number; N: number }): [number, number, number] => [
    Math.ceil(S / rowSpan(vec)),
    1,
    N,
  ];
}

/** Uniforms of {@linkcode softmaxForwardSpec}. */
export type SoftmaxForwardUniform = "S" | "C" | "N" | "xTot" | "xOff" | "yTot" | "yOff";

/**
 * Softmax over channels, `x → y` (distinct buffers).
 *
 * @param vec Vector width (4 needs rows of whole vec4s).
 * @returns The spec.
 */
export function softmaxForwardSpec(vec: Vec): KernelSpec<SoftmaxForwardUniform> {
  return {
    name: `softmaxForward${vec}`,
    bindings: { x: tensorBinding("read", vec), y: tensorBinding("write", vec) },
    uniforms: { S: "u32", C: "u32", N: "u32", ...viewUniforms(["x", "y"]) },
    workgroupSize: ROW_WG,
    dispatch: _grid(vec),
    prelude: vecPrelude(vec),
    body: _header(["x", "y"], vec) + _loop(
      `
    var m = x[xB + s];
    for (var c = 1u; c < u.C; c++) { m = max(m, x[xB + c * SV + s]); }
    var sum = T(0.0);
    for (var c = 0u; c < u.C; c++) { sum += exp(x[xB + c * SV + s] - m); }
    let inv = 1.0 / sum;
    for (var c = 0u; c < u.C; c++) { y[yB + c * SV + s] = exp(x[xB + c * SV + s] - m) * inv; }`,
      vec,
    ),
  };
}

/** Uniforms of {@linkcode softmaxBackwardSpec}. */
export type SoftmaxBackwardUniform =
  | "S"
  | "C"
  | "N"
  | "pTot"
  | "pOff"
  | "dpTot"
  | "dpOff"
  | "dxTot"
  | "dxOff";

/**
 * Softmax backward `dx_c = p_c·(dp_c − Σ_k p_k·dp_k)` (distinct buffers).
 *
 * @param vec Vector width (4 needs rows of whole vec4s).
 * @returns The spec.
 */
export function softmaxBackwardSpec(vec: Vec): KernelSpec<SoftmaxBackwardUniform> {
  return {
    name: `softmaxBackward${vec}`,
    bindings: {
      p: tensorBinding("read", vec),
      dp: tensorBinding("read", vec),
      dx: tensorBinding("write", vec),
    },
    uniforms: { S: "u32", C: "u32", N: "u32", ...viewUniforms(["p", "dp", "dx"]) },
    workgroupSize: ROW_WG,
    dispatch: _grid(vec),
    prelude: vecPrelude(vec),
    body: _header(["p", "dp", "dx"], vec) + _loop(
      `
    var dot = T(0.0);
    for (var c = 0u; c < u.C; c++) { dot += p[pB + c * SV + s] * dp[dpB + c * SV + s]; }
    for (var c = 0u; c < u.C; c++) {
      dx[dxB + c * SV + s] = p[pB + c * SV + s] * (dp[dpB + c * SV + s] - dot);
    }`,
      vec,
    ),
  };
}
