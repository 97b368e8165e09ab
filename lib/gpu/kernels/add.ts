/**
 * Accumulation on NCDHW views: `y += x`. Used where a tensor feeds two consumers and the op
 * that produces one of its gradients cannot accumulate itself (max-pool backward into the
 * skip slice of a concatenation gradient).
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

/** Uniforms of {@linkcode addIntoSpec}. */
export type AddIntoUniform = "S" | "C" | "N" | "xTot" | "xOff" | "yTot" | "yOff";

/**
 * `y[n, c, s] += x[n, c, s]` over views (row-grid kernel, see `reduce.ts`).
 *
 * @param vec Vector width.
 * @returns The spec.
 */
export function addIntoSpec(vec: Vec): KernelSpec<AddIntoUniform> {
  return {
    name: `addInto${vec}`,
    bindings: { x: tensorBinding("read", vec), y: tensorBinding("read_write", vec) },
    uniforms: { S: "u32", C: "u32", N: "u32", ...ROW_ORIGIN, ...viewUniforms(["x", "y"]) },
    workgroupSize: ROW_WG,
    dispatch: rowGrid(vec),
    prelude: vecPrelude(vec),
    body: rowHeader(["x", "y"], vec) + rowLoop(
      `
    y[yB + s] = y[yB + s] + x[xB + s];`,
      vec,
    ),
  };
}
