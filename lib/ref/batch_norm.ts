/**
 * Float64 reference batch normalisation (PyTorch `BatchNorm3d`, affine) with an optional fused
 * activation, forward (training and inference modes, running statistics) and backward.
 *
 * Training: `μ_c`, `σ²_c` (biased) over N·D·H·W; `x̂ = (x − μ_c)/√(σ²_c + eps)`;
 * `z = γ_c·x̂ + β_c`; `y = f(z)`; running update `r ← (1 − m)·r + m·v` with the unbiased
 * variance `σ²_c·M/(M − 1)`, `M = N·D·H·W`. Inference: the running statistics replace μ, σ².
 * Backward (Ioffe & Szegedy 2015, §3): `dz = dy·f'(z)`, `dβ_c = Σ dz`, `dγ_c = Σ dz·x̂`,
 * training `dx = γ/√(σ²+eps)·(dz − mean_c dz − x̂·mean_c(dz·x̂))`, inference
 * `dx = γ/√(σ²+eps)·dz`.
 *
 * @module
 */

/** A fused activation; `f'(0)` takes the slope branch (PyTorch). */
export type RefBnActivation =
  | { kind: "identity" }
  | { kind: "leakyRelu"; slope: number }
  | { kind: "prelu"; slope: ArrayLike<number> };

/** Options of the reference batch normalisation. */
export interface RefBatchNormOptions {
  /** Added to the variance. @default 1e-5 */
  eps?: number;
  /** Training (batch statistics) or inference (running statistics). @default true */
  training?: boolean;
  /** Running mean per channel (required in inference mode). */
  runningMean?: ArrayLike<number>;
  /** Running variance per channel (required in inference mode). */
  runningVar?: ArrayLike<number>;
  /** Running-update momentum. @default 0.1 */
  momentum?: number;
  /** Fused activation. @default identity */
  activation?: RefBnActivation;
}

function _stats(
  x: ArrayLike<number>,
  shape: readonly number[],
  o: RefBatchNormOptions,
): { mean: Float64Array; variance: Float64Array } {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  if (o.training ?? true) {
    const mean = new Float64Array(c);
    const variance = new Float64Array(c);
    for (let j = 0; j < c; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) for (let k = 0; k < s; k++) m += x[(i * c + j) * s + k];
      m /= n * s;
      let v = 0;
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < s; k++) v += (x[(i * c + j) * s + k] - m) ** 2;
      }
      mean[j] = m;
      variance[j] = v / (n * s);
    }
    return { mean, variance };
  }
  if (!o.runningMean || !o.runningVar) {
    throw new TypeError("Cannot run batch norm reference: inference needs running statistics");
  }
  return { mean: Float64Array.from(o.runningMean), variance: Float64Array.from(o.runningVar) };
}

function _slope(act: RefBnActivation, c: number): number {
  if (act.kind === "leakyRelu") return act.slope;
  if (act.kind === "prelu") return act.slope[c];
  return 1;
}

/**
 * Batch normalisation forward in float64.
 *
 * @param x Dense `[N, C, D, H, W]` input.
 * @param shape The shape.
 * @param scale γ per channel.
 * @param shift β per channel.
 * @param options Mode, running statistics, momentum, eps, activation.
 * @returns `y`, the statistics used (`mean`, biased `variance`), and in training mode the
 *   updated running statistics (copies; the inputs are not modified).
 * @throws {TypeError} In inference mode without running statistics.
 */
export function batchNormForward(
  x: ArrayLike<number>,
  shape: readonly number[],
  scale: ArrayLike<number>,
  shift: ArrayLike<number>,
  options: RefBatchNormOptions = {},
): {
  y: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  runningMean?: Float64Array;
  runningVar?: Float64Array;
} {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const eps = options.eps ?? 1e-5;
  const act = options.activation ?? { kind: "identity" };
  const { mean, variance } = _stats(x, shape, options);
  const y = new Float64Array(n * c * s);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const r = 1 / Math.sqrt(variance[j] + eps);
      const a = _slope(act, j);
      for (let k = 0; k < s; k++) {
        const idx = (i * c + j) * s + k;
        const z = scale[j] * (x[idx] - mean[j]) * r + shift[j];
        y[idx] = act.kind === "identity" || z > 0 ? z : a * z;
      }
    }
  }
  if (!(options.training ?? true) || !options.runningMean || !options.runningVar) {
    return { y, mean, variance };
  }
  const m = options.momentum ?? 0.1;
  const count = n * s;
  const runningMean = Float64Array.from(options.runningMean, (r, j) => (1 - m) * r + m * mean[j]);
  const runningVar = Float64Array.from(
    options.runningVar,
    (r, j) => (1 - m) * r + m * variance[j] * count / (count - 1),
  );
  return { y, mean, variance, runningMean, runningVar };
}

/**
 * Batch normalisation backward in float64.
 *
 * @param x Dense `[N, C, D, H, W]` forward input.
 * @param dy Gradient of the output `y`.
 * @param shape The shape.
 * @param scale γ per channel.
 * @param shift β per channel.
 * @param options As in the forward (mode and running statistics select the statistics).
 * @returns `dx`, `dscale`, `dshift`, `dslope` (zeros unless PReLU).
 */
export function batchNormBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: readonly number[],
  scale: ArrayLike<number>,
  shift: ArrayLike<number>,
  options: RefBatchNormOptions = {},
): { dx: Float64Array; dscale: Float64Array; dshift: Float64Array; dslope: Float64Array } {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const eps = options.eps ?? 1e-5;
  const act = options.activation ?? { kind: "identity" };
  const training = options.training ?? true;
  const { mean, variance } = _stats(x, shape, options);
  const dx = new Float64Array(n * c * s);
  const dscale = new Float64Array(c);
  const dshift = new Float64Array(c);
  const dslope = new Float64Array(c);
  const xh = new Float64Array(n * s);
  const dz = new Float64Array(n * s);
  for (let j = 0; j < c; j++) {
    const r = 1 / Math.sqrt(variance[j] + eps);
    const a = _slope(act, j);
    let sumDz = 0;
    let sumDzXh = 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < s; k++) {
        const idx = (i * c + j) * s + k;
        const t = i * s + k;
        xh[t] = (x[idx] - mean[j]) * r;
        const z = scale[j] * xh[t] + shift[j];
        const pos = act.kind === "identity" || z > 0;
        dz[t] = pos ? dy[idx] : a * dy[idx];
        if (act.kind === "prelu" && !pos) dslope[j] += dy[idx] * z;
        sumDz += dz[t];
        sumDzXh += dz[t] * xh[t];
      }
    }
    dshift[j] = sumDz;
    dscale[j] = sumDzXh;
    const mA = training ? sumDz / (n * s) : 0;
    const mB = training ? sumDzXh / (n * s) : 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < s; k++) {
        const t = i * s + k;
        dx[(i * c + j) * s + k] = scale[j] * r * (dz[t] - mA - xh[t] * mB);
      }
    }
  }
  return { dx, dscale, dshift, dslope };
}
