/**
 * The Dice-loss family on the GPU (Tilborghs, Bertels et al. 2022, Eq. 3 and 4): per-map sums,
 * a deterministic finalisation that applies Φ, ε, the kept classes and the variant (plain,
 * leaf, marginal), and the gradient w.r.t. the probabilities.
 *
 * Three dispatches, no float atomics, no barrier in any loop over voxels:
 * 1. {@linkcode diceMapPartials} (plain, leaf) or {@linkcode diceImagePartialsSpec} (marginal):
 *    invocation `t` of workgroup `chunk` sums voxels `chunk·WG·perThread + t + j·WG`
 *    (`j < perThread`; neighbouring lanes read neighbouring voxels) with Kahan compensation
 *    and writes one partial per quantity.
 * 2. {@linkcode diceFinalize} (one workgroup): one invocation per quantity sums its
 *    `P = chunks·WG` partials with Kahan compensation, then invocation 0 evaluates
 *    `L = 1 − (1/|Φ|) Σ_φ (2Σyŷ + ε_nr)/(Σ(y + ŷ) + ε_dr)`, the per-subset losses, and the
 *    gradient record of every map: `∂L/∂ŷ = cY·y' + cC` with `cY = −2/(|Φ|·D_φ)`,
 *    `cC = N_φ/(|Φ|·D_φ²)` (Eq. 4), and `y'` the sum of the target channels in the record's
 *    source mask (the map's own channel, or the merged background of the marginal variant).
 * 3. {@linkcode diceGrad}: writes `cY·y' + cC` for every element of every map.
 *
 * Accuracy: every float32 sum is compensated (Kahan, with the uniform `one` = 1.0 that keeps
 * llvmpipe's reassociating compiler from folding the compensation away, see `reduce.ts`), so a
 * sum over V voxels has a relative error of a few units in the last place, independent of V.
 *
 * Chunks. The streaming kernels cover rows `[row0, rows)` (uniforms) with absolute row
 * indices, and address the labels through `yOff` (like a view's channel offset), so an op
 * whose tensors exceed a binding runs them on groups of whole samples bound as buffer ranges
 * (`rowChunks` in `lib/gpu/tensor.ts`); partials and coefficients stay where an unchunked
 * dispatch puts them, so the result is the same.
 *
 * Layouts. Probabilities and gradient are NCDHW views (`(b·cTot + cOff + c)·V + i`); the
 * labels (targets) are a dense float32 `[B, C, V]`. Partials are float32
 * `[(row·Q + q)·P + chunk·WG + t]`, sums `[row·Q + q]`. Map rows (plain, leaf) are `b·K + k`
 * over the kept classes with `Q = 4` quantities `(Σyŷ, Σy, Σŷ, any)`, where `any` sums
 * per-invocation `max|y|` (zero exactly when the target map is empty). Image rows (marginal)
 * are `b` with `Q = C² + 3C`: the cross sums `G[c1][c2] = Σ y_c1·ŷ_c2` (`c1·C + c2`), then
 * `Σy_c`, `Σŷ_c` and `any_c`, so any merge of missing classes into the background is a sum of
 * G entries. `params` (u32) holds the kept classes `[0, K)`, then the bits of ε_nr `[K, K + S)`
 * and ε_dr `[K + S, K + 2S)` per subset. Gradient records are u32
 * `[(b·C + c)·4 + (cY bits, cC bits, source mask, 0)]`.
 *
 * @module
 */

import { DICE_VARIANTS, type DiceVariant, type Phi, PHI_SETS } from "../../loss/dice_options.ts";
import { type KernelSpec, wgsl } from "../kernel_spec.ts";

/** Invocations per workgroup of the streaming kernels (partials and gradient). */
export const DICE_WG = 256;

/** Invocations of the finalisation workgroup (one per reduced quantity, looping beyond). */
export const DICE_FINALIZE_WG = 256;

/** Quantities per map row of {@linkcode diceMapPartials}: Σyŷ, Σy, Σŷ, any. */
export const DICE_MAP_QUANTITIES = 4;

/**
 * Quantities per image row of {@linkcode diceImagePartialsSpec}.
 *
 * @param channels Channels C.
 * @returns `C² + 3C`.
 */
export function diceImageQuantities(channels: number): number {
  return channels * channels + 3 * channels;
}

/** Numeric codes of Φ used in uniforms: the index in lib/loss's `PHI_SETS` (I 0, CI 1, BI 2, BCI 3). */
export const PHI_CODE: Readonly<Record<Phi, number>> = _codes(PHI_SETS);

/** Numeric codes of the variant used in uniforms: the index in `DICE_VARIANTS` (plain 0, leaf 1, marginal 2). */
export const VARIANT_CODE: Readonly<Record<DiceVariant, number>> = _codes(DICE_VARIANTS);

function _codes<T extends string>(names: readonly T[]): Record<T, number> {
  return Object.fromEntries(names.map((n, i) => [n, i])) as Record<T, number>;
}

/** Largest channel count of the marginal kernel (its source is unrolled over C²). */
export const DICE_MAX_MARGINAL_CHANNELS = 16;

const WG = DICE_WG;

/** Uniforms of the partial kernels. */
export type DicePartialUniform =
  | "V"
  | "C"
  | "K"
  | "cTot"
  | "cOff"
  | "perThread"
  | "chunks"
  | "row0"
  | "rows"
  | "yOff"
  | "one";

/**
 * Per-invocation partial sums of one map (b, kept class k) per workgroup row: Σyŷ, Σy, Σŷ
 * and max|y| (the emptiness indicator). Grid `[chunks, B·K]`; `classes` holds the kept
 * channel indices (u32). Used by the plain and leaf variants.
 */
export const diceMapPartials: KernelSpec<DicePartialUniform> = {
  name: "diceMapPartials",
  bindings: {
    probs: "read",
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
    let pBase = (b * u.cTot + u.cOff + c) * u.V;
    let start = wid.x * ${WG}u * u.perThread + lid.x;
    let end = min(u.V, start + u.perThread * ${WG}u);
    var s = vec3<f32>(0.0);
    var comp = vec3<f32>(0.0);
    var mx = 0.0;
    for (var i = start; i < end; i += ${WG}u) {
      let y = labels[yBase + i];
      let p = probs[pBase + i];
      let x = vec3<f32>(y * p, y, p) - comp;
      let t = (s + x) * u.one;
      comp = (t - s) - x;
      s = t;
      mx = max(mx, abs(y));
    }
    let P = u.chunks * ${WG}u;
    let o = row * 4u * P + wid.x * ${WG}u + lid.x;
    partials[o] = s.x;
    partials[o + P] = s.y;
    partials[o + 2u * P] = s.z;
    partials[o + 3u * P] = mx;
  `,
};

const _imageCache = new Map<number, KernelSpec<DicePartialUniform>>();

/**
 * Per-invocation partial sums of one image b per workgroup row, over all C channels: the
 * cross sums `G[c1][c2] = Σ y_c1·ŷ_c2`, `Σy_c`, `Σŷ_c` and `max|y_c|`. Grid `[chunks, B]`.
 * Used by the marginal variant, whose merged background needs the cross terms of every
 * channel pair. The per-voxel work is unrolled over C (llvmpipe counts loop iterations
 * against a per-invocation budget, see `reduce.ts`).
 *
 * @param channels Channels C (spliced into the source).
 * @returns The spec (cached per C).
 * @throws {RangeError} When C is not an integer in 1..{@linkcode DICE_MAX_MARGINAL_CHANNELS}.
 */
export function diceImagePartialsSpec(channels: number): KernelSpec<DicePartialUniform> {
  if (!Number.isInteger(channels) || channels < 1 || channels > DICE_MAX_MARGINAL_CHANNELS) {
    throw new RangeError(
      `Cannot build diceImagePartials: C = ${channels} is not in 1..${DICE_MAX_MARGINAL_CHANNELS}`,
    );
  }
  const hit = _imageCache.get(channels);
  if (hit) return hit;
  const C = channels;
  const Q = diceImageQuantities(C);
  const S = Q - C; // compensated sums; the last C quantities are maxima
  const decl: string[] = [];
  const load: string[] = [];
  const add: string[] = [];
  const store: string[] = [];
  for (let q = 0; q < S; q++) decl.push(`var a${q} = vec2<f32>(0.0);`);
  for (let c = 0; c < C; c++) decl.push(`var m${c} = 0.0;`);
  for (let c = 0; c < C; c++) {
    load.push(`let y${c} = labels[yBase + ${c}u * u.V + i];`);
    load.push(`let p${c} = probs[pBase + ${c}u * u.V + i];`);
    load.push(`m${c} = max(m${c}, abs(y${c}));`);
  }
  const term = (q: number): string => {
    if (q < C * C) return `y${Math.floor(q / C)} * p${q % C}`;
    if (q < C * C + C) return `y${q - C * C}`;
    return `p${q - C * C - C}`;
  };
  for (let q = 0; q < S; q++) add.push(`a${q} = kahan(a${q}, ${term(q)});`);
  for (let q = 0; q < S; q++) store.push(`partials[o + ${q}u * P] = a${q}.x;`);
  for (let c = 0; c < C; c++) store.push(`partials[o + ${S + c}u * P] = m${c};`);
  const spec: KernelSpec<DicePartialUniform> = {
    name: `diceImagePartials${C}`,
    bindings: { probs: "read", labels: "read", partials: "write" },
    uniforms: diceMapPartials.uniforms,
    workgroupSize: WG,
    dispatch: ({ chunks, row0, rows }) => [chunks, rows - row0, 1],
    prelude: wgsl`
fn kahan(acc: vec2<f32>, v: f32) -> vec2<f32> {
  let y = v - acc.y;
  let t = (acc.x + y) * u.one;
  return vec2<f32>(t, (t - acc.x) - y);
}`,
    body: wgsl`
    let b = wid.y + u.row0;
    let yBase = (b * ${C}u + u.yOff) * u.V;
    let pBase = (b * u.cTot + u.cOff) * u.V;
    let start = wid.x * ${WG}u * u.perThread + lid.x;
    let end = min(u.V, start + u.perThread * ${WG}u);
    ${decl.join("\n    ")}
    for (var i = start; i < end; i += ${WG}u) {
      ${load.join("\n      ")}
      ${add.join("\n      ")}
    }
    let P = u.chunks * ${WG}u;
    let o = b * ${Q}u * P + wid.x * ${WG}u + lid.x;
    ${store.join("\n    ")}
  `,
  };
  _imageCache.set(channels, spec);
  return spec;
}

/** Uniforms of {@linkcode diceFinalize}. */
export type DiceFinalizeUniform =
  | "B"
  | "C"
  | "K"
  | "S"
  | "phi"
  | "variant"
  | "background"
  | "hasMask"
  | "items"
  | "chunks"
  | "one";

/**
 * Reduce the partials (Kahan, one invocation per quantity) and evaluate the Dice loss: the
 * loss value, 1 − sDSC per subset and the gradient record of every map. One workgroup.
 *
 * `labeled` (u32 `[B·C]`, nonzero = labelled) is read when `hasMask` is 1; otherwise a map
 * is missing when its target is empty. A subset with a zero denominator makes the loss NaN
 * (the float64 reference throws there). `work` is scratch of `2S` floats.
 */
export const diceFinalize: KernelSpec<DiceFinalizeUniform> = {
  name: "diceFinalize",
  bindings: {
    partials: "read",
    params: { access: "read", type: "u32" },
    labeled: { access: "read", type: "u32" },
    sums: "read_write",
    work: "read_write",
    coef: { access: "read_write", type: "u32" },
    loss: "write",
    perSubset: "write",
  },
  uniforms: {
    B: "u32",
    C: "u32",
    K: "u32",
    S: "u32",
    phi: "u32",
    variant: "u32",
    background: "u32",
    hasMask: "u32",
    items: "u32",
    chunks: "u32",
    one: "f32",
  },
  workgroupSize: DICE_FINALIZE_WG,
  dispatch: () => [1, 1, 1],
  prelude: wgsl`
fn subsetOf(b: u32, k: u32) -> u32 {
  switch u.phi {
    case 0u: { return b * u.K + k; }
    case 1u: { return b; }
    case 2u: { return k; }
    default: { return 0u; }
  }
}

fn imageQ() -> u32 { return u.C * u.C + 3u * u.C; }

// Is map (b, c) labelled? The kept-class index k addresses the map rows (plain, leaf).
fn isLabelled(b: u32, c: u32, k: u32) -> bool {
  if (u.variant == 2u && c == u.background) { return true; }
  if (u.hasMask != 0u) { return labeled[b * u.C + c] != 0u; }
  if (u.variant == 2u) { return sums[b * imageQ() + u.C * u.C + 2u * u.C + c] > 0.0; }
  return sums[(b * u.K + k) * 4u + 3u] > 0.0;
}

// Marginal: channel c of image b is the background or missing (merged into it).
fn inMerge(b: u32, c: u32) -> bool {
  return c == u.background || !isLabelled(b, c, 0u);
}

// (Σyŷ, Σ(y + ŷ)) of map (b, k) after the marginal merge (if any).
fn mapSums(b: u32, k: u32, c: u32) -> vec2<f32> {
  if (u.variant != 2u) {
    let o = (b * u.K + k) * 4u;
    return vec2<f32>(sums[o], sums[o + 1u] + sums[o + 2u]);
  }
  let o = b * imageQ();
  let C = u.C;
  if (c != u.background) {
    if (!isLabelled(b, c, k)) { return vec2<f32>(0.0); }
    return vec2<f32>(sums[o + c * C + c], sums[o + C * C + c] + sums[o + C * C + C + c]);
  }
  // Background: merged with every missing channel, ŷ' = Σ_M ŷ_c and y' = Σ_M y_c, so
  // Σy'ŷ' = Σ_{c1, c2 ∈ M} G[c1][c2].
  var inter = 0.0;
  var total = 0.0;
  for (var c1 = 0u; c1 < C; c1++) {
    if (!inMerge(b, c1)) { continue; }
    for (var c2 = 0u; c2 < C; c2++) {
      if (inMerge(b, c2)) { inter += sums[o + c1 * C + c2]; }
    }
    total += sums[o + C * C + c1] + sums[o + C * C + C + c1];
  }
  return vec2<f32>(inter, total);
}

// Bit c set for every target channel whose y sums into the merged background of image b.
fn mergedMask(b: u32) -> u32 {
  var m = 0u;
  for (var c = 0u; c < u.C; c++) {
    if (inMerge(b, c)) { m = m | (1u << c); }
  }
  return m;
}
`,
  body: wgsl`
    // 1. Compensated sum of every quantity over its partials.
    let P = u.chunks * ${WG}u;
    for (var it = lid.x; it < u.items; it += ${DICE_FINALIZE_WG}u) {
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

    // 2. Per-subset sums over the included maps, b-major as in the reference.
    for (var s = 0u; s < u.S; s++) {
      work[2u * s] = 0.0;
      work[2u * s + 1u] = 0.0;
      perSubset[s] = 1.0; // leaf: a subset without labelled maps has sDSC = 0, no gradient
    }
    for (var m = 0u; m < u.B * u.C * 4u; m++) { coef[m] = 0u; }
    for (var b = 0u; b < u.B; b++) {
      for (var k = 0u; k < u.K; k++) {
        let c = params[k];
        if (u.variant == 1u && !isLabelled(b, c, k)) { continue; }
        let s = subsetOf(b, k);
        let ms = mapSums(b, k, c);
        work[2u * s] += ms.x;
        work[2u * s + 1u] += ms.y;
        perSubset[s] = 0.0; // marks the subset active
      }
    }

    // 3. sDSC per subset; the gradient coefficients replace the subset sums in work.
    let Sf = f32(u.S);
    var sumDsc = 0.0;
    var bad = false;
    for (var s = 0u; s < u.S; s++) {
      if (perSubset[s] == 1.0) { continue; }
      let num = 2.0 * work[2u * s] + bitcast<f32>(params[u.K + s]);
      let den = work[2u * s + 1u] + bitcast<f32>(params[u.K + u.S + s]);
      if (!(den > 0.0)) { bad = true; }
      let dsc = num / den;
      sumDsc += dsc;
      perSubset[s] = 1.0 - dsc;
      work[2u * s] = -2.0 / (Sf * den);
      work[2u * s + 1u] = dsc / (Sf * den);
    }

    // 4. Gradient records of the included maps.
    for (var b = 0u; b < u.B; b++) {
      for (var k = 0u; k < u.K; k++) {
        let c = params[k];
        if (u.variant == 1u && !isLabelled(b, c, k)) { continue; }
        let s = subsetOf(b, k);
        var mask = 1u << c;
        if (u.variant == 2u && c == u.background) { mask = mergedMask(b); }
        let m = 4u * (b * u.C + c);
        coef[m] = bitcast<u32>(work[2u * s]);
        coef[m + 1u] = bitcast<u32>(work[2u * s + 1u]);
        coef[m + 2u] = mask;
      }
    }

    // 5. Marginal: a missing channel receives the gradient of the merged background.
    if (u.variant == 2u) {
      for (var b = 0u; b < u.B; b++) {
        let g = 4u * (b * u.C + u.background);
        for (var c = 0u; c < u.C; c++) {
          if (inMerge(b, c) && c != u.background) {
            let m = 4u * (b * u.C + c);
            coef[m] = coef[g];
            coef[m + 1u] = coef[g + 1u];
            coef[m + 2u] = coef[g + 2u];
          }
        }
      }
    }

    var lossValue = 1.0 - sumDsc / Sf;
    if (bad) {
      var nanBits = 0x7fc00000u;
      lossValue = bitcast<f32>(nanBits);
    }
    loss[0] = lossValue;
  `,
};

/** Uniforms of {@linkcode diceGrad}. */
export type DiceGradUniform =
  | "V"
  | "C"
  | "cTot"
  | "cOff"
  | "perThread"
  | "chunks"
  | "row0"
  | "rows"
  | "yOff";

/**
 * `grad[b, c, i] = cY·y'[i] + cC` from the gradient record of map (b, c), where `y'` sums the
 * target channels of the record's source mask (none: `cC` only). Grid `[chunks, B·C]`; writes
 * every element of the gradient view.
 */
export const diceGrad: KernelSpec<DiceGradUniform> = {
  name: "diceGrad",
  bindings: { labels: "read", coef: { access: "read", type: "u32" }, grad: "write" },
  uniforms: {
    V: "u32",
    C: "u32",
    cTot: "u32",
    cOff: "u32",
    perThread: "u32",
    chunks: "u32",
    row0: "u32",
    rows: "u32",
    yOff: "u32",
  },
  workgroupSize: WG,
  dispatch: ({ chunks, row0, rows }) => [chunks, rows - row0, 1],
  body: wgsl`
    let m = wid.y + u.row0;
    let b = m / u.C;
    let c = m - b * u.C;
    let cy = bitcast<f32>(coef[4u * m]);
    let cc = bitcast<f32>(coef[4u * m + 1u]);
    let mask = coef[4u * m + 2u];
    let gBase = (b * u.cTot + u.cOff + c) * u.V;
    let yImg = (b * u.C + u.yOff) * u.V;
    let start = wid.x * ${WG}u * u.perThread + lid.x;
    let end = min(u.V, start + u.perThread * ${WG}u);
    if (mask == 0u) {
      for (var i = start; i < end; i += ${WG}u) { grad[gBase + i] = cc; }
    } else if ((mask & (mask - 1u)) == 0u) {
      let src = yImg + countTrailingZeros(mask) * u.V;
      for (var i = start; i < end; i += ${WG}u) { grad[gBase + i] = cy * labels[src + i] + cc; }
    } else {
      for (var i = start; i < end; i += ${WG}u) {
        var y = 0.0;
        for (var c2 = 0u; c2 < u.C; c2++) {
          if (((mask >> c2) & 1u) != 0u) { y += labels[yImg + c2 * u.V + i]; }
        }
        grad[gBase + i] = cy * y + cc;
      }
    }
  `,
};
