/**
 * LeakyReLU forward and backward: `y = x > 0 ? x : slope·x`.
 *
 * @module
 */

import { grid1d, type KernelSpec, wgsl } from "../kernel_spec.ts";

const WG = 256;

/** `y[i] = x[i] > 0 ? x[i] : slope·x[i]` over `n` elements. */
export const leakyReluForward: KernelSpec<"n" | "slope"> = {
  name: "leakyReluForward",
  bindings: { x: "read", y: "write" },
  uniforms: { n: "u32", slope: "f32" },
  workgroupSize: WG,
  dispatch: ({ n }) => grid1d(n, WG),
  body: wgsl`
    let i = gid.x + gid.y * nwg.x * ${WG}u;
    if (i >= u.n) { return; }
    let v = x[i];
    y[i] = select(v * u.slope, v, v > 0.0);
  `,
};

/** `dx[i] = dy[i] · (x[i] > 0 ? 1 : slope)`; `x` is the forward input. */
export const leakyReluBackward: KernelSpec<"n" | "slope"> = {
  name: "leakyReluBackward",
  bindings: { x: "read", dy: "read", dx: "write" },
  uniforms: { n: "u32", slope: "f32" },
  workgroupSize: WG,
  dispatch: ({ n }) => grid1d(n, WG),
  body: wgsl`
    let i = gid.x + gid.y * nwg.x * ${WG}u;
    if (i >= u.n) { return; }
    dx[i] = select(dy[i] * u.slope, dy[i], x[i] > 0.0);
  `,
};
