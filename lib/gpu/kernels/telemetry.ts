/**
 * Gradient telemetry kernels: per map (b, c) the mean |∂L/∂ŷ| and whether the map's target is
 * empty, and a summary over the maps (mean |∂L/∂ŷ| on empty, labelled and missing maps) that
 * the trainer reads back each step with a few bytes — the "real motor" of Tilborghs, Bertels
 * et al. 2022, Sect. 2.2.
 *
 * Two dispatches, no float atomics: {@linkcode telemetryMapPartials} writes partials
 * `(Σ|g|, max|y|)` per invocation and map (compensated, no barrier);
 * {@linkcode telemetryFinalize} (one workgroup) sums them with Kahan compensation and classifies
 * the maps. The tiling is the Dice loss's (`diceTiling` in `lib/gpu/ops/dice_loss.ts`).
 *
 * Layouts: the gradient is an NCDHW view, the target a dense float32 `[B, C, V]`; partials are
 * `[(row·2 + q)·P + chunk·WG + t]` (`P = chunks·WG`) with rows `b·K + k` over the reported
 * classes (u32 `classes`).
 * `perMap` is `[row·4 + (mean |g|, empty, labelled, bucket)]` with bucket 0 = empty,
 * 1 = labelled, 2 = missing; `summary` is the 8 floats described by
 * {@linkcode TELEMETRY_SUMMARY_FIELDS}.
 *
 * @module
 */

import { type KernelSpec, wgsl } from "../kernel_spec.ts";

/** Invocations per workgroup of {@linkcode telemetryMapPartials}. */
export const TELEMETRY_WG = 256;

/** Invocations of the {@linkcode telemetryFinalize} workgroup. */
export const TELEMETRY_FINALIZE_WG = 256;

/** Order of the 8 floats of the summary buffer. */
export const TELEMETRY_SUMMARY_FIELDS = [
  "meanAbsGradEmpty",
  "meanAbsGradLabelled",
  "meanAbsGradMissing",
  "countEmpty",
  "countLabelled",
  "countMissing",
  "meanAbsGradAll",
  "maxMeanAbsGrad",
] as const;

const WG = TELEMETRY_WG;

/**
 * Per-invocation partials `(Σ|g|, max|y|)` of map (b, kept class k) per workgroup row.
 * Grid `[chunks, rows − row0]` over rows `[row0, rows)` of `B·K` (absolute; the labels are
 * addressed through `yOff`, so chunks of whole samples can bind buffer ranges).
 */
export const telemetryMapPartials: KernelSpec<
  "V" | "C" | "K" | "cTot" | "cOff" | "perThread" | "chunks" | "row0" | "rows" | "yOff" | "one"
> = {
  name: "telemetryMapPartials",
  bindings: {
    grad: "read",
    labels: "read",
    classes: { access: "read", type: "u32" },
    partials: "write",
  },
  uniforms: {
    V: "u32",
    C: "u32",
    K: "u32",
    cTot: "u32",
    cOff: "u32",
    perThread: "u32",
    chunks: "u32",
    row0: "u32",
    rows: "u32",
    yOff: "u32",
    one: "f32",
  },
  workgroupSize: WG,
  dispatch: ({ chunks, row0, rows }) => [chunks, rows - row0, 1],
  body: wgsl`
    let row = wid.y + u.row0;
    let b = row / u.K;
    let c = classes[row - b * u.K];
    let yBase = (b * u.C + u.yOff + c) * u.V;
    let gBase = (b * u.cTot + u.cOff + c) * u.V;
    let start = wid.x * ${WG}u * u.perThread + lid.x;
    let end = min(u.V, start + u.perThread * ${WG}u);
    var s = 0.0;
    var comp = 0.0;
    var mx = 0.0;
    for (var i = start; i < end; i += ${WG}u) {
      let x = abs(grad[gBase + i]) - comp;
      let t = (s + x) * u.one;
      comp = (t - s) - x;
      s = t;
      mx = max(mx, abs(labels[yBase + i]));
    }
    let P = u.chunks * ${WG}u;
    let o = row * 2u * P + wid.x * ${WG}u + lid.x;
    partials[o] = s;
    partials[o + P] = mx;
  `,
};

/**
 * Sum the partials (Kahan, one invocation per quantity) and classify the maps: a map is missing when the explicit mask
 * (`hasMask` = 1, u32 `labeled[b·C + c]`, 0 = missing) says so, else empty when its target is
 * all zero, else labelled. Writes `perMap` and the 8-float `summary` (a bucket without maps
 * has mean NaN). One workgroup.
 */
export const telemetryFinalize: KernelSpec<
  "B" | "C" | "K" | "V" | "hasMask" | "chunks" | "one"
> = {
  name: "telemetryFinalize",
  bindings: {
    partials: "read",
    classes: { access: "read", type: "u32" },
    labeled: { access: "read", type: "u32" },
    sums: "read_write",
    perMap: "write",
    summary: "write",
  },
  uniforms: {
    B: "u32",
    C: "u32",
    K: "u32",
    V: "u32",
    hasMask: "u32",
    chunks: "u32",
    one: "f32",
  },
  workgroupSize: TELEMETRY_FINALIZE_WG,
  dispatch: () => [1, 1, 1],
  body: wgsl`
    let items = u.B * u.K * 2u;
    let P = u.chunks * ${WG}u;
    for (var it = lid.x; it < items; it += ${TELEMETRY_FINALIZE_WG}u) {
      var s = 0.0;
      var comp = 0.0;
      let base = it * P;
      for (var j = 0u; j < P; j++) {
        let x = partials[base + j] - comp;
        let t = (s + x) * u.one;
        comp = (t - s) - x;
        s = t;
      }
      sums[it] = s;
    }
    storageBarrier();
    if (lid.x != 0u) { return; }
    var total = vec3<f32>(0.0);
    var count = vec3<f32>(0.0);
    var all = 0.0;
    var top = 0.0;
    let Vf = f32(u.V);
    for (var row = 0u; row < u.B * u.K; row++) {
      let b = row / u.K;
      let c = classes[row - b * u.K];
      let meanAbs = sums[2u * row] / Vf;
      let empty = !(sums[2u * row + 1u] > 0.0);
      var labelled = !empty;
      if (u.hasMask != 0u) { labelled = labeled[b * u.C + c] != 0u; }
      var bucket = 1u;
      if (u.hasMask != 0u && !labelled) {
        bucket = 2u;
      } else if (empty) {
        bucket = 0u;
      }
      perMap[4u * row] = meanAbs;
      perMap[4u * row + 1u] = select(0.0, 1.0, empty);
      perMap[4u * row + 2u] = select(0.0, 1.0, labelled);
      perMap[4u * row + 3u] = f32(bucket);
      total[bucket] += meanAbs;
      count[bucket] += 1.0;
      all += meanAbs;
      top = max(top, meanAbs);
    }
    var nanBits = 0x7fc00000u;
    let nan = bitcast<f32>(nanBits);
    for (var q = 0u; q < 3u; q++) {
      summary[q] = select(nan, total[q] / count[q], count[q] > 0.0);
      summary[3u + q] = count[q];
    }
    summary[6] = all / f32(u.B * u.K);
    summary[7] = top;
  `,
};
