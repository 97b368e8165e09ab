/**
 * Segmented reductions over the rows of an NCDHW view: one row is the `S = D·H·W` elements
 * of one `(n, c)`; a group is one row (per sample and channel) or the `N` rows of one channel
 * (per channel, as batch statistics need).
 *
 * Two passes, no barrier anywhere:
 * 1. *partial*: each invocation reduces one contiguous chunk (at most `MAX_CHUNK` vector
 *    elements) of one row serially and writes one partial: a Kahan-compensated sum, or the
 *    chunk's mean and M2 (Σ(x − mean)²) by Welford's update (Welford 1962; Knuth TAOCP 2,
 *    §4.2.2), which subtracts the running mean before squaring — never E[x²] − E[x]²;
 * 2. *combine*: one invocation per group merges the group's partials, compensated: the mean
 *    from Σ count·mean, then `M2 = Σ M2_p + Σ count_p·(mean_p − mean)²` (the exact
 *    decomposition of Chan, Golub & LeVeque 1983, evaluated around the final mean).
 *
 * Partial layout: partial `p` of row `r = n·C + c` is at index `t = r·parts + p`; chunk `p`
 * covers floats `[p·chunk, min(S, (p + 1)·chunk))`. Partial kernels take `SV` and `chunkV`
 * (row length and chunk in vector elements); combine kernels take `S` and `chunk` in floats.
 *
 * @module
 */

import { grid1d, type KernelSpec, wgsl } from "../kernel_spec.ts";
import {
  COMBINE_WG,
  KAHAN_WGSL,
  PARTIAL_WG,
  tensorBinding,
  type Vec,
  vecPrelude,
  welfordMergeWgsl,
} from "./reduce.ts";

/** Uniforms of the partial kernels. */
export type PartialUniform =
  | "SV"
  | "C"
  | "xTot"
  | "xOff"
  | "r0"
  | "rows"
  | "parts"
  | "chunkV"
  | "one";

/**
 * WGSL deriving `t`, `row`, `p`, `n`, `c`, `s0`, `s1` (vector units) of a partial invocation.
 * The dispatch covers rows `[r0, rows)` (uniforms `r0`, `rows`; `r0 = 0` unless the op splits
 * its rows into chunks), with `n`, `c` and `t` absolute, so partials land where an unchunked
 * dispatch writes them.
 */
export const PARTIAL_HEADER: string = wgsl`
  let t = gid.x + gid.y * nwg.x * ${PARTIAL_WG}u + u.r0 * u.parts;
  if (t >= u.rows * u.parts) { return; }
  let row = t / u.parts;
  let p = t - row * u.parts;
  let n = row / u.C;
  let c = row - n * u.C;
  let s0 = p * u.chunkV;
  let s1 = min(u.SV, s0 + u.chunkV);
`;

/**
 * Workgroups of a partial kernel over rows `[r0, rows)`.
 *
 * @param u Uniforms `r0`, `rows`, `parts`.
 * @returns The workgroup triple.
 */
export function partialGrid(
  u: { r0: number; rows: number; parts: number },
): [number, number, number] {
  const [x, y, z] = grid1d((u.rows - u.r0) * u.parts, PARTIAL_WG);
  return [x, y, z];
}

const PARTIAL_UNIFORMS = {
  SV: "u32",
  C: "u32",
  xTot: "u32",
  xOff: "u32",
  r0: "u32",
  rows: "u32",
  parts: "u32",
  chunkV: "u32",
  one: "f32",
} as const;

/**
 * Mean and M2 of each chunk of each row of `x` by Welford's update (`vec` interleaved streams,
 * merged at the end): `part[2t] = mean`, `part[2t + 1] = M2`.
 *
 * @param vec Vector width (4 needs rows of whole vec4s).
 * @returns The spec.
 */
export function segmentStatsPartialSpec(vec: Vec): KernelSpec<PartialUniform> {
  return {
    name: `segmentStatsPartial${vec}`,
    bindings: { x: tensorBinding("read", vec), part: "write" },
    uniforms: PARTIAL_UNIFORMS,
    workgroupSize: PARTIAL_WG,
    dispatch: partialGrid,
    prelude: vecPrelude(vec) + welfordMergeWgsl(vec),
    body: PARTIAL_HEADER + wgsl`
  let base = (n * u.xTot + u.xOff + c) * u.SV;
  var m = T(0.0);
  var q = T(0.0);
  var k = 0.0;
  for (var s = s0; s < s1; s++) {
    let v = x[base + s];
    k += 1.0;
    let d = v - m;
    m += d / k;
    q += d * (v - m);
  }
  let r = welfordMerge(m, q, k);
  part[2u * t] = r.x;
  part[2u * t + 1u] = max(r.y, 0.0);
`,
  };
}

/** Uniforms of the combine kernels. */
export type CombineUniform = "groups" | "S" | "C" | "parts" | "chunk" | "nLoop" | "one";

/** WGSL opening a combine kernel: `g` (one invocation per group) and the early return. */
const COMBINE_HEADER = wgsl`
  let g = gid.x + gid.y * nwg.x * ${COMBINE_WG}u;
  if (g >= u.groups) { return; }
`;

/**
 * Statistics of each group from the partials of {@linkcode segmentStatsPartialSpec}: one
 * invocation per group `g`, whose rows are `g + j·C` for `j < nLoop` (`nLoop = 1` for
 * per-sample groups, `N` for per-channel groups). Writes the mean and the biased variance
 * (M2/count); with `running`, also updates the running mean and unbiased variance with
 * `momentum` (PyTorch: `r ← (1 − momentum)·r + momentum·v`).
 *
 * @param options `running`: update the running statistics of batch normalisation.
 * @returns The spec.
 */
export function segmentStatsCombineSpec(
  options: { running: boolean },
): KernelSpec<CombineUniform | "momentum"> {
  const running = options.running;
  return {
    name: running ? "segmentStatsCombineRunning" : "segmentStatsCombine",
    bindings: running
      ? {
        part: "read",
        mean: "write",
        variance: "write",
        runningMean: "read_write",
        runningVar: "read_write",
      }
      : { part: "read", mean: "write", variance: "write" },
    uniforms: {
      groups: "u32",
      S: "u32",
      C: "u32",
      parts: "u32",
      chunk: "u32",
      nLoop: "u32",
      one: "f32",
      momentum: "f32",
    },
    workgroupSize: COMBINE_WG,
    dispatch: ({ groups }) => grid1d(groups, COMBINE_WG),
    prelude: vecPrelude(1) + KAHAN_WGSL +
      wgsl`
fn chunkCount(p: u32) -> f32 { return f32(min(u.S, (p + 1u) * u.chunk) - p * u.chunk); }
`,
    body: COMBINE_HEADER + wgsl`
  var cnt = 0.0;
  var sum = K1(0.0, 0.0);
  for (var j = 0u; j < u.nLoop; j++) {
    let b = (g + j * u.C) * u.parts;
    for (var p = 0u; p < u.parts; p++) {
      let w = chunkCount(p);
      cnt += w;
      sum = k1(sum, w * part[2u * (b + p)], u.one);
    }
  }
  let mu = (sum.s - sum.c) / cnt;
  var m2 = K1(0.0, 0.0);
  for (var j = 0u; j < u.nLoop; j++) {
    let b = (g + j * u.C) * u.parts;
    for (var p = 0u; p < u.parts; p++) {
      let d = part[2u * (b + p)] - mu;
      m2 = k1(m2, part[2u * (b + p) + 1u] + chunkCount(p) * d * d, u.one);
    }
  }
  let q = max(m2.s - m2.c, 0.0);
  mean[g] = mu;
  variance[g] = q / cnt;
  ${
      running
        ? wgsl`let unbiased = q / max(cnt - 1.0, 1.0);
  runningMean[g] = (1.0 - u.momentum) * runningMean[g] + u.momentum * mu;
  runningVar[g] = (1.0 - u.momentum) * runningVar[g] + u.momentum * unbiased;`
        : ""
    }
`,
  };
}

/**
 * Kahan-compensated sum of each chunk of each row of `x`: `part[t]`.
 *
 * @param vec Vector width (4 needs rows of whole vec4s).
 * @returns The spec.
 */
export function segmentSumPartialSpec(vec: Vec): KernelSpec<PartialUniform> {
  return {
    name: `segmentSumPartial${vec}`,
    bindings: { x: tensorBinding("read", vec), part: "write" },
    uniforms: PARTIAL_UNIFORMS,
    workgroupSize: PARTIAL_WG,
    dispatch: partialGrid,
    prelude: vecPrelude(vec) + KAHAN_WGSL,
    body: PARTIAL_HEADER + wgsl`
  let base = (n * u.xTot + u.xOff + c) * u.SV;
  var a = KT(T(0.0), T(0.0));
  for (var s = s0; s < s1; s++) { a = kt(a, x[base + s], u.one); }
  part[t] = ktValue(a);
`,
  };
}

/**
 * Sum of each group's partials (`q` consecutive floats per partial, quantity `qi`) times
 * `scale` (1 for sums, 1/count for means), written to `out[g]` (or added to it when
 * `accumulate` is 1). One invocation per group, rows as in {@linkcode segmentStatsCombineSpec}.
 */
export const segmentSumCombine: KernelSpec<
  "groups" | "C" | "parts" | "nLoop" | "q" | "qi" | "scale" | "accumulate" | "one"
> = {
  name: "segmentSumCombine",
  bindings: { part: "read", out: "read_write" },
  uniforms: {
    groups: "u32",
    C: "u32",
    parts: "u32",
    nLoop: "u32",
    q: "u32",
    qi: "u32",
    scale: "f32",
    accumulate: "u32",
    one: "f32",
  },
  workgroupSize: COMBINE_WG,
  dispatch: ({ groups }) => grid1d(groups, COMBINE_WG),
  prelude: vecPrelude(1) + KAHAN_WGSL,
  body: COMBINE_HEADER + wgsl`
  var acc = K1(0.0, 0.0);
  for (var j = 0u; j < u.nLoop; j++) {
    let b = (g + j * u.C) * u.parts;
    for (var p = 0u; p < u.parts; p++) { acc = k1(acc, part[u.q * (b + p) + u.qi], u.one); }
  }
  let v = (acc.s - acc.c) * u.scale;
  out[g] = select(v, out[g] + v, u.accumulate != 0u);
`,
};
