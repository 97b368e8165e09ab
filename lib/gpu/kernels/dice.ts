/**
 * The Dice-loss family on the GPU (Tilborghs, Bertels et al. 2022, Eq. 3 and 4): per-map sums,
 * a deterministic finalisation that applies Φ, ε, the kept classes and the variant (plain,
 * leaf, marginal, labelSetMarginal), and the gradient w.r.t. the probabilities.
 *
 * Options (docs/loss-family.md, "For the GPU kernels"): a voxel mask m (per image voxel or
 * per map voxel), the squared denominator `D = Σ m(y² + ŷ²) + ε_dr` and Fidon's label-set
 * marginalisation are compiled into generated variants of the streaming kernels
 * ({@linkcode diceMapPartialsSpec}, {@linkcode diceImagePartialsSpec} with features,
 * {@linkcode diceGradSpec}); without them the op binds the fixed kernels below unchanged.
 * The finalisation is shared (`squared` only changes how the marginal variant's merged
 * background sums its image rows; labelSetMarginal is finalised as plain).
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
import { type BindingDecl, type KernelSpec, wgsl } from "../kernel_spec.ts";

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
 * @param squared Whether the rows hold the squared denominator's symmetric cross sums.
 * @returns `C² + 3C`, or `C² + C(C + 1) + C` with `squared`.
 */
export function diceImageQuantities(channels: number, squared = false): number {
  return channels * channels + (squared ? channels * (channels + 1) : 2 * channels) + channels;
}

/** Numeric codes of Φ used in uniforms: the index in lib/loss's `PHI_SETS` (I 0, CI 1, BI 2, BCI 3). */
export const PHI_CODE: Readonly<Record<Phi, number>> = _codes(PHI_SETS);

/** Numeric codes of the variant used in uniforms: the index in `DICE_VARIANTS` (plain 0, leaf 1, marginal 2, labelSetMarginal 3). */
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

/**
 * What a generated Dice kernel is specialised for. With every feature off the op binds the
 * fixed kernels ({@linkcode diceMapPartials}, {@linkcode diceGrad}) exactly as before.
 */
export interface DiceKernelFeatures {
  /**
   * Voxel mask `mask` (u32, nonzero = counted): none, one per image voxel (`b·V + i`, bound
   * by whole samples and addressed with the uniform `vShift`) or one per map voxel (laid out
   * like the labels, addressed with `mOff`).
   */
  readonly mask: "none" | "voxel" | "map";
  /** Squared denominator: Σy², Σŷ² instead of Σy, Σŷ; gradient term `cC·2ŷ'`. */
  readonly squared: boolean;
  /**
   * Fidon's labelSetMarginal merge: reads `setIndex` (u32 `[B·V]`, 0 = leaf, addressed with
   * `vShift`) and the members of set s as a channel bit mask at `params[setsOff + s − 1]`.
   */
  readonly labelSets: boolean;
}

/** Uniforms of the generated partial kernels: those of {@linkcode diceMapPartials} and the feature offsets. */
export type DiceFeaturePartialUniform = DicePartialUniform | "mOff" | "vShift" | "setsOff";

const _featureUniforms = {
  ...diceMapPartials.uniforms,
  mOff: "u32",
  vShift: "u32",
  setsOff: "u32",
} as const;

function _featureKey(f: DiceKernelFeatures): string {
  return `${f.mask}${f.squared ? "Sq" : ""}${f.labelSets ? "Sets" : ""}`;
}

function _featureBindings(f: DiceKernelFeatures): Record<string, BindingDecl> {
  const out: Record<string, BindingDecl> = {};
  if (f.mask !== "none") out.mask = { access: "read", type: "u32" };
  if (f.labelSets) out.setIndex = { access: "read", type: "u32" };
  return out;
}

// WGSL that sets `keep` (the voxel is counted) at voxel `i` of map `c` of image `b`.
function _keep(f: DiceKernelFeatures): string {
  if (f.mask === "voxel") return "let keep = mask[vBase + i] != 0u;";
  if (f.mask === "map") return "let keep = mask[mBase + i] != 0u;";
  return "let keep = true;";
}

const _mapCache = new Map<string, KernelSpec<DiceFeaturePartialUniform>>();

/**
 * {@linkcode diceMapPartials} with a voxel mask, the squared denominator and/or the
 * labelSetMarginal merge (plain, leaf and labelSetMarginal variants). Row `b·K + k` holds
 * `(Σ m y'ŷ', Σ m y' or Σ m y'², Σ m ŷ' or Σ m ŷ'², max|m y'|)`, where at a voxel labelled
 * with the set S ∋ c, `ŷ' = (Σ_{c'∈S} ŷ_c')/|S|` (the invocation reads the other members'
 * probabilities of the same voxel) and `y' = 1/|S|`; elsewhere `ŷ' = ŷ`, `y' = y`. An
 * ignored voxel (m = 0) adds exact zeros.
 *
 * @param f The features (cached per combination).
 * @returns The spec.
 */
export function diceMapPartialsSpec(
  f: DiceKernelFeatures,
): KernelSpec<DiceFeaturePartialUniform> {
  const key = _featureKey(f);
  const hit = _mapCache.get(key);
  if (hit) return hit;
  const sets = f.labelSets
    ? wgsl`
      let si = setIndex[vBase + i];
      if (si != 0u) {
        let members = classes[u.setsOff + si - 1u];
        if (((members >> c) & 1u) != 0u) {
          var total = 0.0;
          var bits = members;
          loop {
            if (bits == 0u) { break; }
            total += probs[pImg + countTrailingZeros(bits) * u.V + i];
            bits = bits & (bits - 1u);
          }
          let n = f32(countOneBits(members));
          p = total / n;
          y = 1.0 / n;
        }
      }`
    : "";
  const yq = f.squared ? "y * y" : "y";
  const pq = f.squared ? "p * p" : "p";
  const spec: KernelSpec<DiceFeaturePartialUniform> = {
    name: `diceMapPartials_${key}`,
    bindings: {
      probs: "read",
      labels: "read",
      classes: { access: "read", type: "u32" },
      partials: "write",
      ..._featureBindings(f),
    },
    uniforms: _featureUniforms,
    workgroupSize: WG,
    dispatch: ({ chunks, row0, rows }) => [chunks, rows - row0, 1],
    body: wgsl`
    let row = wid.y + u.row0;
    let b = row / u.K;
    let c = classes[row - b * u.K];
    let yBase = (b * u.C + u.yOff + c) * u.V;
    let pImg = (b * u.cTot + u.cOff) * u.V;
    let pBase = pImg + c * u.V;
    let vBase = b * u.V - u.vShift;
    let mBase = (b * u.C + u.mOff + c) * u.V;
    let start = wid.x * ${WG}u * u.perThread + lid.x;
    let end = min(u.V, start + u.perThread * ${WG}u);
    var s = vec3<f32>(0.0);
    var comp = vec3<f32>(0.0);
    var mx = 0.0;
    for (var i = start; i < end; i += ${WG}u) {
      var y = labels[yBase + i];
      var p = probs[pBase + i];${sets}
      ${_keep(f)}
      y = select(0.0, y, keep);
      p = select(0.0, p, keep);
      let x = vec3<f32>(y * p, ${yq}, ${pq}) - comp;
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
  _mapCache.set(key, spec);
  return spec;
}

const _imageCache = new Map<string, KernelSpec<DiceFeaturePartialUniform>>();

/**
 * Per-invocation partial sums of one image b per workgroup row, over all C channels: the
 * cross sums `G[c1][c2] = Σ y_c1·ŷ_c2`, `Σy_c`, `Σŷ_c` and `max|y_c|`. Grid `[chunks, B]`.
 * Used by the marginal variant, whose merged background needs the cross terms of every
 * channel pair. The per-voxel work is unrolled over C (llvmpipe counts loop iterations
 * against a per-invocation budget, see `reduce.ts`).
 *
 * With a per-voxel mask every term is multiplied by m (an ignored voxel adds exact zeros).
 * With the squared denominator `Σy_c`, `Σŷ_c` are replaced by the symmetric cross sums
 * `Y[c1][c2] = Σ m y_c1 y_c2` and `H[c1][c2] = Σ m ŷ_c1 ŷ_c2` (upper triangles, `c1 ≤ c2`,
 * row-major: `c1·C − c1(c1 − 1)/2 + c2 − c1`), so the merged background's `Σ(Σ_M ŷ)²` is a
 * sum of H entries: quantities `G (C²), Y (C(C + 1)/2), H (C(C + 1)/2), max|m y_c| (C)`.
 *
 * @param channels Channels C (spliced into the source).
 * @param f Features: mask "none" or "voxel", squared (labelSets must be off). @default none
 * @returns The spec (cached per C and features).
 * @throws {RangeError} When C is not an integer in 1..{@linkcode DICE_MAX_MARGINAL_CHANNELS},
 *   or for a per-map mask or label sets.
 */
export function diceImagePartialsSpec(
  channels: number,
  f: DiceKernelFeatures = { mask: "none", squared: false, labelSets: false },
): KernelSpec<DiceFeaturePartialUniform> {
  if (!Number.isInteger(channels) || channels < 1 || channels > DICE_MAX_MARGINAL_CHANNELS) {
    throw new RangeError(
      `Cannot build diceImagePartials: C = ${channels} is not in 1..${DICE_MAX_MARGINAL_CHANNELS}`,
    );
  }
  if (f.mask === "map" || f.labelSets) {
    throw new RangeError(
      `Cannot build diceImagePartials: the marginal merge takes only a per-voxel mask and no label sets`,
    );
  }
  const plain = f.mask === "none" && !f.squared;
  const key = `${channels}${plain ? "" : `_${_featureKey(f)}`}`;
  const hit = _imageCache.get(key);
  if (hit) return hit;
  const C = channels;
  const Q = diceImageQuantities(C, f.squared);
  const S = Q - C; // compensated sums; the last C quantities are maxima
  const decl: string[] = [];
  const load: string[] = [];
  const add: string[] = [];
  const store: string[] = [];
  for (let q = 0; q < S; q++) decl.push(`var a${q} = vec2<f32>(0.0);`);
  for (let c = 0; c < C; c++) decl.push(`var m${c} = 0.0;`);
  if (f.mask === "voxel") load.push(`let keep = mask[vBase + i] != 0u;`);
  for (let c = 0; c < C; c++) {
    if (plain) {
      load.push(`let y${c} = labels[yBase + ${c}u * u.V + i];`);
      load.push(`let p${c} = probs[pBase + ${c}u * u.V + i];`);
    } else {
      const keep = f.mask === "voxel" ? "keep" : "true";
      load.push(`let y${c} = select(0.0, labels[yBase + ${c}u * u.V + i], ${keep});`);
      load.push(`let p${c} = select(0.0, probs[pBase + ${c}u * u.V + i], ${keep});`);
    }
    load.push(`m${c} = max(m${c}, abs(y${c}));`);
  }
  const pairs: [number, number][] = [];
  for (let c1 = 0; c1 < C; c1++) for (let c2 = c1; c2 < C; c2++) pairs.push([c1, c2]);
  const T = pairs.length;
  const term = (q: number): string => {
    if (q < C * C) return `y${Math.floor(q / C)} * p${q % C}`;
    if (f.squared) {
      const [c1, c2] = pairs[(q - C * C) % T];
      return q < C * C + T ? `y${c1} * y${c2}` : `p${c1} * p${c2}`;
    }
    if (q < C * C + C) return `y${q - C * C}`;
    return `p${q - C * C - C}`;
  };
  for (let q = 0; q < S; q++) add.push(`a${q} = kahan(a${q}, ${term(q)});`);
  for (let q = 0; q < S; q++) store.push(`partials[o + ${q}u * P] = a${q}.x;`);
  for (let c = 0; c < C; c++) store.push(`partials[o + ${S + c}u * P] = m${c};`);
  const spec: KernelSpec<DiceFeaturePartialUniform> = {
    name: `diceImagePartials${key}`,
    bindings: { probs: "read", labels: "read", partials: "write", ..._featureBindings(f) },
    // The unmasked, unsquared kernel keeps its original uniforms (and source).
    uniforms: (plain ? diceMapPartials.uniforms : _featureUniforms) as Record<
      DiceFeaturePartialUniform,
      "u32" | "f32"
    >,
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
    let pBase = (b * u.cTot + u.cOff) * u.V;${
      f.mask === "voxel" ? "\n    let vBase = b * u.V - u.vShift;" : ""
    }
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
  _imageCache.set(key, spec);
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
  | "squared"
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
    squared: "u32",
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

fn imageQ() -> u32 {
  return u.C * u.C + select(2u * u.C, u.C * (u.C + 1u), u.squared != 0u) + u.C;
}

// Index of the symmetric cross sum (c1, c2) in an upper triangle stored row-major.
fn tri(c1: u32, c2: u32) -> u32 {
  let lo = min(c1, c2);
  let hi = max(c1, c2);
  return lo * u.C - (lo * (lo - 1u)) / 2u + hi - lo;
}

// Is map (b, c) labelled? The kept-class index k addresses the map rows (plain, leaf).
fn isLabelled(b: u32, c: u32, k: u32) -> bool {
  if (u.variant == 2u && c == u.background) { return true; }
  if (u.hasMask != 0u) { return labeled[b * u.C + c] != 0u; }
  if (u.variant == 2u) { return sums[(b + 1u) * imageQ() - u.C + c] > 0.0; }
  return sums[(b * u.K + k) * 4u + 3u] > 0.0;
}

// Marginal: channel c of image b is the background or missing (merged into it).
fn inMerge(b: u32, c: u32) -> bool {
  return c == u.background || !isLabelled(b, c, 0u);
}

// (Σyŷ, Σ(y + ŷ)) of map (b, k) after the marginal merge (if any); Σ(y² + ŷ²) with the
// squared denominator (the map rows then hold Σy², Σŷ²).
fn mapSums(b: u32, k: u32, c: u32) -> vec2<f32> {
  if (u.variant != 2u) {
    let o = (b * u.K + k) * 4u;
    return vec2<f32>(sums[o], sums[o + 1u] + sums[o + 2u]);
  }
  let o = b * imageQ();
  let C = u.C;
  let T = C * (C + 1u) / 2u;
  if (c != u.background) {
    if (!isLabelled(b, c, k)) { return vec2<f32>(0.0); }
    if (u.squared != 0u) {
      let d = o + C * C + tri(c, c);
      return vec2<f32>(sums[o + c * C + c], sums[d] + sums[d + T]);
    }
    return vec2<f32>(sums[o + c * C + c], sums[o + C * C + c] + sums[o + C * C + C + c]);
  }
  // Background: merged with every missing channel, ŷ' = Σ_M ŷ_c and y' = Σ_M y_c, so
  // Σy'ŷ' = Σ_{c1, c2 ∈ M} G[c1][c2]; squared: Σy'² + Σŷ'² = Σ_{c1, c2 ∈ M} Y + H.
  var inter = 0.0;
  var total = 0.0;
  for (var c1 = 0u; c1 < C; c1++) {
    if (!inMerge(b, c1)) { continue; }
    for (var c2 = 0u; c2 < C; c2++) {
      if (inMerge(b, c2)) {
        inter += sums[o + c1 * C + c2];
        if (u.squared != 0u) {
          let d = o + C * C + tri(c1, c2);
          total += sums[d] + sums[d + T];
        }
      }
    }
    if (u.squared == 0u) { total += sums[o + C * C + c1] + sums[o + C * C + C + c1]; }
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

/** Uniforms of the generated gradient kernels: those of {@linkcode diceGrad}, the probabilities' layout and the feature offsets. */
export type DiceFeatureGradUniform =
  | DiceGradUniform
  | "pTot"
  | "pOff"
  | "mOff"
  | "vShift"
  | "setsOff";

const _gradCache = new Map<string, KernelSpec<DiceFeatureGradUniform>>();

/**
 * {@linkcode diceGrad} with a voxel mask, the squared denominator and/or the labelSetMarginal
 * merge: `grad = m·(cY·y' + cC·∂D)` with `∂D = 1`, or `2ŷ'` (squared; `ŷ'` sums the
 * probabilities of the record's source mask like `y'`). At a voxel labelled with the set
 * S ∋ c the labelSetMarginal gradient is the members' mean,
 * `g_c = (m/|S|) Σ_{c'∈S} (cY_c'/|S| + cC_c'·∂D')` with `∂D' = 1` or `2(Σ_S ŷ)/|S|`, read
 * from the members' records (zero for channels that are not kept) and, when squared, their
 * probabilities of the same voxel. Grid `[chunks, B·C]`.
 *
 * `aliased` (squared only): the gradient view is the probabilities' own view, bound once as
 * `read_write`; each invocation reads ŷ at the element it then overwrites, so only variants
 * whose source mask is the map's own channel (plain, leaf) may use it.
 *
 * @param f The features.
 * @param aliased Whether `grad` is also the probabilities' view. @default false
 * @returns The spec (cached per combination).
 * @throws {RangeError} For `aliased` with label sets (the mean reads other channels).
 */
export function diceGradSpec(
  f: DiceKernelFeatures,
  aliased = false,
): KernelSpec<DiceFeatureGradUniform> {
  if (aliased && f.labelSets && f.squared) {
    throw new RangeError(
      `Cannot build diceGrad: an aliased gradient cannot read the other members' probabilities`,
    );
  }
  const readsProbs = f.squared;
  const key = `${_featureKey(f)}${aliased && readsProbs ? "Aliased" : ""}`;
  const hit = _gradCache.get(key);
  if (hit) return hit;
  const P = aliased ? "grad" : "probs";
  const sq = (x: string) => (f.squared ? `${x} * (2.0 * p)` : x);
  const sets = f.labelSets
    ? wgsl`
      let si = setIndex[vBase + i];
      if (si != 0u) {
        let members = params[u.setsOff + si - 1u];
        if (((members >> c) & 1u) != 0u) {
          let n = f32(countOneBits(members));${
      f.squared
        ? wgsl`
          var total = 0.0;
          bits = members;
          loop {
            if (bits == 0u) { break; }
            total += ${P}[pImg + countTrailingZeros(bits) * u.V + i];
            bits = bits & (bits - 1u);
          }
          let dq = 2.0 * total / n;`
        : ""
    }
          var acc = 0.0;
          bits = members;
          loop {
            if (bits == 0u) { break; }
            let r = 4u * (b * u.C + countTrailingZeros(bits));
            acc += bitcast<f32>(coef[r]) / n + bitcast<f32>(coef[r + 1u])${
      f.squared ? " * dq" : ""
    };
            bits = bits & (bits - 1u);
          }
          g = acc / n;
        }
      }`
    : "";
  const bindings: Record<string, BindingDecl> = {
    labels: "read",
    coef: { access: "read", type: "u32" },
    grad: aliased && readsProbs ? "read_write" : "write",
  };
  if (readsProbs && !aliased) bindings.probs = "read";
  if (f.labelSets) bindings.params = { access: "read", type: "u32" };
  Object.assign(bindings, _featureBindings(f));
  const spec: KernelSpec<DiceFeatureGradUniform> = {
    name: `diceGrad_${key}`,
    bindings,
    uniforms: {
      ...diceGrad.uniforms,
      pTot: "u32",
      pOff: "u32",
      mOff: "u32",
      vShift: "u32",
      setsOff: "u32",
    },
    workgroupSize: WG,
    dispatch: ({ chunks, row0, rows }) => [chunks, rows - row0, 1],
    body: wgsl`
    let m = wid.y + u.row0;
    let b = m / u.C;
    let c = m - b * u.C;
    let cy = bitcast<f32>(coef[4u * m]);
    let cc = bitcast<f32>(coef[4u * m + 1u]);
    let src = coef[4u * m + 2u];
    let gBase = (b * u.cTot + u.cOff + c) * u.V;
    let yImg = (b * u.C + u.yOff) * u.V;
    let pImg = (b * u.pTot + u.pOff) * u.V;
    let vBase = b * u.V - u.vShift;
    let mBase = (b * u.C + u.mOff + c) * u.V;
    let start = wid.x * ${WG}u * u.perThread + lid.x;
    let end = min(u.V, start + u.perThread * ${WG}u);
    for (var i = start; i < end; i += ${WG}u) {
      var y = 0.0;
      var p = 0.0;
      var bits = src;
      loop {
        if (bits == 0u) { break; }
        let c2 = countTrailingZeros(bits);
        y += labels[yImg + c2 * u.V + i];${
      readsProbs ? `\n        p += ${P}[pImg + c2 * u.V + i];` : ""
    }
        bits = bits & (bits - 1u);
      }
      var g = cy * y + ${sq("cc")};${sets}
      ${_keep(f)}
      grad[gBase + i] = select(0.0, g, keep);
    }
  `,
  };
  _gradCache.set(key, spec);
  return spec;
}
