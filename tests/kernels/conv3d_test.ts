/**
 * Conformance of the 3-D convolution kernels (`lib/gpu/ops/conv3d.ts`) with the float64
 * reference (`lib/ref/conv3d.ts`), and of the reference with float64 finite differences.
 *
 * Tolerances: a float32 result that sums `K` products of values in [−1, 1] carries a rounding
 * error of order `√K·ε·max|partial sum|` (ε = 6e-8), typically 1e-6…1e-5 here. We use
 * `rtol 1e-4` and `atol = 2e-6·√K` (`K` = terms per output): at least ~10× the errors seen on
 * llvmpipe, far below the O(1) errors of a wrong tap, channel or border.
 */

import assert from "node:assert/strict";
import * as ref from "../../lib/ref/conv3d.ts";
import type { RefConv3dShape } from "../../lib/ref/conv3d.ts";
import {
  conv3dBackwardInput,
  conv3dBackwardWeight,
  conv3dForward,
  type PackedActivation,
} from "../../lib/gpu/ops/conv3d.ts";
import {
  type ConvDirectBlocking,
  type ConvWeightGradBlocking,
  defaultDirectBlocking,
  defaultWeightGradBlocking,
} from "../../lib/gpu/kernels/conv3d.ts";
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

type K3 = [number, number, number];
const KERNELS: K3[] = [[3, 3, 3], [3, 3, 1], [1, 1, 1]];

function taps(k: K3): number {
  return k[0] * k[1] * k[2];
}

/** `atol` for outputs that sum `terms` products (see the module doc). */
function atolFor(terms: number): number {
  return 2e-6 * Math.sqrt(terms);
}

Deno.test("ref conv3d backward passes match float64 central finite differences", () => {
  const rng = new Rng(11);
  for (const kernel of [...KERNELS, [1, 3, 5] as K3]) {
    const s: RefConv3dShape = { n: 2, cin: 2, cout: 3, d: 3, h: 4, w: 5, kernel };
    const S = s.d * s.h * s.w;
    const x = randomF64([s.n, s.cin, S], rng);
    const w = randomF64([s.cout, s.cin, taps(kernel)], rng);
    const b = randomF64([s.cout], rng);
    const g = randomF64([s.n, s.cout, S], rng); // dL/dy of L = ⟨y, g⟩
    const dx = ref.conv3dBackwardInput(g, w, s);
    const { dWeight, dBias } = ref.conv3dBackwardWeight(x, g, s);
    const label = JSON.stringify(kernel);
    // L is linear in each argument, so central differences are exact up to rounding.
    const fd = { h: 1e-3, rtol: 1e-9, atol: 1e-10 };
    assertGradFd((v) => dot(ref.conv3dForward(v, w, b, s), g), x, dx, {
      ...fd,
      label: `dx ${label}`,
    });
    assertGradFd((v) => dot(ref.conv3dForward(x, v, b, s), g), w, dWeight, {
      ...fd,
      label: `dW ${label}`,
    });
    assertGradFd((v) => dot(ref.conv3dForward(x, w, v, s), g), b, dBias, {
      ...fd,
      label: `dB ${label}`,
    });
  }
});

Deno.test("ref conv3d satisfies the adjoint identity ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩", () => {
  const rng = new Rng(12);
  for (const kernel of KERNELS) {
    const s: RefConv3dShape = { n: 2, cin: 3, cout: 5, d: 5, h: 6, w: 7, kernel };
    const S = s.d * s.h * s.w;
    const x = randomF64([s.n, s.cin, S], rng);
    const y = randomF64([s.n, s.cout, S], rng);
    const w = randomF64([s.cout, s.cin, taps(kernel)], rng);
    const lhs = dot(ref.conv3dForward(x, w, undefined, s), y);
    const rhs = dot(x, ref.conv3dBackwardInput(y, w, s));
    assertClose(lhs, rhs, { rtol: 1e-12, atol: 1e-12 });
  }
});

Deno.test("ref conv3d rejects even kernels and short arrays", () => {
  const s: RefConv3dShape = { n: 1, cin: 1, cout: 1, d: 2, h: 2, w: 2, kernel: [2, 3, 3] };
  assert.throws(
    () => ref.conv3dForward(new Float64Array(8), new Float64Array(18), undefined, s),
    RangeError,
  );
  const t: RefConv3dShape = { ...s, kernel: [1, 1, 1] };
  assert.throws(
    () => ref.conv3dForward(new Float64Array(7), new Float64Array(1), undefined, t),
    RangeError,
  );
});

/** One GPU case: shapes, placements of every view, and whether dx accumulates. */
interface Case {
  n: number;
  cin: number;
  cout: number;
  d: number;
  h: number;
  w: number;
  kernel: K3;
  xPlace?: Placement;
  yPlace?: Placement;
  accumulate?: boolean;
  reusePacked?: boolean;
  bias?: boolean;
  /** Blockings other than the adapter's defaults. */
  blocking?: Partial<ConvDirectBlocking>;
  wgradBlocking?: Partial<ConvWeightGradBlocking>;
  /** Binding limit of the plan (small: the ops run in depth slabs). */
  bindingLimit?: number;
}

/** What {@linkcode runCase} computed, and how many dispatches the plan had. */
interface CaseResult {
  y: Float32Array;
  dx: Float32Array;
  dW: Float32Array;
  dB: Float32Array;
  dispatches: number;
}

async function runCase(
  rt: Parameters<Parameters<typeof gpuTest>[1]>[0],
  c: Case,
  seed: number,
): Promise<CaseResult> {
  const rng = new Rng(seed);
  const s: RefConv3dShape = { ...c };
  const S = c.d * c.h * c.w;
  const xShape: Shape5 = [c.n, c.cin, c.d, c.h, c.w];
  const yShape: Shape5 = [c.n, c.cout, c.d, c.h, c.w];
  const T = taps(c.kernel);
  const x = randomF32(xShape, rng);
  const dyHost = randomF32(yShape, rng);
  const w = randomF32([c.cout, c.cin, T], rng);
  const b = randomF32([c.cout], rng);
  const dxBefore = randomF32(xShape, rng);
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
  const bias = c.bias ?? true;
  const fwd = conv3dForward(plan, xv.view, wb, bias ? bb : undefined, yv.view, {
    kernel: c.kernel,
    blocking: c.blocking,
  });
  conv3dBackwardInput(plan, dyv.view, wb, dxv.view, {
    kernel: c.kernel,
    accumulate: c.accumulate,
    blocking: c.blocking,
  });
  const packedInput: PackedActivation | undefined = c.reusePacked ? fwd.packedInput : undefined;
  conv3dBackwardWeight(plan, xv.view, dyv.view, dwb, bias ? dbb : undefined, {
    kernel: c.kernel,
    packedInput,
    blocking: c.wgradBlocking,
  });
  await plan.run();
  await rt.checkCompilation();
  const label = JSON.stringify(c);
  const yRef = ref.conv3dForward(x, w, bias ? b : undefined, s);
  const out: CaseResult = {
    y: await readView(rt, yv),
    dx: await readView(rt, dxv),
    dW: await rt.read(dwb, w.length * 4),
    dB: await rt.read(dbb, c.cout * 4),
    dispatches: plan.dispatches.length,
  };
  assertClose(out.y, yRef, {
    rtol: 1e-4,
    atol: atolFor(c.cin * T),
    label: `y ${label}`,
  });
  const dxRef = ref.conv3dBackwardInput(dyHost, w, s);
  if (c.accumulate) { for (let i = 0; i < dxRef.length; i++) dxRef[i] += dxBefore[i]; }
  assertClose(out.dx, dxRef, {
    rtol: 1e-4,
    atol: atolFor(c.cout * T),
    label: `dx ${label}`,
  });
  const g = ref.conv3dBackwardWeight(x, dyHost, s);
  assertClose(out.dW, g.dWeight, {
    rtol: 1e-4,
    atol: atolFor(c.n * S),
    label: `dW ${label}`,
  });
  const db = out.dB;
  if (bias) {
    assertClose(db, g.dBias, { rtol: 1e-4, atol: atolFor(c.n * S), label: `dB ${label}` });
  } else {
    assert.ok(db.every((v) => Number.isNaN(v)), "dBias was written without a bias");
  }
  done();
  destroyViews(xv, dyv, yv, dxv);
  for (const buf of [wb, bb, dwb, dbb]) buf.destroy();
  return out;
}

gpuTest(
  "conv3d ops in depth slabs under a small binding limit agree with the unchunked ops",
  async (rt) => {
    // The limits force the slab paths (per sample, per depth slab, per channel range of the
    // packs and unpacks; the chunked runs have more dispatches). Forward and input gradient
    // compute every output with the same sums in the same order: bit-identical. The weight
    // gradient's partial sums end at other rows, so it agrees within float32 rounding: the
    // reference tolerance (rtol 1e-4, atol 2e-6·√(N·D·H·W)), checked inside runCase, and
    // rtol 1e-5 + atol 1e-6·√(N·D·H·W) against the unchunked result.
    let seed = 700;
    const cases: [Case, number][] = [];
    for (const kernel of KERNELS) {
      cases.push([{
        n: 2,
        cin: 3,
        cout: 5,
        d: 5,
        h: 6,
        w: 7,
        kernel,
        xPlace: { cTot: 6, cOff: 2 },
        yPlace: { cTot: 9, cOff: 3 },
      }, 8192]);
      cases.push([{
        n: 1,
        cin: 4,
        cout: 8,
        d: 9,
        h: 4,
        w: 8,
        kernel,
        accumulate: true,
        reusePacked: true,
        bias: kernel[0] === 3,
      }, 8192]);
    }
    for (const [c, bindingLimit] of cases) {
      const s = seed++;
      const a = await runCase(rt, c, s);
      const b = await runCase(rt, { ...c, bindingLimit }, s);
      const label = JSON.stringify({ ...c, bindingLimit });
      assert.ok(b.dispatches > a.dispatches, `no slabs were made for ${label}`);
      assert.deepEqual(b.y, a.y, `y ${label}`);
      assert.deepEqual(b.dx, a.dx, `dx ${label}`);
      const atol = 1e-6 * Math.sqrt(c.n * c.d * c.h * c.w);
      assertClose(b.dW, a.dW, { rtol: 1e-5, atol, label: `dW ${label}` });
      if (c.bias ?? true) assertClose(b.dB, a.dB, { rtol: 1e-5, atol, label: `dB ${label}` });
    }
  },
);

gpuTest("conv3d forward and backward match the float64 reference on odd shapes", async (rt) => {
  let seed = 100;
  for (const kernel of KERNELS) {
    // Batch 2, channels not a multiple of 4, odd volume, both outputs in channel slices.
    await runCase(rt, {
      n: 2,
      cin: 3,
      cout: 5,
      d: 5,
      h: 6,
      w: 7,
      kernel,
      xPlace: { cTot: 6, cOff: 2 },
      yPlace: { cTot: 9, cOff: 3 },
    }, seed++);
    // Batch 1, channels a multiple of 4, accumulated input gradient, packed input reused.
    await runCase(rt, {
      n: 1,
      cin: 4,
      cout: 8,
      d: 3,
      h: 5,
      w: 9,
      kernel,
      accumulate: true,
      reusePacked: true,
    }, seed++);
    // Tile-aligned volume (H % 4 = 0, W % 8 = 0, Cout % 8 = 0): the kernel stores straight
    // into the (sliced) output view; no bias.
    await runCase(rt, {
      n: 2,
      cin: 5,
      cout: 8,
      d: 3,
      h: 4,
      w: 8,
      kernel,
      xPlace: { cTot: 8, cOff: 3 },
      yPlace: { cTot: 16, cOff: 8 },
      accumulate: true,
      bias: false,
    }, seed++);
  }
});

gpuTest("conv3d kernels are correct with the discrete-GPU blockings", async (rt) => {
  // The blockings chosen on non-CPU adapters (and a few others) compiled and checked here.
  let seed = 200;
  const variants: [Partial<ConvDirectBlocking>, Partial<ConvWeightGradBlocking>][] = [
    [defaultDirectBlocking(false), defaultWeightGradBlocking(false)],
    [{ co: 4, ph: 2, pw: 4 }, { co: 3, ph: 4, pw: 4 }],
  ];
  for (const [blocking, wgradBlocking] of variants) {
    for (const kernel of [[3, 3, 3], [1, 1, 1]] as K3[]) {
      await runCase(rt, {
        n: 2,
        cin: 3,
        cout: 5,
        d: 3,
        h: 5,
        w: 7,
        kernel,
        yPlace: { cTot: 7, cOff: 1 },
        accumulate: true,
        blocking,
        wgradBlocking,
      }, seed++);
      await runCase(rt, {
        n: 1,
        cin: 4,
        cout: 8,
        d: 2,
        h: 4,
        w: 8,
        kernel,
        blocking,
        wgradBlocking,
      }, seed++);
    }
  }
});

Deno.test("the CPU conv blockings take 16 channels only on large layers that pad little", () => {
  const blocks = (n: number, d: number, h: number, w: number) =>
    n * d * Math.ceil(h / 4) * Math.ceil(w / 8);
  // BRATS at 48×80×80, levels 0–3 (30, 60, 120, 240 channels; 90, 180, 360, 720 entering
  // the decoder): 16 channels per invocation.
  for (const [c, s] of [[30, 80], [90, 80], [60, 40], [180, 40], [120, 20], [240, 10]]) {
    const b = defaultDirectBlocking(true, c, { blocks: blocks(1, (48 * s) / 80, s, s) });
    assert.equal(b.co, 16, `${c} channels at ${s}`);
    const g = defaultWeightGradBlocking(true, c, { blocks: blocks(1, (48 * s) / 80, s, s) });
    assert.equal(g.co, 16, `weight gradient, ${c} channels at ${s}`);
  }
  // nnn-bench at B = 1 (8–32 channels, 32³–8³) keeps 8 except for 16 channels at 32³ (the
  // input gradient of dec1a); so do 8 or 24 channels (padding to 16 costs more than the larger
  // block gains), an unknown volume, and non-CPU adapters.
  assert.equal(defaultDirectBlocking(true, 16, { blocks: blocks(1, 32, 32, 32) }).co, 16);
  for (const [c, s] of [[8, 32], [16, 16], [32, 16], [32, 8]]) {
    assert.equal(defaultDirectBlocking(true, c, { blocks: blocks(1, s, s, s) }).co, 8, `${c}@${s}`);
    const g = defaultWeightGradBlocking(true, c, { blocks: blocks(1, s, s, s) });
    assert.equal(g.co, 8, `weight gradient ${c}@${s}`);
  }
  assert.equal(defaultDirectBlocking(true, 8, { blocks: 1e6 }).co, 8);
  assert.equal(defaultDirectBlocking(true, 24, { blocks: 1e6 }).co, 8);
  assert.equal(defaultDirectBlocking(true, 32).co, 8);
  assert.equal(defaultDirectBlocking(false, 32, { blocks: 1e6 }).co, 8);
  assert.equal(defaultDirectBlocking(true, 4, { blocks: 1e6 }).co, 4);
});

Deno.test("the CPU direct blocking takes two depths on large 16-channel layers", () => {
  const opts = (d: number, h: number, w: number) => ({
    blocks: d * Math.ceil(h / 4) * Math.ceil(w / 8),
    depth: d,
  });
  // BRATS levels 0–2 (48–12 slices deep) take two depths; level 3 (6×10×10, too few
  // invocations), 3 or 5 slices (the padded slice costs more), 8 channels, an unknown depth and
  // non-CPU adapters take one.
  for (const [c, d, s] of [[30, 48, 80], [90, 48, 80], [60, 24, 40], [120, 12, 20]]) {
    assert.equal(defaultDirectBlocking(true, c, opts(d, s, s)).pd, 2, `${c}@${d}`);
  }
  for (const [c, d, s] of [[240, 6, 10], [480, 3, 5], [30, 3, 400], [30, 5, 400], [8, 48, 80]]) {
    assert.equal(defaultDirectBlocking(true, c, opts(d, s, s)).pd, 1, `${c}@${d}×${s}`);
  }
  assert.equal(defaultDirectBlocking(true, 30, { blocks: 1e6 }).pd, 1);
  assert.equal(defaultDirectBlocking(false, 30, opts(48, 80, 80)).pd ?? 1, 1);
});

gpuTest(
  "conv3d is correct with the 16-channel CPU blocking, unchunked and in slabs",
  async (rt) => {
    // Two 16-channel blocks (18 → 32 padded), odd volume, channel slices, accumulated dx; then
    // the same ops in depth slabs: forward and input gradient bit-identical.
    const c: Case = {
      n: 2,
      cin: 18,
      cout: 18,
      d: 3,
      h: 5,
      w: 9,
      kernel: [3, 3, 3],
      xPlace: { cTot: 20, cOff: 1 },
      yPlace: { cTot: 21, cOff: 3 },
      accumulate: true,
      blocking: { co: 16 },
    };
    const a = await runCase(rt, c, 900);
    const b = await runCase(rt, { ...c, bindingLimit: 65536 }, 900);
    assert.ok(b.dispatches > a.dispatches, "no slabs were made");
    assert.deepEqual(b.y, a.y);
    assert.deepEqual(b.dx, a.dx);
  },
);

gpuTest(
  "conv3d is correct with two output depths per invocation, unchunked and in slabs",
  async (rt) => {
    // Odd depth (the last block has one slice), 12 → 16 padded channels, odd H and W, channel
    // slices, accumulated dx; in depth slabs (of odd depth too) and against one depth per
    // invocation: forward and input gradient bit-identical (same sums in the same order).
    const c: Case = {
      n: 2,
      cin: 12,
      cout: 12,
      d: 7,
      h: 5,
      w: 9,
      kernel: [3, 3, 3],
      xPlace: { cTot: 14, cOff: 1 },
      yPlace: { cTot: 15, cOff: 2 },
      accumulate: true,
      blocking: { co: 8, pd: 2 },
    };
    const a = await runCase(rt, c, 910);
    const b = await runCase(rt, { ...c, bindingLimit: 32768 }, 910);
    const one = await runCase(rt, { ...c, blocking: { co: 8, pd: 1 } }, 910);
    assert.ok(b.dispatches > a.dispatches, "no slabs were made");
    assert.deepEqual(b.y, a.y);
    assert.deepEqual(b.dx, a.dx);
    assert.deepEqual(one.y, a.y);
    assert.deepEqual(one.dx, a.dx);
  },
);

gpuTest("conv3d ops read and write channel slices of one buffer", async (rt) => {
  // x = channels [0, 3) and y = channels [3, 11) of one 11-channel buffer (as in a
  // concatenation), for a 3×3×3 and an aligned 1×1×1 kernel (whose input would otherwise be
  // read in place); then dx written into channels [0, 3) from dy = channels [3, 11).
  const rng = new Rng(500);
  for (const kernel of [[3, 3, 3], [1, 1, 1]] as K3[]) {
    const s: RefConv3dShape = { n: 2, cin: 3, cout: 8, d: 2, h: 4, w: 8, kernel };
    const S = s.d * s.h * s.w;
    const full = randomF32([2, 11, S], rng);
    const w = randomF32([8, 3, taps(kernel)], rng);
    const buf = rt.createBuffer(full);
    const wb = rt.createBuffer(w);
    const x = {
      buffer: buf,
      shape: [2, 3, 2, 4, 8] as Shape5,
      channelStride: 11,
      channelOffset: 0,
    };
    const y = { ...x, shape: [2, 8, 2, 4, 8] as Shape5, channelOffset: 3 };
    const xHost = new Float32Array(2 * 3 * S);
    for (let n = 0; n < 2; n++) xHost.set(full.subarray(n * 11 * S, (n * 11 + 3) * S), n * 3 * S);
    let plan = newPlan(rt);
    conv3dForward(plan.plan, x, wb, undefined, y, { kernel });
    await plan.plan.run();
    plan.done();
    const after = await rt.read(buf, full.length * 4);
    const yRef = ref.conv3dForward(xHost, w, undefined, s);
    const yGot = new Float32Array(2 * 8 * S);
    for (let n = 0; n < 2; n++) {
      yGot.set(after.subarray((n * 11 + 3) * S, (n * 11 + 11) * S), n * 8 * S);
    }
    assertClose(yGot, yRef, { rtol: 1e-4, atol: atolFor(3 * taps(kernel)), label: "y" });
    plan = newPlan(rt);
    conv3dBackwardInput(plan.plan, y, wb, x, { kernel });
    await plan.plan.run();
    plan.done();
    const final = await rt.read(buf, full.length * 4);
    const dxGot = new Float32Array(2 * 3 * S);
    for (let n = 0; n < 2; n++) dxGot.set(final.subarray(n * 11 * S, (n * 11 + 3) * S), n * 3 * S);
    assertClose(dxGot, ref.conv3dBackwardInput(yGot, w, s), {
      rtol: 1e-4,
      atol: atolFor(8 * taps(kernel)),
      label: "dx",
    });
    buf.destroy();
    wb.destroy();
  }
});

gpuTest("conv3d GPU kernels satisfy the adjoint identity", async (rt) => {
  const rng = new Rng(21);
  for (const kernel of KERNELS) {
    const xShape: Shape5 = [2, 3, 5, 6, 7];
    const yShape: Shape5 = [2, 6, 5, 6, 7];
    const x = randomF32(xShape, rng);
    const y = randomF32(yShape, rng);
    const w = randomF32([6, 3, taps(kernel)], rng);
    const xb = rt.createBuffer(x);
    const yb = rt.createBuffer(y);
    const wb = rt.createBuffer(w);
    const cx = rt.createBuffer(poisoned(y.length));
    const ty = rt.createBuffer(poisoned(x.length));
    const { plan, done } = newPlan(rt);
    conv3dForward(
      plan,
      { buffer: xb, shape: xShape },
      wb,
      undefined,
      { buffer: cx, shape: yShape },
      {
        kernel,
      },
    );
    conv3dBackwardInput(plan, { buffer: yb, shape: yShape }, wb, { buffer: ty, shape: xShape }, {
      kernel,
    });
    await plan.run();
    const convX = await rt.read(cx, y.length * 4);
    const convTY = await rt.read(ty, x.length * 4);
    const lhs = dot(convX, y);
    const rhs = dot(x, convTY);
    // Both sides sum ~2·10³ float32 products of O(√K) values; compare relative to the scale.
    const scale = Math.sqrt(dot(convX, convX) * dot(y, y));
    assertClose(lhs, rhs, { rtol: 0, atol: 1e-5 * scale, label: JSON.stringify(kernel) });
    done();
    for (const b of [xb, yb, wb, cx, ty]) b.destroy();
  }
});

gpuTest("conv3d ops reject mismatched shapes and even kernels", (rt) => {
  const { plan, done } = newPlan(rt);
  const buf = rt.createBuffer(4096);
  const x = { buffer: buf, shape: [1, 2, 4, 4, 4] as Shape5 };
  const y = { buffer: buf, shape: [1, 2, 4, 4, 5] as Shape5 };
  assert.throws(
    () => conv3dForward(plan, x, buf, undefined, y, { kernel: [3, 3, 3] }),
    TypeError,
  );
  assert.throws(
    () => conv3dForward(plan, x, buf, undefined, x, { kernel: [2, 3, 3] }),
    RangeError,
  );
  const small = rt.createBuffer(16);
  assert.throws(
    () => conv3dForward(plan, x, small, undefined, x, { kernel: [3, 3, 3] }),
    TypeError,
  );
  assert.throws(
    () => conv3dBackwardWeight(plan, x, x, buf, buf, { kernel: [1, 1, 1] }),
    TypeError,
  );
  done();
  buf.destroy();
  small.destroy();
});

gpuTest("conv3d matches the reference on nnn-bench layer shapes at 32³", async (rt) => {
  // dec1a (16 → 8, the largest layer), enc1b (8 → 8) writing its output into the skip half
  // of a concatenation buffer, and enc1a (1 → 8, the first layer).
  let seed = 300;
  for (
    const c of [
      { cin: 16, cout: 8 },
      { cin: 8, cout: 8, yPlace: { cTot: 16, cOff: 8 } },
      { cin: 1, cout: 8 },
    ]
  ) {
    await runCase(rt, {
      n: 1,
      d: 32,
      h: 32,
      w: 32,
      kernel: [3, 3, 3],
      reusePacked: true,
      ...c,
    }, seed++);
  }
});

gpuTest(
  "conv3dBackwardWeight stays accurate over a 2×48×96×96 volume of positive values",
  async (rt) => {
    // All terms positive (no cancellation to hide drift); each weight sums ≈ 8.8·10⁵ products.
    // Running float32 sums cover at most 16,384 products per chunk and the chunks are added
    // with compensation, so the relative error stays near √(16,384)·ε ≈ 1e-5.
    const rng = new Rng(400);
    const s: RefConv3dShape = { n: 2, cin: 1, cout: 2, d: 48, h: 96, w: 96, kernel: [3, 3, 3] };
    const xShape: Shape5 = [2, 1, 48, 96, 96];
    const yShape: Shape5 = [2, 2, 48, 96, 96];
    const x = randomF32(xShape, rng, 0, 1);
    const dy = randomF32(yShape, rng, 0, 1);
    const xb = rt.createBuffer(x);
    const dyb = rt.createBuffer(dy);
    const dwb = rt.createBuffer(poisoned(2 * 27));
    const dbb = rt.createBuffer(poisoned(2));
    const { plan, done } = newPlan(rt);
    conv3dBackwardWeight(
      plan,
      { buffer: xb, shape: xShape },
      { buffer: dyb, shape: yShape },
      dwb,
      dbb,
      {
        kernel: [3, 3, 3],
      },
    );
    await plan.run();
    const g = ref.conv3dBackwardWeight(x, dy, s);
    assertClose(await rt.read(dwb, 2 * 27 * 4), g.dWeight, { rtol: 1e-5, atol: 0, label: "dW" });
    assertClose(await rt.read(dbb, 8), g.dBias, { rtol: 1e-5, atol: 0, label: "dB" });
    done();
    for (const b of [xb, dyb, dwb, dbb]) b.destroy();
  },
);
