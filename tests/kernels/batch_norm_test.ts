import assert from "node:assert/strict";
import * as ref from "../../lib/ref/batch_norm.ts";
import { batchNormBackward, batchNormForward } from "../../lib/gpu/ops/batch_norm.ts";
import type { Activation } from "../../lib/gpu/ops/instance_norm.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertView, destroyViews, inputView, newPlan, outputView } from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";
import { assertGradFd, dot } from "./_fd.ts";
import { ParamSlots } from "./_params.ts";

type Kind = "identity" | "leakyRelu" | "prelu";

// Tolerances as in instance_norm_test.ts (same kernels; groups span the batch here).
const Y_TOL = { rtol: 2e-6, atol: 2e-6 };
const DX_TOL = { rtol: 1e-5, atol: 2e-6 };
function sumTol(count: number) {
  return { rtol: 1e-6, atol: 1e-7 * count };
}
// The running update is two float32 multiply-adds of the statistics.
const RUN_TOL = { rtol: 2e-6, atol: 1e-7 };

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(31);
  const shapes: Shape5[] = [[1, 3, 5, 6, 7], [2, 5, 3, 4, 9], [2, 3, 7, 9, 11]];
  for (const shape of shapes) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const kind of ["identity", "leakyRelu", "prelu"] as Kind[]) {
      for (const training of [true, false]) {
        await _case(rt, rng, shape, kind, training, { cTot: shape[1] + 2, cOff: 1 }, false);
      }
    }
  }
  if (small) return;
  await _case(rt, rng, [2, 16, 16, 16, 16], "prelu", true, { cTot: 32, cOff: 16 }, true);
  await _case(rt, rng, [1, 5, 1, 1, 3], "leakyRelu", true, { cTot: 5, cOff: 0 }, false);
}

gpuTest(
  "batchNormForward and batchNormBackward match the float64 reference",
  (rt) => _reference(rt),
);

gpuTest(
  "batchNormForward and batchNormBackward match the float64 reference in row chunks under a 4 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(4096, () => _reference(rt, true)),
);

async function _case(
  rt: GpuRuntime,
  rng: Rng,
  shape: Shape5,
  kind: Kind,
  training: boolean,
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
  const rm = randomF32([c], rng, 0, 1);
  const rv = randomF32([c], rng, 0.5, 1.5);
  const prior = randomF32([3 * c], rng);
  const params = new ParamSlots(rt, { scale, shift, slope });
  const state = new ParamSlots(rt, { runningMean: rm, runningVar: rv });
  const grads = new ParamSlots(rt, {
    dscale: accumulate ? prior.subarray(0, c) : null,
    dshift: accumulate ? prior.subarray(c, 2 * c) : null,
    dslope: accumulate ? prior.subarray(2 * c) : null,
  }, c);
  const xv = inputView(rt, x, shape, place);
  const dyv = inputView(rt, dy, shape);
  const yv = outputView(rt, shape, { cTot: c + 1, cOff: 0 });
  const dxv = outputView(rt, shape, place);
  const activation: Activation = kind === "prelu"
    ? { kind, slope: params.range("slope") }
    : kind === "leakyRelu"
    ? { kind, slope: 0.2 }
    : { kind };
  const refAct: ref.RefBnActivation = kind === "prelu"
    ? { kind, slope }
    : kind === "leakyRelu"
    ? { kind, slope: 0.2 }
    : { kind };
  const { plan, done } = newPlan(rt);
  const saved = batchNormForward(plan, xv.view, yv.view, {
    scale: params.range("scale"),
    shift: params.range("shift"),
    runningMean: state.range("runningMean"),
    runningVar: state.range("runningVar"),
    training,
    momentum: 0.1,
    activation,
  });
  batchNormBackward(plan, xv.view, dyv.view, dxv.view, saved, {
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
  const opts = { training, runningMean: rm, runningVar: rv, momentum: 0.1, activation: refAct };
  const fwd = ref.batchNormForward(x, shape, scale, shift, opts);
  const bwd = ref.batchNormBackward(x, dy, shape, scale, shift, opts);
  const label = `${JSON.stringify(shape)} ${kind} ${training ? "train" : "eval"}`;
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
  // Training updates the running statistics once per run; inference leaves them alone.
  assertClose(await state.read("runningMean"), training ? fwd.runningMean! : rm, RUN_TOL);
  assertClose(await state.read("runningVar"), training ? fwd.runningVar! : rv, RUN_TOL);
  done();
  for (const p of [params, state, grads]) p.destroy();
  destroyViews(xv, dyv, yv, dxv);
}

gpuTest("batchNormForward refuses training with one value per channel", (rt) => {
  const { plan, done } = newPlan(rt);
  const b = rt.createBuffer(64);
  const v = { buffer: b, shape: [1, 2, 1, 1, 1] as Shape5 };
  assert.throws(
    () =>
      batchNormForward(plan, v, { buffer: rt.createBuffer(64), shape: v.shape }, {
        scale: b,
        shift: b,
      }),
    RangeError,
  );
  done();
});

Deno.test("reference batchNormBackward matches central finite differences", () => {
  const rng = new Rng(32);
  const shape = [2, 3, 2, 3, 2];
  const c = shape[1];
  const count = shape.reduce((a, b) => a * b, 1);
  for (const training of [true, false]) {
    for (const kind of ["identity", "leakyRelu", "prelu"] as Kind[]) {
      const x = Float64Array.from(randomF32([count], rng, -1, 2));
      const wts = Float64Array.from(randomF32([count], rng));
      const scale = Float64Array.from(randomF32([c], rng, 0.5, 1.5));
      const shift = Float64Array.from(randomF32([c], rng, -0.5, 0.5));
      const slope = Float64Array.from(randomF32([c], rng, 0.05, 0.3));
      const runningMean = Float64Array.from(randomF32([c], rng));
      const runningVar = Float64Array.from(randomF32([c], rng, 0.5, 1.5));
      const opts = (sl: ArrayLike<number>): ref.RefBatchNormOptions => ({
        training,
        runningMean,
        runningVar,
        activation: kind === "prelu"
          ? { kind, slope: sl }
          : kind === "leakyRelu"
          ? { kind, slope: 0.2 }
          : { kind },
      });
      const loss = (
        xv: ArrayLike<number>,
        sc: ArrayLike<number>,
        sh: ArrayLike<number>,
        sl: ArrayLike<number> = slope,
      ) => dot(ref.batchNormForward(xv, shape, sc, sh, opts(sl)).y, wts);
      const g = ref.batchNormBackward(x, wts, shape, scale, shift, opts(slope));
      const o = { rtol: 1e-5, atol: 1e-8 };
      const label = `${kind} ${training ? "train" : "eval"}`;
      assertGradFd((v) => loss(v, scale, shift), x, g.dx, { ...o, label: `dx ${label}` });
      assertGradFd((v) => loss(x, v, shift), scale, g.dscale, { ...o, label: `dscale ${label}` });
      assertGradFd((v) => loss(x, scale, v), shift, g.dshift, { ...o, label: `dshift ${label}` });
      if (kind === "prelu") {
        assertGradFd((v) => loss(x, scale, shift, v), slope, g.dslope, {
          ...o,
          label: `dslope ${label}`,
        });
      }
    }
  }
});
