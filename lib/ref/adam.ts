/**
 * Float64 reference Adam step (torch.optim.Adam semantics, `amsgrad=False`).
 *
 * @module
 */

/** Options of {@linkcode adamStep}. */
export interface RefAdamOptions {
  /** Learning rate. */
  lr: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** eps. */
  eps: number;
  /** L2 weight decay λ. @default 0 */
  weightDecay?: number;
  /** Step number t ≥ 1. */
  step: number;
  /** 1 where decay applies. @default everywhere */
  mask?: ArrayLike<number>;
}

/**
 * One Adam step in place:
 * `g ← g + λ·p; m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − lr/(1 − β1^t)·m/(√v/√(1 − β2^t) + eps)`.
 *
 * @param p Parameters (updated).
 * @param g Gradients.
 * @param m First moments (updated).
 * @param v Second moments (updated).
 * @param o Hyper-parameters and step.
 */
export function adamStep(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  o: RefAdamOptions,
): void {
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  const wd = o.weightDecay ?? 0;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + wd * (o.mask ? o.mask[i] : 1) * p[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
    p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps);
  }
}
