/**
 * Convolution benchmark: every conv and transposed-conv layer shape of nnn-bench
 * (`../shared/bench/unet-bench.md`) at B = 1, 2, 4, each direction (forward, input gradient,
 * weight gradient) timed with the real ops (packing dispatches included; the weight gradient
 * reuses the forward's packed input, as a training step does). Prints one JSON line per layer,
 * batch and direction, then one summary line per batch with the conv time of one
 * training step (each layer counted as often as the network uses it).
 *
 * Timing: `R` copies of an op go into one plan (one submit); the median over rounds of
 * `(wall − empty-submit latency) / R` is reported, where the latency of an empty submit
 * (≈ 11 ms on llvmpipe) is measured in the same run. `cpu_ms` is the process CPU time per op
 * (all llvmpipe threads), which other tenants of the machine disturb less than the wall clock.
 *
 * Run: `deno run --allow-read --allow-env bench/conv_bench.ts [--batches 1,2,4] [--rounds 5]
 * [--reps 4] [--layers enc1b,dec1a] [--dirs fwd,bwdInput,bwdWeight]
 * [--blocking '{"ph":2}'] [--wgrad-blocking '{"ph":1}']`.
 *
 * @module
 */

import process from "node:process";
import { requestGpu } from "../lib/gpu/device.ts";
import { BufferPool } from "../lib/gpu/buffer_pool.ts";
import type { KernelSpec } from "../lib/gpu/kernel_spec.ts";
import { GpuRuntime } from "../lib/gpu/runtime.ts";
import { StepPlan } from "../lib/gpu/step_plan.ts";
import type { Shape5 } from "../lib/gpu/tensor.ts";
import {
  conv3dBackwardInput,
  conv3dBackwardWeight,
  conv3dForward,
  type PackedActivation,
} from "../lib/gpu/ops/conv3d.ts";
import {
  convTranspose3dBackwardInput,
  convTranspose3dBackwardWeight,
  convTranspose3dForward,
} from "../lib/gpu/ops/conv_transpose3d.ts";

/** One conv layer of nnn-bench. */
interface Layer {
  name: string;
  kind: "conv" | "up";
  cin: number;
  cout: number;
  /** Input volume edge. */
  size: number;
  kernel: [number, number, number];
  /** How often one training step runs this shape. */
  uses: number;
  /** Whether the step needs the input gradient (not for the first layer). */
  needsInputGrad: boolean;
}

const LAYERS: Layer[] = [
  {
    name: "enc1a",
    kind: "conv",
    cin: 1,
    cout: 8,
    size: 32,
    kernel: [3, 3, 3],
    uses: 1,
    needsInputGrad: false,
  },
  {
    name: "enc1b",
    kind: "conv",
    cin: 8,
    cout: 8,
    size: 32,
    kernel: [3, 3, 3],
    uses: 2,
    needsInputGrad: true,
  },
  {
    name: "enc2a",
    kind: "conv",
    cin: 8,
    cout: 16,
    size: 16,
    kernel: [3, 3, 3],
    uses: 1,
    needsInputGrad: true,
  },
  {
    name: "enc2b",
    kind: "conv",
    cin: 16,
    cout: 16,
    size: 16,
    kernel: [3, 3, 3],
    uses: 2,
    needsInputGrad: true,
  },
  {
    name: "enc3a",
    kind: "conv",
    cin: 16,
    cout: 32,
    size: 8,
    kernel: [3, 3, 3],
    uses: 1,
    needsInputGrad: true,
  },
  {
    name: "enc3b",
    kind: "conv",
    cin: 32,
    cout: 32,
    size: 8,
    kernel: [3, 3, 3],
    uses: 1,
    needsInputGrad: true,
  },
  {
    name: "up2",
    kind: "up",
    cin: 32,
    cout: 16,
    size: 8,
    kernel: [2, 2, 2],
    uses: 1,
    needsInputGrad: true,
  },
  {
    name: "dec2a",
    kind: "conv",
    cin: 32,
    cout: 16,
    size: 16,
    kernel: [3, 3, 3],
    uses: 1,
    needsInputGrad: true,
  },
  {
    name: "up1",
    kind: "up",
    cin: 16,
    cout: 8,
    size: 16,
    kernel: [2, 2, 2],
    uses: 1,
    needsInputGrad: true,
  },
  {
    name: "dec1a",
    kind: "conv",
    cin: 16,
    cout: 8,
    size: 32,
    kernel: [3, 3, 3],
    uses: 1,
    needsInputGrad: true,
  },
  {
    name: "head",
    kind: "conv",
    cin: 8,
    cout: 1,
    size: 32,
    kernel: [1, 1, 1],
    uses: 1,
    needsInputGrad: true,
  },
];
// enc1b's shape also serves dec1b, enc2b's dec2b: hence uses = 2.

type Dir = "fwd" | "bwdInput" | "bwdWeight";

function _arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const batches = (_arg("batches") ?? "1,2,4").split(",").map(Number);
const rounds = Number(_arg("rounds") ?? 5);
const reps = Number(_arg("reps") ?? 4);
const onlyLayers = _arg("layers")?.split(",");
const dirs = (_arg("dirs") ?? "fwd,bwdInput,bwdWeight").split(",") as Dir[];
const blocking = JSON.parse(_arg("blocking") ?? "{}");
const wgradBlocking = JSON.parse(_arg("wgrad-blocking") ?? "{}");

const { device, adapter } = await requestGpu();
const rt = new GpuRuntime(device);
const pool = new BufferPool(device);

function _median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function _flops(l: Layer, B: number): number {
  const T = l.kernel[0] * l.kernel[1] * l.kernel[2];
  // Transposed conv: every input voxel meets every weight once.
  return 2 * B * l.cin * l.cout * T * l.size ** 3;
}

async function _timed(plan: StepPlan): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await plan.run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

const emptySpec: KernelSpec<"n"> = {
  name: "benchEmpty",
  bindings: { a: "write" },
  uniforms: { n: "u32" },
  workgroupSize: 1,
  dispatch: () => [1, 1, 1],
  body: "a[0] = f32(u.n);",
};

function _buffers(l: Layer, B: number) {
  const s = l.size;
  const out = l.kind === "up" ? 2 * s : s;
  const xShape: Shape5 = [B, l.cin, s, s, s];
  const yShape: Shape5 = [B, l.cout, out, out, out];
  const fill = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.7) * 0.5;
    return rt.createBuffer(a);
  };
  const T = l.kernel[0] * l.kernel[1] * l.kernel[2];
  return {
    xShape,
    yShape,
    x: fill(B * l.cin * s ** 3),
    y: fill(B * l.cout * out ** 3),
    w: fill(l.cin * l.cout * T),
    b: fill(l.cout),
    dw: fill(l.cin * l.cout * T),
    db: fill(l.cout),
  };
}

function _push(
  plan: StepPlan,
  l: Layer,
  dir: Dir,
  buf: ReturnType<typeof _buffers>,
  packedInput: PackedActivation | undefined,
): void {
  const x = { buffer: buf.x, shape: buf.xShape };
  const y = { buffer: buf.y, shape: buf.yShape };
  if (l.kind === "conv") {
    const o = { kernel: l.kernel, blocking };
    if (dir === "fwd") conv3dForward(plan, x, buf.w, buf.b, y, o);
    else if (dir === "bwdInput") conv3dBackwardInput(plan, y, buf.w, x, o);
    else {
      // As in a training step: the forward's packed input is reused.
      conv3dBackwardWeight(plan, x, y, buf.dw, buf.db, {
        kernel: l.kernel,
        blocking: wgradBlocking,
        packedInput,
      });
    }
  } else {
    if (dir === "fwd") convTranspose3dForward(plan, x, buf.w, buf.b, y);
    else if (dir === "bwdInput") convTranspose3dBackwardInput(plan, y, buf.w, x);
    else convTranspose3dBackwardWeight(plan, x, y, buf.dw, buf.db);
  }
}

const emptyBuf = rt.createBuffer(16);
const emptyPlan = new StepPlan(rt, pool);
emptyPlan.push(emptySpec, { a: emptyBuf }, { n: 1 });
await emptyPlan.run();

for (const B of batches) {
  let stepMs = 0;
  let stepFlops = 0;
  for (const l of LAYERS) {
    if (onlyLayers && !onlyLayers.includes(l.name)) continue;
    const buf = _buffers(l, B);
    // The forward that packs x for the weight gradient runs once, outside the timed plans.
    const setup = new StepPlan(rt, pool);
    const packedInput = l.kind === "conv"
      ? conv3dForward(setup, { buffer: buf.x, shape: buf.xShape }, buf.w, buf.b, {
        buffer: buf.y,
        shape: buf.yShape,
      }, { kernel: l.kernel, blocking }).packedInput
      : undefined;
    await setup.run();
    for (const dir of dirs) {
      const plan = new StepPlan(rt, pool);
      for (let r = 0; r < reps; r++) _push(plan, l, dir, buf, packedInput);
      const dispatches = plan.dispatches.length / reps;
      const c0 = performance.now();
      await plan.run();
      await rt.checkCompilation();
      const firstMs = performance.now() - c0;
      const walls: number[] = [];
      const cpus: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const base = await _timed(emptyPlan);
        const t = await _timed(plan);
        walls.push((t.wall - base.wall) / reps);
        cpus.push(t.cpu / reps);
      }
      plan.dispose();
      const ms = Math.max(_median(walls), 1e-3);
      const flops = _flops(l, B);
      const counted = dir !== "bwdInput" || l.needsInputGrad;
      if (counted) {
        stepMs += ms * l.uses;
        stepFlops += flops * l.uses;
      }
      console.log(JSON.stringify({
        layer: l.name,
        kind: l.kind,
        B,
        dir,
        cin: l.cin,
        cout: l.cout,
        size: l.size,
        kernel: l.kernel,
        mflop: +(flops / 1e6).toFixed(2),
        ms: +ms.toFixed(3),
        gflops: +(flops / ms / 1e6).toFixed(2),
        cpu_ms: +_median(cpus).toFixed(3),
        dispatches,
        first_run_ms: +firstMs.toFixed(0),
      }));
    }
    setup.dispose();
    for (const b of Object.values(buf)) if (b instanceof GPUBuffer) b.destroy();
  }
  console.log(JSON.stringify({
    summary: "conv work of one nnn-bench training step",
    B,
    ms: +stepMs.toFixed(1),
    gflop: +(stepFlops / 1e9).toFixed(3),
    gflops: +(stepFlops / stepMs / 1e6).toFixed(2),
    adapter: adapter.description,
  }));
}
emptyPlan.dispose();
pool.destroy();
device.destroy();
