/** Seeded random tensors for tests. */

import { Rng } from "../../lib/core/rng.ts";

export { Rng };

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uniform float32 values in [lo, hi). */
export function randomF32(shape: readonly number[], rng: Rng, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(lo, hi);
  return out;
}

/** Uniform float64 values in [lo, hi). */
export function randomF64(shape: readonly number[], rng: Rng, lo = -1, hi = 1): Float64Array {
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(lo, hi);
  return out;
}

/** Binary mask with foreground probability `p`. */
export function randomMask(shape: readonly number[], rng: Rng, p = 0.3): Float64Array {
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = rng.float() < p ? 1 : 0;
  return out;
}
