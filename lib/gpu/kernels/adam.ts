/**
 * Adam, in place, exactly as `torch.optim.Adam` (non-fused, `amsgrad=False`) computes it:
 * ```
 * g ← g + λ·p                      (L2 weight decay, optionally masked per element)
 * m ← m + (1 − β1)·(g − m)         (torch: exp_avg.lerp_(g, 1 − β1))
 * v ← β2·v + (1 − β2)·g²
 * p ← p − α_t·m / (√v / √(1 − β2^t) + eps),   α_t = lr / (1 − β1^t)
 * ```
 * (Kingma & Ba 2015, Alg. 1, with PyTorch's placement of eps.) The per-step values live in a
 * small storage buffer `hyper` that the trainer rewrites with `queue.writeBuffer` before each
 * step, so the bound dispatch never changes:
 * `hyper = [α_t, √(1 − β2^t), 1 − β1, β2, 1 − β2, eps, λ, 0]` (see {@linkcode ADAM_HYPER}).
 *
 * @module
 */

import { grid1d, type KernelSpec, wgsl } from "../kernel_spec.ts";
import { ROW_WG, rowPer, tensorBinding, type Vec, vecPrelude } from "./reduce.ts";

/** Index of each value in the `hyper` buffer. */
export const ADAM_HYPER = {
  stepSize: 0,
  bc2Sqrt: 1,
  oneMinusBeta1: 2,
  beta2: 3,
  oneMinusBeta2: 4,
  eps: 5,
  weightDecay: 6,
} as const;

/** Floats in the `hyper` buffer. */
export const ADAM_HYPER_LENGTH = 8;

/**
 * Adam update of `count` parameters (`count` in vector elements: floats / `vec`).
 *
 * @param options `decayMask`: weight decay applies where a `mask` binding holds 1 (0 elsewhere);
 *   without it decay applies to every element (as torch does for a parameter group). `vec`:
 *   vector width (4 needs a float count divisible by 4 and 16-byte aligned bindings).
 * @returns The spec.
 */
export function adamSpec(options: { decayMask: boolean; vec: Vec }): KernelSpec<"count"> {
  const { decayMask: masked, vec } = options;
  const per = rowPer(vec);
  return {
    name: `adam${masked ? "Masked" : ""}${vec}`,
    bindings: {
      param: tensorBinding("read_write", vec),
      grad: tensorBinding("read", vec),
      m: tensorBinding("read_write", vec),
      v: tensorBinding("read_write", vec),
      ...(masked ? { mask: tensorBinding("read", vec) } : {}),
      hyper: "read",
    },
    uniforms: { count: "u32" },
    workgroupSize: ROW_WG,
    dispatch: ({ count }) => grid1d(Math.ceil(count / per), ROW_WG),
    prelude: vecPrelude(vec),
    body: wgsl`
  let base = (wid.x + wid.y * nwg.x) * ${ROW_WG * per}u + lid.x;
  let stepSize = hyper[0];
  let bc2Sqrt = hyper[1];
  let b1c = hyper[2];
  let beta2 = hyper[3];
  let b2c = hyper[4];
  let eps = hyper[5];
  let wd = hyper[6];
  for (var it = 0u; it < ${per}u; it++) {
    let i = base + it * ${ROW_WG}u;
    if (i >= u.count) { break; }
    let p = param[i];
    let g = grad[i] + wd * ${masked ? "mask[i] * " : ""}p;
    let mi = m[i] + b1c * (g - m[i]);
    let vi = beta2 * v[i] + b2c * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - stepSize * mi / (sqrt(vi) / bc2Sqrt + eps);
  }
`,
  };
}
