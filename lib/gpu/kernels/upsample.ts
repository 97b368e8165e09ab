/**
 * Nearest-neighbour upsampling by integer factors `fD×fH×fW` (e.g. 2×2×1, 2×2×2) on NCDHW
 * views: `y[n, c, d, h, w] = x[n, c, ⌊d/fD⌋, ⌊h/fH⌋, ⌊w/fW⌋]`, output `D·fD × H·fH × W·fW`.
 * Backward: `dx[n, c, d, h, w] = Σ dy` over the `fD·fH·fW` block it was copied to.
 *
 * Grid: `(⌈H·W/(64·vec)⌉, D, N·C)` over *input* voxels; each invocation reads one input voxel
 * (vec4: four neighbours along W) and writes its block (forward) or sums its block (backward),
 * unrolled at compile time. The vec4 variant needs `W % 4 == 0` and `fW ≤ 2`.
 *
 * @module
 */

import { type KernelSpec, wgsl } from "../kernel_spec.ts";
import { tensorBinding, type Vec } from "./reduce.ts";

/** Upsampling factors `[fD, fH, fW]`. */
export type UpsampleFactor = readonly [number, number, number];

const WG = 64;

function _check(f: UpsampleFactor, vec: Vec): void {
  if (f.length !== 3 || !f.every((v) => Number.isInteger(v) && v >= 1 && v <= 4)) {
    throw new RangeError(`Cannot build an upsampling kernel: factor ${JSON.stringify(f)}`);
  }
  if (vec === 4 && f[2] > 2) {
    throw new RangeError(`Cannot build a vec4 upsampling kernel: fW = ${f[2]} exceeds 2`);
  }
}

/**
 * Whether an upsampling of rows of `W` floats by `fW` can use the vec4 kernels.
 *
 * @param W Input width.
 * @param fW Factor along W.
 * @returns 4 when `W % 4 == 0` and `fW ≤ 2`, else 1.
 */
export function upsampleVec(W: number, fW: number): Vec {
  return W % 4 === 0 && fW <= 2 ? 4 : 1;
}

/** Uniforms of the upsampling kernels (input dims, views `x` = small side, `y` = large side). */
export type UpsampleUniform =
  | "NC"
  | "C"
  | "D"
  | "H"
  | "W"
  | "xTot"
  | "xOff"
  | "yTot"
  | "yOff";

/** Each output row `(a, b)` of the block: `stmt(rowStart)` with the row's first index. */
function _rows(f: UpsampleFactor, stmt: (row: string) => string): string {
  const out: string[] = [];
  for (let a = 0; a < f[0]; a++) {
    for (let b = 0; b < f[1]; b++) out.push(stmt(`yB + (dY + ${a}u) * ohw + (hY + ${b}u) * oW`));
  }
  return out.join("\n");
}

function _spec(
  name: string,
  factor: UpsampleFactor,
  vec: Vec,
  bindings: KernelSpec["bindings"],
  body: string,
): KernelSpec<UpsampleUniform> {
  const [fd, fh, fw] = factor;
  return {
    name: `${name}${fd}${fh}${fw}v${vec}`,
    bindings,
    uniforms: {
      NC: "u32",
      C: "u32",
      D: "u32",
      H: "u32",
      W: "u32",
      xTot: "u32",
      xOff: "u32",
      yTot: "u32",
      yOff: "u32",
    },
    workgroupSize: WG,
    dispatch: ({ D, H, W, NC }) => [Math.ceil((H * W) / vec / WG), D, NC],
    // Indices in vec units: input row `wv = W/vec` elements, output row `oW = W·fW/vec`.
    body: wgsl`
  let wv = u.W / ${vec}u;
  let j = gid.x;
  if (j >= u.H * wv) { return; }
  let h = j / wv;
  let w = j - h * wv;
  let d = gid.y;
  let nc = gid.z;
  let n = nc / u.C;
  let c = nc - n * u.C;
  let oW = wv * ${fw}u;
  let ohw = u.H * ${fh}u * oW;
  let xi = (n * u.xTot + u.xOff + c) * u.D * u.H * wv + d * u.H * wv + j;
  let yB = (n * u.yTot + u.yOff + c) * u.D * ${fd}u * ohw;
  let dY = d * ${fd}u;
  let hY = h * ${fh}u;
  let wY = w * ${fw}u;
${body}
`,
  };
}

/**
 * Nearest-neighbour upsampling forward `x → y`.
 *
 * @param factor `[fD, fH, fW]`, each 1…4 (`fW ≤ 2` for vec4).
 * @param vec Vector width.
 * @returns The spec.
 * @throws {RangeError} For an unsupported factor.
 */
export function upsampleForwardSpec(
  factor: UpsampleFactor,
  vec: Vec,
): KernelSpec<UpsampleUniform> {
  _check(factor, vec);
  const fw = factor[2];
  let body: string;
  if (vec === 1) {
    body = `  let v = x[xi];\n` + _rows(factor, (r) => {
      const s: string[] = [];
      for (let e = 0; e < fw; e++) s.push(`  y[${r} + wY + ${e}u] = v;`);
      return s.join("\n");
    });
  } else if (fw === 1) {
    body = `  let v = x[xi];\n` + _rows(factor, (r) => `  y[${r} + wY] = v;`);
  } else {
    body = `  let v = x[xi];\n  let lo = v.xxyy;\n  let hi = v.zzww;\n` +
      _rows(factor, (r) => `  y[${r} + wY] = lo;\n  y[${r} + wY + 1u] = hi;`);
  }
  return _spec(
    "upsampleForward",
    factor,
    vec,
    { x: tensorBinding("read", vec), y: tensorBinding("write", vec) },
    body,
  );
}

/**
 * Nearest-neighbour upsampling backward: `dx` (the `x` view) sums `dy` (the `y` view) over each
 * block.
 *
 * @param factor `[fD, fH, fW]`, each 1…4 (`fW ≤ 2` for vec4).
 * @param vec Vector width.
 * @returns The spec.
 * @throws {RangeError} For an unsupported factor.
 */
export function upsampleBackwardSpec(
  factor: UpsampleFactor,
  vec: Vec,
): KernelSpec<UpsampleUniform> {
  _check(factor, vec);
  const fw = factor[2];
  let body: string;
  if (vec === 1) {
    body = `  var acc = 0.0;\n` + _rows(factor, (r) => {
      const s: string[] = [];
      for (let e = 0; e < fw; e++) s.push(`  acc += dy[${r} + wY + ${e}u];`);
      return s.join("\n");
    });
  } else if (fw === 1) {
    body = `  var acc = vec4<f32>(0.0);\n` + _rows(factor, (r) => `  acc += dy[${r} + wY];`);
  } else {
    body = `  var acc = vec4<f32>(0.0);\n` + _rows(
      factor,
      (r) =>
        `  {\n    let a = dy[${r} + wY];\n    let b = dy[${r} + wY + 1u];\n` +
        `    acc += vec4<f32>(a.x + a.y, a.z + a.w, b.x + b.y, b.z + b.w);\n  }`,
    );
  }
  return _spec(
    "upsampleBackward",
    factor,
    vec,
    { dy: tensorBinding("read", vec), dx: tensorBinding("write", vec) },
    body + `\n  dx[xi] = acc;`,
  );
}
