/**
 * WGSL of the activations that normalisation kernels fuse into their epilogue (forward) and
 * prologue (backward): identity, LeakyReLU (slope in the uniform `slope`) and PReLU (one slope
 * per channel in the binding `slope`), written against the alias `T` (`f32` or `vec4<f32>`,
 * see `reduce.ts`). PyTorch's convention at 0: the slope branch, so
 * `f'(0) = a`, and the PReLU slope gradient is `Σ dy·z` over `z ≤ 0`.
 *
 * @module
 */

/** Activation fused into a kernel. */
export type ActivationKind = "identity" | "leakyRelu" | "prelu";

/**
 * WGSL statement that defines the slope `a` of channel `c` (empty for identity).
 *
 * @param kind The activation.
 * @param channel WGSL expression of the channel index.
 * @returns A `let a = …;` statement or "".
 */
export function activationSlope(kind: ActivationKind, channel = "c"): string {
  if (kind === "prelu") return `let a = slope[${channel}];`;
  if (kind === "leakyRelu") return "let a = u.slope;";
  return "";
}

/**
 * WGSL expression of `f(z)`.
 *
 * @param kind The activation.
 * @param z WGSL expression (evaluated more than once: pass a name).
 * @returns The expression.
 */
export function activationApply(kind: ActivationKind, z: string): string {
  return kind === "identity" ? z : `select(${z} * a, ${z}, ${z} > T(0.0))`;
}

/**
 * WGSL expression of `dy·f'(z)`.
 *
 * @param kind The activation.
 * @param z Pre-activation (a name).
 * @param dy Gradient of the activation's output (a name).
 * @returns The expression.
 */
export function activationGrad(kind: ActivationKind, z: string, dy: string): string {
  return kind === "identity" ? dy : `select(${dy} * a, ${dy}, ${z} > T(0.0))`;
}
