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
}

async function runCase(rt: GpuRuntime, c: Case, seed: number): Promise<void> {
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
  const { plan, done } = newPlan(rt);
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
  assertClose(await readView(rt, yv), ref.convTranspose3dForward(x, w, bias ? b : undefined, s), {
    rtol: 1e-4,
    atol: atolFor(c.cin),
    label: `y ${label}`,
  });
  const dxRef = ref.convTranspose3dBackwardInput(dyHost, w, s);
  if (c.accumulate) { for (let i = 0; i < dxRef.length; i++) dxRef[i] += dxBefore[i]; }
  assertClose(await readView(rt, dxv), dxRef, {
    rtol: 1e-4,
    atol: atolFor(8 * c.cout),
    label: `dx ${label}`,
  });
  const g = ref.convTranspose3dBackwardWeight(x, dyHost, s);
  assertClose(await rt.read(dwb, w.length * 4), g.dWeight, {
    rtol: 1e-4,
    atol: atolFor(c.n * S),
    label: `dW ${label}`,
  });
  const db = await rt.read(dbb, c.cout * 4);
  if (bias) {
    assertClose(db, g.dBias, { rtol: 1e-4, atol: atolFor(8 * c.n * S), label: `dB ${label}` });
  } else {
    assert.ok(db.every((v) => Number.isNaN(v)), "dBias was written without a bias");
  }
  done();
  destroyViews(xv, dyv, yv, dxv);
  for (const buf of [wb, bb, dwb, dbb]) buf.destroy();
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
