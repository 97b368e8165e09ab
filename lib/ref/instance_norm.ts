/**
 * Float64 reference instance normalisation (per sample and channel over D·H·W) with learnable
 * scale and shift and an optional fused activation, forward and backward.
 *
 * Forward: `x̂ = (x − μ_nc)/√(σ²_nc + eps)` (σ² biased), `z = γ_c·x̂ + β_c`, `y = f(z)`.
 * Backward (Ulyanov et al. 2016; the batch-norm derivation of Ioffe & Szegedy 2015, §3, per
 * sample): `dz = dy·f'(z)`, `dβ_c = Σ_n,s dz`, `dγ_c = Σ_n,s dz·x̂`,
 * `dx = γ_c/√(σ²+eps)·(dz − mean_s dz − x̂·mean_s(dz·x̂))`.
 *
 * @module
 */

/** A fused activation; `f'(0)` takes the slope branch (PyTorch). */
export type RefActivation =
  | { kind: "identity" }
  | { kind: "leakyRelu"; slope: number }
  | { kind: "prelu"; slope: ArrayLike<number> };

/** Options of the reference normalisation. */
export interface RefNormOptions {
  /** Added to the variance. @default 1e-5 */
  eps?: number;
  /** Fused activation. @default identity */
  activation?: RefActivation;
}

/** Gradients of a normalisation backward. */
export interface RefNormGrads {
  /** Input gradient. */
  dx: Float64Array;
  /** Scale gradient per channel. */
  dscale: Float64Array;
  /** Shift gradient per channel. */
  dshift: Float64Array;
  /** PReLU slope gradient per channel (zeros for other activations). */
  dslope: Float64Array;
}

function _slope(act: RefActivation, c: number): number {
  if (act.kind === "leakyRelu") return act.slope;
  if (act.kind === "prelu") return act.slope[c];
  return 1;
}

/**
 * Instance normalisation forward in float64.
 *
 * @param x Dense `[N, C, D, H, W]` input.
 * @param shape The shape.
 * @param scale γ per channel.
 * @param shift β per channel.
 * @param options eps and activation.
 * @returns The output `y`, and the mean and biased variance per `(n, c)` (index `n·C + c`).
 */
export function instanceNormForward(
  x: ArrayLike<number>,
  shape: readonly number[],
  scale: ArrayLike<number>,
  shift: ArrayLike<number>,
  options: RefNormOptions = {},
): { y: Float64Array; mean: Float64Array; variance: Float64Array } {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const eps = options.eps ?? 1e-5;
  const act = options.activation ?? { kind: "identity" };
  const y = new Float64Array(n * c * s);
  const mean = new Float64Array(n * c);
  const variance = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const g = i * c + j;
      const base = g * s;
      let m = 0;
      for (let k = 0; k < s; k++) m += x[base + k];
      m /= s;
      let v = 0;
      for (let k = 0; k < s; k++) v += (x[base + k] - m) ** 2;
      v /= s;
      mean[g] = m;
      variance[g] = v;
      const r = 1 / Math.sqrt(v + eps);
      const a = _slope(act, j);
      for (let k = 0; k < s; k++) {
        const z = scale[j] * (x[base + k] - m) * r + shift[j];
        y[base + k] = act.kind === "identity" || z > 0 ? z : a * z;
      }
    }
  }
  return { y, mean, variance };
}

/**
 * Instance normalisation backward in float64 (recomputes the forward statistics).
 *
 * @param x Dense `[N, C, D, H, W]` forward input.
 * @param dy Gradient of the output `y`.
 * @param shape The shape.
 * @param scale γ per channel.
 * @param shift β per channel.
 * @param options eps and activation (as in the forward).
 * @returns `dx`, `dscale`, `dshift`, `dslope`.
 */
export function instanceNormBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: readonly number[],
  scale: ArrayLike<number>,
  shift: ArrayLike<number>,
  options: RefNormOptions = {},
): RefNormGrads {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const eps = options.eps ?? 1e-5;
  const act = options.activation ?? { kind: "identity" };
  const { mean, variance } = instanceNormForward(x, shape, scale, shift, options);
  const dx = new Float64Array(n * c * s);
  const dscale = new Float64Array(c);
  const dshift = new Float64Array(c);
  const dslope = new Float64Array(c);
  const xh = new Float64Array(s);
  const dz = new Float64Array(s);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const g = i * c + j;
      const base = g * s;
      const r = 1 / Math.sqrt(variance[g] + eps);
      const a = _slope(act, j);
      let sumDz = 0;
      let sumDzXh = 0;
      for (let k = 0; k < s; k++) {
        xh[k] = (x[base + k] - mean[g]) * r;
        const z = scale[j] * xh[k] + shift[j];
        const pos = act.kind === "identity" || z > 0;
        dz[k] = pos ? dy[base + k] : a * dy[base + k];
        if (act.kind === "prelu" && !pos) dslope[j] += dy[base + k] * z;
        sumDz += dz[k];
        sumDzXh += dz[k] * xh[k];
      }
      dshift[j] += sumDz;
      dscale[j] += sumDzXh;
      for (let k = 0; k < s; k++) {
        dx[base + k] = scale[j] * r * (dz[k] - sumDz / s - xh[k] * sumDzXh / s);
      }
    }
  }
  return { dx, dscale, dshift, dslope };
}
