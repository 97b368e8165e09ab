/**
 * The adapter's arithmetic ceiling without memory traffic, beside the matmul ceiling
 * (`matmul_ceiling.ts`): a register-only WGSL kernel whose invocations each run 16
 * independent `vec4` FMA chains (`a ← fma(a, m, c)`, so every chain issues one 4-wide FMA per
 * iteration and no chain waits on another), never read a buffer, and write one `vec4` only if
 * the result equals a sentinel it never reaches (so the compiler cannot drop the work).
 * FLOP per dispatch: `invocations · iters · 16 chains · 4 lanes · 2`. Timing: median over
 * rounds of `(wall − empty-submit latency) / reps`. Prints one JSON line
 * `{"bench": "compute-ceiling", "gflop_per_s", …}`.
 *
 * Run: `deno task bench:compute [--iters 2048] [--groups 1024] [--rounds 5] [--reps 2]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { requestGpu } from "../lib/gpu/device.ts";
import { type KernelSpec, wgsl } from "../lib/gpu/kernel_spec.ts";
import { type Dispatch, GpuRuntime } from "../lib/gpu/runtime.ts";
import { median } from "./_train_step.ts";

/** Independent FMA chains per invocation. */
export const CHAINS = 16;
const WG = 64;

/** Uniforms of {@linkcode computeCeilingSpec}. */
export type ComputeCeilingUniform = "iters" | "m" | "c" | "sentinel";

/**
 * The register-only FMA kernel.
 *
 * @param chains Independent `vec4` chains per invocation.
 * @returns The spec (`groups` workgroups of 64 are dispatched by the caller's uniforms).
 */
export function computeCeilingSpec(
  chains = CHAINS,
): KernelSpec<ComputeCeilingUniform | "groups"> {
  const init: string[] = [];
  const step: string[] = [];
  const sum: string[] = [];
  for (let k = 0; k < chains; k++) {
    init.push(`var a${k} = vec4<f32>(f32(gid.x & 255u) * 1e-3 + ${k}.0 * 1e-2);`);
    step.push(`a${k} = fma(a${k}, m, c);`);
    sum.push(`a${k}`);
  }
  return {
    name: `computeCeiling_${chains}`,
    bindings: { out: { access: "write", type: "vec4<f32>" } },
    uniforms: { iters: "u32", m: "f32", c: "f32", sentinel: "f32", groups: "u32" },
    workgroupSize: WG,
    dispatch: ({ groups }) => [groups, 1, 1],
    body: wgsl`
  let m = vec4<f32>(u.m);
  let c = vec4<f32>(u.c);
  ${init.join("\n  ")}
  for (var i = 0u; i < u.iters; i++) {
    ${step.join("\n    ")}
  }
  let s = ${sum.join(" + ")};
  if (s.x == u.sentinel) { out[gid.x] = s; }`,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      iters: { type: "string" },
      groups: { type: "string" },
      rounds: { type: "string" },
      reps: { type: "string" },
    },
  });
  const iters = Number(values.iters ?? 2048);
  const groups = Number(values.groups ?? 1024);
  const rounds = Number(values.rounds ?? 5);
  const reps = Number(values.reps ?? 2);
  const { device, adapter } = await requestGpu();
  const rt = new GpuRuntime(device);
  const out = rt.createBuffer(groups * WG * 16);
  const spec = computeCeilingSpec();
  const d = rt.bind(spec, { out }, { iters, m: 0.999999, c: 1e-6, sentinel: -1e30, groups });
  const empty = rt.bind(computeCeilingSpec(1), { out }, {
    iters: 0,
    m: 1,
    c: 0,
    sentinel: -1e30,
    groups: 1,
  });
  const timed = async (ds: Dispatch[]) => {
    const t0 = performance.now();
    await rt.run(ds);
    return performance.now() - t0;
  };
  const t0 = performance.now();
  await rt.run([d]);
  await rt.checkCompilation();
  const firstMs = performance.now() - t0;
  const flops = groups * WG * iters * CHAINS * 4 * 2;
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const base = await timed([empty]);
    ms.push((await timed(Array(reps).fill(d)) - base) / reps);
  }
  const med = median(ms);
  console.log(JSON.stringify({
    bench: "compute-ceiling",
    chains: CHAINS,
    invocations: groups * WG,
    iters,
    gflop_per_dispatch: +(flops / 1e9).toFixed(2),
    ms: +med.toFixed(1),
    gflop_per_s: +(flops / med / 1e6).toFixed(1),
    best_gflop_per_s: +(flops / Math.min(...ms) / 1e6).toFixed(1),
    first_run_ms: Math.round(firstMs),
    adapter: adapter.description,
  }));
  rt.release([d, empty]);
  out.destroy();
  device.destroy();
}
