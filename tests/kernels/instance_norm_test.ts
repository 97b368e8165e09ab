import assert from "node:assert/strict";
import * as ref from "../../lib/ref/instance_norm.ts";
import {
  type Activation,
  instanceNormBackward,
  instanceNormForward,
} from "../../lib/gpu/ops/instance_norm.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertView, destroyViews, inputView, newPlan, outputView, placements } from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";
import { assertGradFd, dot } from "./_fd.ts";
import { ParamSlots } from "./_params.ts";

type Kind = "identity" | "leakyRelu" | "prelu";

// Tolerances (ε = 2⁻²⁴ ≈ 6e-8). The statistics are within a few ε relative
// (segment_sum_test), so x̂ and y carry a few ε relative error on O(1) values: 2e-6 leaves a
// wide margin (observed ≤ 0.1 of it). dx subtracts two group means from dz, so its absolute
// error is a few ε times γ/σ·max|dz| ≈ 1e-6 for these O(1) inputs. The parameter gradients are
// sums over N·D·H·W terms of O(1), each with ≲ 1e-7 error (x̂ above, one product), adding at
// most linearly: 1e-7·count (compensated summation adds nothing comparable).
const Y_TOL = { rtol: 2e-6, atol: 2e-6 };
const DX_TOL = { rtol: 1e-5, atol: 2e-6 };
function sumTol(count: number) {
  return { rtol: 1e-6, atol: 1e-7 * count };
}

function refActivation(kind: Kind, slope: Float32Array): ref.RefActivation {
  if (kind === "leakyRelu") return { kind, slope: 0.1 };
  if (kind === "prelu") return { kind, slope };
  return { kind };
}

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(21);
  const shapes: Shape5[] = [[1, 3, 5, 6, 7], [2, 5, 3, 4, 9], [1, 3, 7, 9, 11]];
  for (const shape of shapes) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const kind of ["identity", "leakyRelu", "prelu"] as Kind[]) {
      for (const place of placements(shape[1])) {
        await _case(rt, rng, shape, kind, place, false);
      }
    }
  }
  if (small) return;
  // Benchmark-sized: several chunks per segment; accumulating parameter gradients.
  await _case(rt, rng, [2, 8, 32, 32, 32], "leakyRelu", { cTot: 16, cOff: 8 }, true);
  await _case(rt, rng, [2, 3, 9, 16, 17], "prelu", { cTot: 3, cOff: 0 }, true);
}

gpuTest(
  "instanceNormForward and instanceNormBackward match the float64 reference",
  (rt) => _reference(rt),
);

gpuTest(
  "instanceNormForward and instanceNormBackward match the float64 reference in row chunks under a 4 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(4096, () => _reference(rt, true)),
);

async function _case(
  rt: GpuRuntime,
  rng: Rng,
  shape: Shape5,
  kind: Kind,
  place: { cTot: number; cOff: number },
  accumulate: boolean,
): Promise<void> {
  const [n, c, d, h, w] = shape;
  const count = n * c * d * h * w;
  const x = randomF32([count], rng, -1, 2);
  const dy = randomF32([count], rng);
  const scale = randomF32([c], rng, 0.5, 1.5);
  const shift = randomF32([c], rng, -0.5, 0.5);
  const slope = randomF32([c], rng, 0.05, 0.3);
  const prior = randomF32([3 * c], rng);
  const act = refActivation(kind, slope);
  const params = new ParamSlots(rt, { scale, shift, slope });
  const grads = new ParamSlots(rt, {
    dscale: accumulate ? prior.subarray(0, c) : null,
    dshift: accumulate ? prior.subarray(c, 2 * c) : null,
    dslope: accumulate ? prior.subarray(2 * c) : null,
  }, c);
  const xv = inputView(rt, x, shape, place);
  const dyv = inputView(rt, dy, shape, { cTot: c + 1, cOff: 1 });
  const yv = outputView(rt, shape, { cTot: place.cTot + 2, cOff: place.cOff + 1 });
  const dxv = outputView(rt, shape, place);
  const activation: Activation = kind === "prelu"
    ? { kind, slope: params.range("slope") }
    : kind === "leakyRelu"
    ? { kind, slope: 0.1 }
    : { kind };
  const { plan, done } = newPlan(rt);
  const saved = instanceNormForward(plan, xv.view, yv.view, {
    scale: params.range("scale"),
    shift: params.range("shift"),
    activation,
  });
  instanceNormBackward(plan, xv.view, dyv.view, dxv.view, saved, {
    scale: params.range("scale"),
    shift: params.range("shift"),
    dscale: grads.range("dscale"),
    dshift: grads.range("dshift"),
    dslope: kind === "prelu" ? grads.range("dslope") : undefined,
    activation,
    accumulate,
  });
  await plan.run();
  await rt.checkCompilation();
  const label = `${JSON.stringify(shape)} ${kind} cOff ${place.cOff}`;
  const fwd = ref.instanceNormForward(x, shape, scale, shift, { activation: act });
  const bwd = ref.instanceNormBackward(x, dy, shape, scale, shift, { activation: act });
  await assertView(rt, yv, fwd.y, { ...Y_TOL, label: `y ${label}` });
  await assertView(rt, dxv, bwd.dx, { ...DX_TOL, label: `dx ${label}` });
  const plus = (a: Float64Array, off: number) =>
    accumulate ? a.map((v, i) => v + prior[off + i]) : a;
  const tol = sumTol(n * d * h * w);
  assertClose(await grads.read("dscale"), plus(bwd.dscale, 0), {
    ...tol,
    label: `dscale ${label}`,
  });
  assertClose(await grads.read("dshift"), plus(bwd.dshift, c), {
    ...tol,
    label: `dshift ${label}`,
  });
  if (kind === "prelu") {
    assertClose(await grads.read("dslope"), plus(bwd.dslope, 2 * c), {
      ...tol,
      label: `dslope ${label}`,
    });
  }
  done();
  params.destroy();
  grads.destroy();
  destroyViews(xv, dyv, yv, dxv);
}

gpuTest("instanceNormForward validates before pushing anything", (rt) => {
  const { plan, done } = newPlan(rt);
  const shape: Shape5 = [1, 2, 3, 4, 5];
  const b = rt.createBuffer(120 * 8);
  const p = rt.createBuffer(64);
  const x = { buffer: b, shape, channelStride: 4, channelOffset: 0 };
  const y = { buffer: b, shape, channelStride: 4, channelOffset: 2 };
  // y in x's buffer: WebGPU cannot bind it read-only and writable in one dispatch.
  assert.throws(() => instanceNormForward(plan, x, y, { scale: p, shift: p }), TypeError);
  // A scale too small for 2 channels.
  const y2 = { buffer: rt.createBuffer(120 * 4), shape };
  assert.throws(
    () => instanceNormForward(plan, x, y2, { scale: { buffer: p, size: 4 }, shift: p }),
    TypeError,
  );
  assert.equal(plan.dispatches.length, 0);
  done();
  for (const buf of [b, p, y2.buffer]) buf.destroy();
});

Deno.test("reference instanceNormBackward matches central finite differences", () => {
  const rng = new Rng(22);
  const shape = [2, 3, 2, 3, 2];
  const [n, c] = shape;
  const count = shape.reduce((a, b) => a * b, 1);
  for (const kind of ["identity", "leakyRelu", "prelu"] as Kind[]) {
    const x = Float64Array.from(randomF32([count], rng, -1, 2));
    const wts = Float64Array.from(randomF32([count], rng));
    const scale = Float64Array.from(randomF32([c], rng, 0.5, 1.5));
    const shift = Float64Array.from(randomF32([c], rng, -0.5, 0.5));
    const slope = Float64Array.from(randomF32([c], rng, 0.05, 0.3));
    const act = (sl: ArrayLike<number>): ref.RefActivation =>
      kind === "prelu" ? { kind, slope: sl } : kind === "leakyRelu" ? { kind, slope: 0.1 } : {
        kind,
      };
    // L = Σ y·w, so dL/dy = w.
    const loss = (
      xv: ArrayLike<number>,
      sc: ArrayLike<number>,
      sh: ArrayLike<number>,
      sl: ArrayLike<number> = slope,
    ) => dot(ref.instanceNormForward(xv, shape, sc, sh, { activation: act(sl) }).y, wts);
    const g = ref.instanceNormBackward(x, wts, shape, scale, shift, { activation: act(slope) });
    // Mean-subtracted gradients are O(1)·1e-2 here; h = 1e-5 keeps truncation at ~1e-10.
    const opts = { rtol: 1e-5, atol: 1e-8 };
    assertGradFd((v) => loss(v, scale, shift), x, g.dx, { ...opts, label: `dx ${kind}` });
    assertGradFd((v) => loss(x, v, shift), scale, g.dscale, { ...opts, label: `dscale ${kind}` });
    assertGradFd((v) => loss(x, scale, v), shift, g.dshift, { ...opts, label: `dshift ${kind}` });
    if (kind === "prelu") {
      assertGradFd((v) => loss(x, scale, shift, v), slope, g.dslope, { ...opts, label: "dslope" });
    }
    void n;
  }
});
