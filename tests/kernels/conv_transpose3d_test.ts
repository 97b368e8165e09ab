/**
 * Conformance of the 2×2×2 stride-2 transposed convolution (`lib/gpu/ops/conv_transpose3d.ts`)
 * with the float64 reference (`lib/ref/conv_transpose3d.ts`), and of the reference with
 * float64 finite differences.
 *
 * Tolerances: each output sums `K` float32 products of values in [−1, 1] (`K = Cin` forward,
 * `8·Cout` input gradient, `N·D·H·W` weight gradient); `rtol 1e-4`, `atol = 2e-6·√K`, about
 * 10× the rounding errors seen on llvmpipe (see `conv3d_test.ts`).
 */

import assert from "node:assert/strict";
import * as ref from "../../lib/ref/conv_transpose3d.ts";
import type { RefConvTranspose3dShape } from "../../lib/ref/conv_transpose3d.ts";
import {
  convTranspose3dBackwardInput,
  convTranspose3dBackwardWeight,
  convTranspose3dForward,
} from "../../lib/gpu/ops/conv_transpose3d.ts";
import {
  type ConvTransposeBlocking,
  type ConvTransposeWeightGradBlocking,
  defaultTransposeBlocking,
  defaultTransposeWeightGradBlocking,
} from "../../lib/gpu/kernels/conv_transpose3d.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest, poisoned } from "../_helpers/gpu.ts";
import { randomF32, randomF64, Rng } from "../_helpers/random.ts";
import { assertGradFd, dot } from "./_fd.ts";
import {
  destroyViews,
  inputView,
  newPlan,
  outputView,
  type Placement,
  readView,
} from "./_views.ts";

function atolFor(terms: number): number {
  return 2e-6 * Math.sqrt(terms);
}

Deno.test("ref convTranspose3d backward passes match float64 central finite differences", () => {
  const rng = new Rng(31);
  const s: RefConvTranspose3dShape = { n: 2, cin: 3, cout: 2, d: 2, h: 3, w: 2 };
  const S = s.d * s.h * s.w;
  const x = randomF64([s.n, s.cin, S], rng);
  const w = randomF64([s.cin, s.cout, 8], rng);
  const b = randomF64([s.cout], rng);
  const g = randomF64([s.n, s.cout, 8 * S], rng); // dL/dy of L = ⟨y, g⟩
  const dx = ref.convTranspose3dBackwardInput(g, w, s);
  const { dWeight, dBias } = ref.convTranspose3dBackwardWeight(x, g, s);
  // L is linear in each argument, so central differences are exact up to rounding.
  const fd = { h: 1e-3, rtol: 1e-9, atol: 1e-10 };
  const f = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) =>
    dot(ref.convTranspose3dForward(xx, ww, bb, s), g);
  assertGradFd((v) => f(v, w, b), x, dx, { ...fd, label: "dx" });
  assertGradFd((v) => f(x, v, b), w, dWeight, { ...fd, label: "dW" });
  assertGradFd((v) => f(x, w, v), b, dBias, { ...fd, label: "dB" });
});

Deno.test("ref convTranspose3d satisfies the adjoint identity", () => {
  const rng = new Rng(32);
  const s: RefConvTranspose3dShape = { n: 2, cin: 3, cout: 5, d: 3, h: 2, w: 5 };
  const S = s.d * s.h * s.w;
  const x = randomF64([s.n, s.cin, S], rng);
  const y = randomF64([s.n, s.cout, 8 * S], rng);
  const w = randomF64([s.cin, s.cout, 8], rng);
  const lhs = dot(ref.convTranspose3dForward(x, w, undefined, s), y);
  const rhs = dot(x, ref.convTranspose3dBackwardInput(y, w, s));
  assertClose(lhs, rhs, { rtol: 1e-12, atol: 1e-12 });
});

interface Case {
  n: number;
  cin: number;
  cout: number;
  d: number;
  h: number;
  w: number;
  xPlace?: Placement;
  yPlace?: Placement;
  accumulate?: boolean;
  bias?: boolean;
  /** Blockings other than the adapter's defaults. */
  blocking?: Partial<ConvTransposeBlocking>;
  wgradBlocking?: Partial<ConvTransposeWeightGradBlocking>;
  /** Binding limit of the plan (small: the ops run in depth slabs and channel chunks). */
  bindingLimit?: number;
}

/** What {@linkcode runCase} computed, and how many dispatches the plan had. */
interface CaseResult {
  y: Float32Array;
  dx: Float32Array;
  dW: Float32Array;
  dB: Float32Array;
  dispatches: number;
  /** Dispatches per kernel name. */
  kernels: Map<string, number>;
}

async function runCase(rt: GpuRuntime, c: Case, seed: number): Promise<CaseResult> {
  const rng = new Rng(seed);
  const s: RefConvTranspose3dShape = c;
  const xShape: Shape5 = [c.n, c.cin, c.d, c.h, c.w];
  const yShape: Shape5 = [c.n, c.cout, 2 * c.d, 2 * c.h, 2 * c.w];
  const x = randomF32(xShape, rng);
  const dyHost = randomF32(yShape, rng);
  const w = randomF32([c.cin, c.cout, 8], rng);
  const b = randomF32([c.cout], rng);
  const dxBefore = randomF32(xShape, rng);
  const bias = c.bias ?? true;
  const xv = inputView(rt, x, xShape, c.xPlace);
  const dyv = inputView(rt, dyHost, yShape, c.yPlace);
  const yv = outputView(rt, yShape, c.yPlace);
  const dxv = c.accumulate
    ? inputView(rt, dxBefore, xShape, c.xPlace)
    : outputView(rt, xShape, c.xPlace);
  const wb = rt.createBuffer(w);
  const bb = rt.createBuffer(b);
  const dwb = rt.createBuffer(poisoned(w.length));
  const dbb = rt.createBuffer(poisoned(c.cout));
  const { plan, done } = newPlan(rt, { bindingLimit: c.bindingLimit });
  convTranspose3dForward(plan, xv.view, wb, bias ? bb : undefined, yv.view, {
    blocking: c.blocking,
  });
  convTranspose3dBackwardInput(plan, dyv.view, wb, dxv.view, {
    accumulate: c.accumulate,
    blocking: c.blocking,
  });
  convTranspose3dBackwardWeight(plan, xv.view, dyv.view, dwb, bias ? dbb : undefined, {
    blocking: c.wgradBlocking,
  });
  await plan.run();
  await rt.checkCompilation();
  const label = JSON.stringify(c);
  const S = c.d * c.h * c.w;
  const out: CaseResult = {
    y: await readView(rt, yv),
    dx: await readView(rt, dxv),
    dW: await rt.read(dwb, w.length * 4),
    dB: await rt.read(dbb, c.cout * 4),
    dispatches: plan.dispatches.length,
    kernels: new Map(),
  };
  for (const d of plan.dispatches) out.kernels.set(d.name, (out.kernels.get(d.name) ?? 0) + 1);
  assertClose(out.y, ref.convTranspose3dForward(x, w, bias ? b : undefined, s), {
    rtol: 1e-4,
    atol: atolFor(c.cin),
    label: `y ${label}`,
  });
  const dxRef = ref.convTranspose3dBackwardInput(dyHost, w, s);
  if (c.accumulate) { for (let i = 0; i < dxRef.length; i++) dxRef[i] += dxBefore[i]; }
  assertClose(out.dx, dxRef, {
    rtol: 1e-4,
    atol: atolFor(8 * c.cout),
    label: `dx ${label}`,
  });
  const g = ref.convTranspose3dBackwardWeight(x, dyHost, s);
  assertClose(out.dW, g.dWeight, {
    rtol: 1e-4,
    atol: atolFor(c.n * S),
    label: `dW ${label}`,
  });
  const db = out.dB;
  if (bias) {
    assertClose(db, g.dBias, { rtol: 1e-4, atol: atolFor(8 * c.n * S), label: `dB ${label}` });
  } else {
    assert.ok(db.every((v) => Number.isNaN(v)), "dBias was written without a bias");
  }
  done();
  destroyViews(xv, dyv, yv, dxv);
  for (const buf of [wb, bb, dwb, dbb]) buf.destroy();
  return out;
}

/**
 * Run a case unchunked and under `bindingLimit`; check that the limit made more dispatches,
 * that forward and input gradient are bit-identical (the same sums in the same order) and
 * that the weight and bias gradients agree within float32 rounding of their partial sums
 * (the depth slabs end the row chunks elsewhere): rtol 1e-5 + atol 1e-6·√(N·D·H·W), resp.
 * 1e-6·√(8·N·D·H·W). Both runs are also checked against the float64 reference in runCase.
 * Returns the largest |chunked − unchunked| of each output and the chunked run's dispatches
 * per kernel.
 */
async function assertChunkedCase(
  rt: GpuRuntime,
  c: Case,
  bindingLimit: number,
  seed: number,
): Promise<{ y: number; dx: number; dW: number; dB: number; kernels: Map<string, number> }> {
  const a = await runCase(rt, c, seed);
  const b = await runCase(rt, { ...c, bindingLimit }, seed);
  const label = JSON.stringify({ ...c, bindingLimit });
  assert.ok(b.dispatches > a.dispatches, `no chunks were made for ${label}`);
  assertBitIdentical(b.y, a.y, `y ${label}`);
  assertBitIdentical(b.dx, a.dx, `dx ${label}`);
  const V = c.n * c.d * c.h * c.w;
  assertClose(b.dW, a.dW, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(V), label: `dW ${label}` });
  if (c.bias ?? true) {
    assertClose(b.dB, a.dB, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(8 * V), label: `dB ${label}` });
  }
  return {
    y: maxDiff(b.y, a.y),
    dx: maxDiff(b.dx, a.dx),
    dW: maxDiff(b.dW, a.dW),
    dB: maxDiff(b.dB, a.dB),
    kernels: b.kernels,
  };
}

function assertBitIdentical(actual: Float32Array, expected: Float32Array, label: string): void {
  assert.equal(actual.length, expected.length, label);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${label}: differs at ${i}: ${actual[i]} chunked, ${expected[i]} unchunked`);
    }
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isNaN(a[i]) || !Number.isNaN(b[i])) m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

gpuTest(
  "convTranspose3d forward and backward match the float64 reference on odd shapes",
  async (rt) => {
    // Batch 2, channels not a multiple of 4, odd volume, every view a channel slice.
    await runCase(rt, {
      n: 2,
      cin: 3,
      cout: 5,
      d: 3,
      h: 2,
      w: 5,
      xPlace: { cTot: 5, cOff: 1 },
      yPlace: { cTot: 8, cOff: 3 },
    }, 40);
    // Batch 1, channels a multiple of 4, accumulated input gradient, no bias.
    await runCase(
      rt,
      { n: 1, cin: 8, cout: 12, d: 2, h: 3, w: 7, accumulate: true, bias: false },
      41,
    );
    // Tile-aligned (H % 2 = 0, W % 8 = 0, channels % 8 = 0): stores straight into the views,
    // the output being the upsampled half of a concatenation buffer.
    await runCase(rt, {
      n: 2,
      cin: 16,
      cout: 8,
      d: 2,
      h: 2,
      w: 8,
      yPlace: { cTot: 16, cOff: 0 },
      accumulate: true,
    }, 42);
  },
);

gpuTest("convTranspose3d kernels are correct with the discrete-GPU blockings", async (rt) => {
  const blocking = defaultTransposeBlocking(false);
  const wgradBlocking = defaultTransposeWeightGradBlocking(false);
  await runCase(rt, {
    n: 2,
    cin: 5,
    cout: 3,
    d: 2,
    h: 3,
    w: 5,
    yPlace: { cTot: 4, cOff: 1 },
    accumulate: true,
    blocking,
    wgradBlocking,
  }, 45);
  await runCase(rt, { n: 1, cin: 4, cout: 8, d: 2, h: 2, w: 8, blocking, wgradBlocking }, 46);
});

gpuTest("convTranspose3d GPU kernels satisfy the adjoint identity", async (rt) => {
  const rng = new Rng(43);
  const xShape: Shape5 = [2, 3, 3, 2, 5];
  const yShape: Shape5 = [2, 5, 6, 4, 10];
  const x = randomF32(xShape, rng);
  const y = randomF32(yShape, rng);
  const w = randomF32([3, 5, 8], rng);
  const xb = rt.createBuffer(x);
  const yb = rt.createBuffer(y);
  const wb = rt.createBuffer(w);
  const tx = rt.createBuffer(poisoned(y.length));
  const ty = rt.createBuffer(poisoned(x.length));
  const { plan, done } = newPlan(rt);
  convTranspose3dForward(plan, { buffer: xb, shape: xShape }, wb, undefined, {
    buffer: tx,
    shape: yShape,
  });
  convTranspose3dBackwardInput(plan, { buffer: yb, shape: yShape }, wb, {
    buffer: ty,
    shape: xShape,
  });
  await plan.run();
  const up = await rt.read(tx, y.length * 4);
  const down = await rt.read(ty, x.length * 4);
  const scale = Math.sqrt(dot(up, up) * dot(y, y));
  assertClose(dot(up, y), dot(x, down), { rtol: 0, atol: 1e-5 * scale });
  done();
  for (const b of [xb, yb, wb, tx, ty]) b.destroy();
});

gpuTest("convTranspose3d ops reject shapes that are not upsampled by 2", (rt) => {
  const { plan, done } = newPlan(rt);
  const buf = rt.createBuffer(65536);
  const x = { buffer: buf, shape: [1, 2, 4, 4, 4] as Shape5 };
  const y = { buffer: buf, shape: [1, 2, 8, 8, 7] as Shape5 };
  assert.throws(() => convTranspose3dForward(plan, x, buf, undefined, y), TypeError);
  assert.throws(() => convTranspose3dBackwardInput(plan, y, buf, x), TypeError);
  assert.throws(() => convTranspose3dBackwardWeight(plan, x, y, buf, undefined), TypeError);
  done();
  buf.destroy();
});

gpuTest("convTranspose3d matches the reference on nnn-bench layer shapes", async (rt) => {
  // up2: 32 → 16 channels, 8³ → 16³; up1: 16 → 8 channels, 16³ → 32³, written into the first
  // half of the 16-channel concatenation buffer as the decoder does.
  await runCase(
    rt,
    { n: 1, cin: 32, cout: 16, d: 8, h: 8, w: 8, yPlace: { cTot: 32, cOff: 0 } },
    50,
  );
  await runCase(
    rt,
    { n: 1, cin: 16, cout: 8, d: 16, h: 16, w: 16, yPlace: { cTot: 16, cOff: 0 } },
    51,
  );
});

gpuTest(
  "convTranspose3d ops in depth slabs and channel chunks under a small binding limit agree with the unchunked ops",
  async (rt) => {
    // Odd volumes, batch 2, channel slices, accumulation, no bias; the CPU and the
    // discrete-GPU blockings. The limits (8–16 KiB) split every op into samples, depth slabs
    // and channel chunks (packs and unpacks also into channel ranges).
    const cases: [Case, number][] = [
      [{
        n: 2,
        cin: 5,
        cout: 7,
        d: 5,
        h: 3,
        w: 7,
        xPlace: { cTot: 6, cOff: 1 },
        yPlace: { cTot: 9, cOff: 2 },
      }, 16384],
      [{ n: 1, cin: 9, cout: 6, d: 5, h: 3, w: 5, accumulate: true, bias: false }, 8192],
      [{
        n: 2,
        cin: 6,
        cout: 5,
        d: 3,
        h: 3,
        w: 5,
        yPlace: { cTot: 7, cOff: 1 },
        accumulate: true,
        blocking: defaultTransposeBlocking(false),
        wgradBlocking: defaultTransposeWeightGradBlocking(false),
      }, 8192],
    ];
    let seed = 60;
    for (const [c, limit] of cases) {
      const d = await assertChunkedCase(rt, c, limit, seed++);
      console.log(
        `limit ${limit} ${JSON.stringify(c)}: max |chunked − unchunked| ${
          JSON.stringify({ ...d, kernels: undefined })
        }`,
      );
    }
  },
);

gpuTest(
  "convTranspose3d ops whose input, output and weights exceed a 32 KiB binding limit several times agree with the unchunked ops",
  async (rt) => {
    // x [1, 120, 10, 3, 7] = 98 KiB (3.1×), y [1, 28, 20, 6, 14] = 184 KiB (5.7×),
    // weights and their gradient [120, 28, 8] = 105 KiB (3.3×): the forward packs its
    // weights per chunk of output channels from aligned windows of input-channel rows, the
    // input gradient per chunk of input channels, and the weight gradient reduces into
    // aligned ranges of rows of dWeight.
    const c: Case = { n: 1, cin: 120, cout: 28, d: 10, h: 3, w: 7, accumulate: true };
    const limit = 32768;
    assert.ok(c.n * c.cin * c.d * c.h * c.w * 4 > 3 * limit);
    assert.ok(c.n * c.cout * 8 * c.d * c.h * c.w * 4 > 3 * limit);
    assert.ok(c.cin * c.cout * 8 * 4 > 3 * limit);
    const d = await assertChunkedCase(rt, c, limit, 70);
    console.log(
      `limit ${limit}: max |chunked − unchunked| ${JSON.stringify({ ...d, kernels: undefined })}`,
    );
    // The chunks this makes (CPU blockings): forward 4 chunks of output channels (8, 8, 8, 4;
    // 30 KiB of packed weights each), each packed from 4 windows of input-channel rows, over
    // 5 slabs of 2 input slices; input gradient 4 chunks of input channels (32, 32, 32, 24)
    // over 10 slabs; weight gradient 5 chunks of 24 input channels over 10 slabs, one record
    // chunk per slab, so 10 groups of 5 reductions.
    if (defaultTransposeBlocking(true).c === 8 && rt.device.adapterInfo?.isFallbackAdapter) {
      assert.deepEqual(
        ["convTranspose3dPackWeights", "convTranspose3dForward_c8h2w8g16", "convGradReduce"]
          .map((k) => d.kernels.get(k)),
        [4 * 4 + 4, 5 * 4, 10 * 5],
      );
      assert.equal(d.kernels.get("convTranspose3dWeightGrad_ci8co4g16"), 10 * 5);
      assert.equal(d.kernels.get("convTranspose3dBackwardInput_c8h2w8g16"), 10 * 4);
    }
  },
);

gpuTest("convTranspose3d ops refuse a binding limit that one block of channels exceeds", (rt) => {
  // 1 KiB: 8 output channels of packed weights (5·8·8 + 8 floats = 1,312 bytes), 8 input
  // channels of packed weights (7·8·8 + 8 floats) and one slice of the packed dy
  // (2·8·8·16 floats) each exceed it, so no split fits.
  const { plan, done } = newPlan(rt, { bindingLimit: 1024 });
  const xShape: Shape5 = [1, 5, 3, 3, 5];
  const yShape: Shape5 = [1, 7, 6, 6, 10];
  const x = rt.createBuffer(randomF32(xShape, new Rng(80)));
  const y = rt.createBuffer(randomF32(yShape, new Rng(81)));
  const w = rt.createBuffer(randomF32([5, 7, 8], new Rng(82)));
  const dw = rt.createBuffer(5 * 7 * 8 * 4);
  const xv = { buffer: x, shape: xShape };
  const yv = { buffer: y, shape: yShape };
  const limit = /binding limit is 1024/;
  assert.throws(() => convTranspose3dForward(plan, xv, w, undefined, yv), RangeError);
  assert.throws(() => convTranspose3dForward(plan, xv, w, undefined, yv), limit);
  assert.throws(() => convTranspose3dBackwardInput(plan, yv, w, xv), limit);
  assert.throws(() => convTranspose3dBackwardWeight(plan, xv, yv, dw, undefined), limit);
  done();
  for (const b of [x, y, w, dw]) b.destroy();
});
