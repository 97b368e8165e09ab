/**
 * Max-pooling with an anisotropic window `kD×kH×kW` (stride = window, no padding) on NCDHW
 * views. The output has `⌊D/kD⌋×⌊H/kH⌋×⌊W/kW⌋` voxels (PyTorch's floor mode: trailing planes
 * that do not fill a window are dropped). The forward also writes, per output voxel, the
 * window-local index `a·kH·kW + b·kW + e` of its maximum (ties → the first in that order, as
 * PyTorch), and the backward routes `dy` to it; every other input voxel, including the dropped
 * trailing ones, gets 0. NaN handling is not specified (comparisons with NaN are false).
 *
 * Two variants. Scalar (`vec = 1`): one output (forward) or one window (backward) per
 * invocation; `indices` holds one u32 per output. Vec4 (`vec = 4`, when `kW ≤ 2` and
 * `W = kW·Wo` with `Wo % 4 == 0`): four neighbouring outputs along W per invocation, vec4
 * loads and stores, and the four window indices packed into one u32 (8 bits each, output
 * `4j + i` in bits `8i…8i + 7`). Grid: `(⌈plane/64⌉, depth, N·C)` (uniform `NC`); the window
 * is unrolled at compile time.
 *
 * @module
 */

import { type KernelSpec, wgsl } from "../kernel_spec.ts";
import { tensorBinding, type Vec } from "./reduce.ts";

/** A pooling window `[kD, kH, kW]`. */
export type PoolWindow = readonly [number, number, number];

const WG = 64;

function _offsets(k: PoolWindow): Array<{ a: number; b: number; e: number; code: number }> {
  const out = [];
  for (let a = 0; a < k[0]; a++) {
    for (let b = 0; b < k[1]; b++) {
      for (let e = 0; e < k[2]; e++) out.push({ a, b, e, code: (a * k[1] + b) * k[2] + e });
    }
  }
  return out;
}

function _check(k: PoolWindow, vec: Vec): void {
  if (k.length !== 3 || !k.every((v) => Number.isInteger(v) && v >= 1 && v <= 4)) {
    throw new RangeError(`Cannot build a max-pool kernel: window ${JSON.stringify(k)}`);
  }
  if (vec === 4 && k[2] > 2) {
    throw new RangeError(`Cannot build a vec4 max-pool kernel: kW = ${k[2]} exceeds 2`);
  }
}

/**
 * Whether a max-pool over rows of `W` floats with window width `kW` can use the vec4 kernels.
 *
 * @param W Input width.
 * @param kW Window width.
 * @returns 4 when `kW ≤ 2` and `W % (4·kW) == 0`, else 1.
 */
export function maxPoolVec(W: number, kW: number): Vec {
  return kW <= 2 && W % (4 * kW) === 0 ? 4 : 1;
}

/** Uniforms of the max-pool kernels (input dims, output dims, views). */
export type MaxPoolUniform =
  | "NC"
  | "C"
  | "D"
  | "H"
  | "W"
  | "Do"
  | "Ho"
  | "Wo"
  | "Dg"
  | "Hg"
  | "aTot"
  | "aOff"
  | "bTot"
  | "bOff"
  | "iOff";

const UNIFORMS = {
  NC: "u32",
  C: "u32",
  D: "u32",
  H: "u32",
  W: "u32",
  Do: "u32",
  Ho: "u32",
  Wo: "u32",
  Dg: "u32",
  Hg: "u32",
  aTot: "u32",
  aOff: "u32",
  bTot: "u32",
  bOff: "u32",
  iOff: "u32",
} as const;

/**
 * WGSL opening both kernels: `(j, plane position)`, `d0, h0` (window origin), `n`, `c`, `nc`,
 * the input row base `xB` (in `vec` units) of view `a` (the full-resolution side) and the
 * output base `oB` of view `b` (the pooled side). The grid covers `Dg × Hg × gridW` windows.
 */
function _header(window: PoolWindow, vec: Vec, gridW: string): string {
  const [kd, kh] = window;
  return wgsl`
  let wv = u.Wo / ${vec}u;
  let gw = ${gridW};
  let j = gid.x;
  if (j >= u.Hg * gw) { return; }
  let hg = j / gw;
  let jw = j - hg * gw;
  let dg = gid.y;
  let nc = gid.z;
  let n = nc / u.C;
  let c = nc - n * u.C;
  let rowV = u.W / ${vec}u;
  let xB = (n * u.aTot + u.aOff + c) * u.D * u.H * rowV;
  let d0 = dg * ${kd}u;
  let h0 = hg * ${kh}u;
  let full = dg < u.Do && hg < u.Ho;
  let oPlane = u.Ho * wv;
  let oB = (n * u.bTot + u.bOff + c) * u.Do * oPlane + dg * oPlane + hg * wv + jw;
  let iB = ((nc + u.iOff) * u.Do + dg) * oPlane + hg * wv + jw;
`;
}

/**
 * Max-pool forward: `y` and the window-local argmax `indices` (u32; layout per variant, see
 * the module doc). Views: `a` = input `x`, `b` = output `y`. Uniforms `Dg = Do`, `Hg = Ho`.
 *
 * @param window `[kD, kH, kW]`, each 1…4 (`kW ≤ 2` for vec4).
 * @param vec Vector width.
 * @returns The spec.
 * @throws {RangeError} For an unsupported window.
 */
export function maxPoolForwardSpec(window: PoolWindow, vec: Vec): KernelSpec<MaxPoolUniform> {
  _check(window, vec);
  const [kd, kh, kw] = window;
  const offs = _offsets(window);
  let body: string;
  if (vec === 1) {
    const load = (a: number, b: number, e: number) =>
      `x[xB + ((d0 + ${a}u) * u.H + h0 + ${b}u) * u.W + jw * ${kw}u + ${e}u]`;
    body = `
  var best = ${load(0, 0, 0)};
  var arg = 0u;` + offs.slice(1).map(({ a, b, e, code }) =>
      wgsl`
  {
    let v = ${load(a, b, e)};
    let better = v > best;
    best = select(best, v, better);
    arg = select(arg, ${code}u, better);
  }`
    ).join("") + `
  y[oB] = best;
  indices[iB] = arg;`;
  } else {
    // Candidates of window column e for the four outputs, from the row's vec4 loads.
    const cand = (e: number) =>
      kw === 1
        ? "r0"
        : e === 0
        ? "vec4<f32>(r0.x, r0.z, r1.x, r1.z)"
        : "vec4<f32>(r0.y, r0.w, r1.y, r1.w)";
    const rows: string[] = [];
    for (let a = 0; a < kd; a++) {
      for (let b = 0; b < kh; b++) {
        const rowBase = `xB + ((d0 + ${a}u) * u.H + h0 + ${b}u) * rowV + jw * ${kw}u`;
        const loads = kw === 1
          ? `let r0 = x[${rowBase}];`
          : `let r0 = x[${rowBase}];\n    let r1 = x[${rowBase} + 1u];`;
        const cmps = [];
        for (let e = 0; e < kw; e++) {
          const code = (a * kh + b) * kw + e;
          cmps.push(
            code === 0 ? `best = ${cand(e)};` : wgsl`{
      let v = ${cand(e)};
      let better = v > best;
      best = select(best, v, better);
      arg = select(arg, vec4<u32>(${code}u), better);
    }`,
          );
        }
        rows.push(`  {\n    ${loads}\n    ${cmps.join("\n    ")}\n  }`);
      }
    }
    body = `
  var best = vec4<f32>(0.0);
  var arg = vec4<u32>(0u);
${rows.join("\n")}
  y[oB] = best;
  indices[iB] = arg.x | (arg.y << 8u) | (arg.z << 16u) | (arg.w << 24u);`;
  }
  return {
    name: `maxPoolForward${kd}${kh}${kw}v${vec}`,
    bindings: {
      x: tensorBinding("read", vec),
      y: tensorBinding("write", vec),
      indices: { access: "write", type: "u32" },
    },
    uniforms: UNIFORMS,
    workgroupSize: WG,
    dispatch: ({ Dg, Hg, Wo, NC }) => [Math.ceil((Hg * Wo) / vec / WG), Dg, NC],
    body: _header(window, vec, "wv") + body,
  };
}

/**
 * Max-pool backward: writes every element of `dx` (`dy` at each window's argmax, 0 elsewhere).
 * Views: `a` = `dx` (input side), `b` = `dy`. The grid covers `Dg = ⌈D/kD⌉` by `Hg = ⌈H/kH⌉`
 * windows (and `⌈W/kW⌉` along W in the scalar variant, exactly `Wo` in the vec4 one) so the
 * dropped trailing planes are zeroed too.
 *
 * @param window `[kD, kH, kW]`, each 1…4 (`kW ≤ 2` for vec4).
 * @param vec Vector width (must match the forward's).
 * @returns The spec.
 * @throws {RangeError} For an unsupported window.
 */
export function maxPoolBackwardSpec(window: PoolWindow, vec: Vec): KernelSpec<MaxPoolUniform> {
  _check(window, vec);
  const [kd, kh, kw] = window;
  let body: string;
  if (vec === 1) {
    // In the scalar variant the grid's W extent is ⌈W/kW⌉: `jw` may reach past Wo.
    body = wgsl`
  let wc = jw;
  var arg = 0xffffffffu;
  var g = 0.0;
  if (full && wc < u.Wo) {
    arg = indices[iB];
    g = dy[oB];
  }` + _offsets(window).map(({ a, b, e, code }) =>
      wgsl`
  if (d0 + ${a}u < u.D && h0 + ${b}u < u.H && wc * ${kw}u + ${e}u < u.W) {
    dx[xB + ((d0 + ${a}u) * u.H + h0 + ${b}u) * u.W + wc * ${kw}u + ${e}u] = select(0.0, g, arg == ${code}u);
  }`
    ).join("");
  } else {
    const rows: string[] = [];
    for (let a = 0; a < kd; a++) {
      for (let b = 0; b < kh; b++) {
        const rowBase = `xB + ((d0 + ${a}u) * u.H + h0 + ${b}u) * rowV + jw * ${kw}u`;
        const c0 = (a * kh + b) * kw;
        const stores = kw === 1
          ? `dx[${rowBase}] = select(vec4<f32>(0.0), g, arg == vec4<u32>(${c0}u));`
          : `let m0 = arg == vec4<u32>(${c0}u);
    let m1 = arg == vec4<u32>(${c0 + 1}u);
    dx[${rowBase}] = select(vec4<f32>(0.0), vec4<f32>(g.x, g.x, g.y, g.y), vec4<bool>(m0.x, m1.x, m0.y, m1.y));
    dx[${rowBase} + 1u] = select(vec4<f32>(0.0), vec4<f32>(g.z, g.z, g.w, g.w), vec4<bool>(m0.z, m1.z, m0.w, m1.w));`;
        rows.push(`  if (d0 + ${a}u < u.D && h0 + ${b}u < u.H) {\n    ${stores}\n  }`);
      }
    }
    body = `
  var arg = vec4<u32>(0xffffffffu);
  var g = vec4<f32>(0.0);
  if (full) {
    let packed = indices[iB];
    arg = vec4<u32>(packed & 255u, (packed >> 8u) & 255u, (packed >> 16u) & 255u, packed >> 24u);
    g = dy[oB];
  }
${rows.join("\n")}`;
  }
  return {
    name: `maxPoolBackward${kd}${kh}${kw}v${vec}`,
    bindings: {
      dy: tensorBinding("read", vec),
      indices: { access: "read", type: "u32" },
      dx: tensorBinding("write", vec),
    },
    uniforms: UNIFORMS,
    workgroupSize: WG,
    dispatch: ({ Dg, Hg, W, Wo, NC }) => [
      Math.ceil((Hg * (vec === 1 ? Math.ceil(W / kw) : Wo / vec)) / WG),
      Dg,
      NC,
    ],
    body: _header(window, vec, vec === 1 ? `(u.W + ${kw - 1}u) / ${kw}u` : "wv") + body,
  };
}
