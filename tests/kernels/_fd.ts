/**
 * Float64 central finite differences for checking reference backward passes.
 */

/** Options of {@linkcode assertGradFd}. */
export interface FdOptions {
  /** Step. @default 1e-5 */
  h?: number;
  /** Relative tolerance against max(|fd|, |analytic|). @default 1e-6 */
  rtol?: number;
  /** Absolute tolerance. @default 1e-8 */
  atol?: number;
  /** Label for failures. */
  label?: string;
}

/**
 * Check an analytic gradient of a scalar function against central differences
 * `(f(x + h·e_i) − f(x − h·e_i)) / 2h` at every coordinate. The function must be smooth
 * within `h` of `x` (callers keep kinks, ties and ReLU hinges away by construction).
 *
 * Error budget: truncation `h²·|f'''|/6` plus rounding `≈ 1e-16·|f|/h`.
 */
export function assertGradFd(
  f: (x: Float64Array) => number,
  x: ArrayLike<number>,
  grad: ArrayLike<number>,
  options: FdOptions = {},
): void {
  const h = options.h ?? 1e-5;
  const rtol = options.rtol ?? 1e-6;
  const atol = options.atol ?? 1e-8;
  const xp = Float64Array.from(x);
  if (grad.length !== xp.length) {
    throw new Error(`${options.label ?? "grad"}: length ${grad.length}, expected ${xp.length}`);
  }
  for (let i = 0; i < xp.length; i++) {
    const v = xp[i];
    xp[i] = v + h;
    const fp = f(xp);
    xp[i] = v - h;
    const fm = f(xp);
    xp[i] = v;
    const fd = (fp - fm) / (2 * h);
    const tol = atol + rtol * Math.max(Math.abs(fd), Math.abs(grad[i]));
    if (!(Math.abs(fd - grad[i]) <= tol)) {
      throw new Error(
        `${options.label ?? "grad"}[${i}]: analytic ${grad[i]}, finite difference ${fd} ` +
          `(|diff| ${Math.abs(fd - grad[i])}, tol ${tol})`,
      );
    }
  }
}

/** Σ a·b in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
