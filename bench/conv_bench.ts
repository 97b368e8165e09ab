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
 * `--net brats` times instead the conv layers of the paper's BRATS network (the `brats` preset
 * of `lib/nn/unet_config.ts` at the 48×80×80 patch of `../shared/bench/paper-scale.md`; one line
 * per distinct shape, `uses` counting how often a step runs it), B = 1 unless `--batches` says
 * otherwise; those operands exceed nothing but the largest take seconds per op, so use
 * `--reps 1`.
 *
 * Variants: `--variants '[{"name":"co8"},{"name":"co16","blocking":{"co":16}}]'` times several
 * blockings of the same op side by side — per round every variant once, in turn (A, B, A, B …),
 * so a load that comes and goes hits all of them alike — and prints each variant's median and
 * its ratio to the first (`vs_first`, time of the first / time of this one; `cpu_vs_first` the
 * same for the process CPU time, which a shared machine disturbs less). Without
 * `--variants` the single variant is `--blocking` / `--wgrad-blocking`.
 *
 * Run: `deno run --allow-read --allow-env bench/conv_bench.ts [--net nnn|brats]
 * [--batches 1,2,4] [--rounds 5] [--reps 4] [--layers enc1b,dec1a] [--dirs fwd,bwdInput,bwdWeight]
 * [--blocking '{"ph":2}'] [--wgrad-blocking '{"ph":1}'] [--variants JSON]`.
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
import type { ConvDirectBlocking, ConvWeightGradBlocking } from "../lib/gpu/kernels/conv3d.ts";
import { type Triple, UNET_PRESETS, unetLayout } from "../lib/nn/unet_config.ts";

/** One conv layer shape. */
interface Layer {
  name: string;
  kind: "conv" | "up";
  cin: number;
  cout: number;
  /** Input volume edge (cube), or `dims` for other volumes. */
  size: number;
  /** Input volume `[D, H, W]` when not a cube of `size`. */
  dims?: Triple;
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

/** Patch of the BRATS paper-bench step (D, H, W). */
const BRATS_PATCH: Triple = [48, 80, 80];

/**
 * The distinct conv shapes of the `brats` preset at {@linkcode BRATS_PATCH}: per level the
 * encoder and decoder blocks (shapes that occur twice, e.g. 30→30 at level 0 in encoder and
 * decoder, counted by `uses`) and the 1×1×1 head; nearest upsampling, so no transposed convs.
 *
 * @returns The layers, largest volume first.
 */
function _bratsLayers(): Layer[] {
  const cfg = UNET_PRESETS.brats;
  const layout = unetLayout(cfg);
  const out: Layer[] = [];
  const add = (name: string, cin: number, cout: number, level: number, kernel: Triple) => {
    const f = 2 ** level;
    const dims: Triple = [BRATS_PATCH[0] / f, BRATS_PATCH[1] / f, BRATS_PATCH[2] / f];
    const same = out.find((l) =>
      l.cin === cin && l.cout === cout && l.dims![0] === dims[0] && l.kernel[0] === kernel[0]
    );
    if (same) {
      same.uses++;
      return;
    }
    out.push({
      name,
      kind: "conv",
      cin,
      cout,
      size: dims[0],
      dims,
      kernel: [kernel[0], kernel[1], kernel[2]],
      uses: 1,
      needsInputGrad: !(level === 0 && cin === cfg.inChannels),
    });
  };
  for (let l = 0; l < cfg.filters.length; l++) {
    layout.encoder[l].forEach((b, i) => add(`L${l}enc${i}`, b.cin, b.cout, l, b.kernel));
    layout.decoder[l]?.forEach((b, i) => add(`L${l}dec${i}`, b.cin, b.cout, l, b.kernel));
  }
  const h = layout.head;
  add("head", h.cin, h.cout, 0, h.kernel);
  return out;
}

type Dir = "fwd" | "bwdInput" | "bwdWeight";

function _arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

/** One blocking to time. */
interface Variant {
  name: string;
  blocking: Partial<ConvDirectBlocking>;
  wgradBlocking: Partial<ConvWeightGradBlocking>;
}

const net = _arg("net") ?? "nnn";
if (net !== "nnn" && net !== "brats") throw new RangeError(`Unknown --net ${net}: nnn or brats`);
const layers = net === "brats" ? _bratsLayers() : LAYERS;
const batches = (_arg("batches") ?? (net === "brats" ? "1" : "1,2,4")).split(",").map(Number);
const rounds = Number(_arg("rounds") ?? 5);
const reps = Number(_arg("reps") ?? 4);
const onlyLayers = _arg("layers")?.split(",");
const dirs = (_arg("dirs") ?? "fwd,bwdInput,bwdWeight").split(",") as Dir[];
const variants: Variant[] = _arg("variants")
  ? (JSON.parse(_arg("variants")!) as Partial<Variant>[]).map((v, i) => ({
    name: v.name ?? `v${i}`,
    blocking: v.blocking ?? {},
    wgradBlocking: v.wgradBlocking ?? {},
  }))
  : [{
    name: "default",
    blocking: JSON.parse(_arg("blocking") ?? "{}"),
    wgradBlocking: JSON.parse(_arg("wgrad-blocking") ?? "{}"),
  }];

const { device, adapter } = await requestGpu();
const rt = new GpuRuntime(device);
const pool = new BufferPool(device);

function _median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function _dims(l: Layer): Triple {
  return l.dims ?? [l.size, l.size, l.size];
}

function _flops(l: Layer, B: number): number {
  const T = l.kernel[0] * l.kernel[1] * l.kernel[2];
  const [d, h, w] = _dims(l);
  // Transposed conv: every input voxel meets every weight once.
  return 2 * B * l.cin * l.cout * T * d * h * w;
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
  const [d, h, w] = _dims(l);
  const f = l.kind === "up" ? 2 : 1;
  const xShape: Shape5 = [B, l.cin, d, h, w];
  const yShape: Shape5 = [B, l.cout, f * d, f * h, f * w];
  const vx = d * h * w;
  const fill = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.7) * 0.5;
    return rt.createBuffer(a);
  };
  const T = l.kernel[0] * l.kernel[1] * l.kernel[2];
  return {
    xShape,
    yShape,
    x: fill(B * l.cin * vx),
    y: fill(B * l.cout * vx * f ** 3),
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
  v: Variant,
): void {
  const x = { buffer: buf.x, shape: buf.xShape };
  const y = { buffer: buf.y, shape: buf.yShape };
  if (l.kind === "conv") {
    const o = { kernel: l.kernel, blocking: v.blocking };
    if (dir === "fwd") conv3dForward(plan, x, buf.w, buf.b, y, o);
    else if (dir === "bwdInput") conv3dBackwardInput(plan, y, buf.w, x, o);
    else {
      // As in a training step: the forward's packed input is reused.
      conv3dBackwardWeight(plan, x, y, buf.dw, buf.db, {
        kernel: l.kernel,
        blocking: v.wgradBlocking,
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
  const stepMs = variants.map(() => 0);
  const stepCpu = variants.map(() => 0);
  let stepFlops = 0;
  for (const l of layers) {
    if (onlyLayers && !onlyLayers.includes(l.name)) continue;
    const buf = _buffers(l, B);
    // The forward that packs x for the weight gradient runs once, outside the timed plans
    // (its packed layout does not depend on the blocking).
    const setup = new StepPlan(rt, pool);
    const packedInput = l.kind === "conv"
      ? conv3dForward(setup, { buffer: buf.x, shape: buf.xShape }, buf.w, buf.b, {
        buffer: buf.y,
        shape: buf.yShape,
      }, { kernel: l.kernel }).packedInput
      : undefined;
    await setup.run();
    for (const dir of dirs) {
      const counted = dir !== "bwdInput" || l.needsInputGrad;
      if (!counted && net === "brats") continue;
      const plans: StepPlan[] = [];
      const firstMs: number[] = [];
      for (const v of variants) {
        const plan = new StepPlan(rt, pool);
        for (let r = 0; r < reps; r++) _push(plan, l, dir, buf, packedInput, v);
        const c0 = performance.now();
        await plan.run();
        await rt.checkCompilation();
        firstMs.push(performance.now() - c0);
        plans.push(plan);
      }
      const walls: number[][] = variants.map(() => []);
      const cpus: number[][] = variants.map(() => []);
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < variants.length; k++) {
          const base = await _timed(emptyPlan);
          const t = await _timed(plans[k]);
          walls[k].push((t.wall - base.wall) / reps);
          cpus[k].push(t.cpu / reps);
        }
      }
      const flops = _flops(l, B);
      if (counted) stepFlops += flops * l.uses;
      const ms = walls.map((w) => Math.max(_median(w), 1e-3));
      const cpu = cpus.map((c) => Math.max(_median(c), 1e-3));
      variants.forEach((v, k) => {
        if (counted) {
          stepMs[k] += ms[k] * l.uses;
          stepCpu[k] += cpu[k] * l.uses;
        }
        console.log(JSON.stringify({
          layer: l.name,
          variant: v.name,
          kind: l.kind,
          B,
          dir,
          cin: l.cin,
          cout: l.cout,
          dims: _dims(l),
          kernel: l.kernel,
          uses: l.uses,
          mflop: +(flops / 1e6).toFixed(2),
          ms: +ms[k].toFixed(3),
          gflops: +(flops / ms[k] / 1e6).toFixed(2),
          vs_first: +(ms[0] / ms[k]).toFixed(3),
          cpu_ms: +cpu[k].toFixed(3),
          cpu_vs_first: +(cpu[0] / cpu[k]).toFixed(3),
          dispatches: plans[k].dispatches.length / reps,
          first_run_ms: +firstMs[k].toFixed(0),
        }));
      });
      for (const p of plans) p.dispose();
    }
    setup.dispose();
    for (const b of Object.values(buf)) if (b instanceof GPUBuffer) b.destroy();
  }
  variants.forEach((v, k) =>
    console.log(JSON.stringify({
      summary: `conv work of one ${net === "brats" ? "brats" : "nnn-bench"} training step`,
      variant: v.name,
      B,
      ms: +stepMs[k].toFixed(1),
      gflop: +(stepFlops / 1e9).toFixed(3),
      gflops: +(stepFlops / stepMs[k] / 1e6).toFixed(2),
      vs_first: +(stepMs[0] / stepMs[k]).toFixed(3),
      cpu_ms: +stepCpu[k].toFixed(1),
      cpu_vs_first: +(stepCpu[0] / stepCpu[k]).toFixed(3),
      adapter: adapter.description,
    }))
  );
}
emptyPlan.dispose();
pool.destroy();
device.destroy();
