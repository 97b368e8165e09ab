/**
 * Tolerance assertions for numeric arrays: `|a − e| ≤ atol + rtol·|e|` elementwise,
 * reporting the worst error and the first failing index. NaN or Inf in `actual` fails
 * (poisoned outputs that a kernel never wrote are NaN).
 */

/** Tolerances of {@linkcode assertClose}. */
export interface CloseOptions {
  /** Relative tolerance. @default 1e-5 */
  rtol?: number;
  /** Absolute tolerance. @default 1e-6 */
  atol?: number;
  /** Prefix for the failure message. */
  label?: string;
}

type Numeric = ArrayLike<number>;

/**
 * Assert two arrays (or numbers) are elementwise close.
 *
 * @param actual Computed values.
 * @param expected Reference values.
 * @param options Tolerances and label.
 * @throws {Error} When lengths differ or any element is out of tolerance.
 */
export function assertClose(
  actual: Numeric | number,
  expected: Numeric | number,
  options: CloseOptions = {},
): void {
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-6;
  const label = options.label ? `${options.label}: ` : "";
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  if (a.length !== e.length) {
    throw new Error(`${label}length mismatch: actual ${a.length}, expected ${e.length}`);
  }
  let firstBad = -1;
  let worst = 0;
  let worstIdx = -1;
  let bad = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - e[i]);
    const tol = atol + rtol * Math.abs(e[i]);
    const ratio = err / tol;
    if (!(err <= tol)) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
    if (!(ratio <= worst)) {
      worst = ratio;
      worstIdx = i;
    }
  }
  if (bad > 0) {
    throw new Error(
      `${label}${bad}/${a.length} elements out of tolerance (rtol ${rtol}, atol ${atol}); ` +
        `first at [${firstBad}]: actual ${a[firstBad]}, expected ${e[firstBad]}; ` +
        `worst at [${worstIdx}]: actual ${a[worstIdx]}, expected ${e[worstIdx]}, ` +
        `error/tolerance ${worst.toPrecision(3)}`,
    );
  }
}

/**
 * Largest elementwise |a − e| / (atol + rtol·|e|); ≤ 1 means within tolerance.
 *
 * @param actual Computed values.
 * @param expected Reference values.
 * @param options Tolerances.
 * @returns The worst ratio.
 */
export function closeRatio(actual: Numeric, expected: Numeric, options: CloseOptions = {}): number {
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-6;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= worst)) worst = r;
  }
  return worst;
}
