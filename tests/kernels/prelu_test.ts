import * as ref from "../../lib/ref/prelu.ts";
import { preluBackward, preluForward } from "../../lib/gpu/ops/prelu.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertView, destroyViews, inputView, newPlan, outputView, placements } from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";
import { assertGradFd, dot } from "./_fd.ts";
import { ParamSlots } from "./_params.ts";

// dx and y: one float32 product per element. dslope: a compensated sum of `count` products of
// O(1) values, each rounded once (≤ ε ≈ 6e-8 relative): ≤ 1e-7·count absolute.
const TOL = { rtol: 1e-6, atol: 0 };

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(41);
  const shapes: Shape5[] = [[1, 3, 5, 6, 7], [2, 5, 3, 4, 9], [2, 7, 9, 11, 13], [
    2,
    6,
    16,
    16,
    16,
  ]];
  for (const shape of shapes) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const place of placements(shape[1])) {
      for (const accumulate of [false, true]) {
        const [n, c, d, h, w] = shape;
        const count = n * c * d * h * w;
        const x = randomF32([count], rng);
        const dy = randomF32([count], rng);
        const slope = randomF32([c], rng, 0.05, 0.5);
        const prior = randomF32([c], rng);
        const params = new ParamSlots(rt, { other: [1, 2, 3], slope });
        const grads = new ParamSlots(rt, { dslope: accumulate ? prior : null }, c);
        const xv = inputView(rt, x, shape, place);
        const dyv = inputView(rt, dy, shape, { cTot: c + 2, cOff: 2 });
        const yv = outputView(rt, shape, { cTot: c + 1, cOff: 1 });
        const dxv = outputView(rt, shape, place);
        const { plan, done } = newPlan(rt);
        preluForward(plan, xv.view, yv.view, { slope: params.range("slope") });
        preluBackward(plan, xv.view, dyv.view, dxv.view, {
          slope: params.range("slope"),
          dslope: grads.range("dslope"),
          accumulate,
        });
        await plan.run();
        await rt.checkCompilation();
        const label = `${JSON.stringify(shape)} cOff ${place.cOff}`;
        const bwd = ref.preluBackward(x, dy, shape, slope);
        await assertView(rt, yv, ref.preluForward(x, shape, slope), { ...TOL, label });
        await assertView(rt, dxv, bwd.dx, { ...TOL, label });
        const expected = accumulate ? bwd.dslope.map((v, i) => v + prior[i]) : bwd.dslope;
        assertClose(await grads.read("dslope"), expected, {
          rtol: 1e-6,
          atol: 1e-7 * n * d * h * w,
          label,
        });
        done();
        params.destroy();
        grads.destroy();
        destroyViews(xv, dyv, yv, dxv);
      }
    }
  }
}

gpuTest(
  "preluForward and preluBackward match the float64 reference on views",
  (rt) => _reference(rt),
);

gpuTest(
  "preluForward and preluBackward match the float64 reference on views in row chunks under a 4 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(4096, () => _reference(rt, true)),
);

gpuTest("preluForward and preluBackward work in place", async (rt) => {
  const rng = new Rng(42);
  const shape: Shape5 = [2, 3, 5, 4, 3];
  const count = 2 * 3 * 5 * 4 * 3;
  const x = randomF32([count], rng);
  const dy = randomF32([count], rng);
  const slope = randomF32([3], rng, 0.05, 0.5);
  const sl = rt.createBuffer(slope);
  const ds = rt.createBuffer(new Float32Array(3).fill(NaN));
  const xv = inputView(rt, x, shape);
  const x2 = inputView(rt, x, shape);
  const g = inputView(rt, dy, shape);
  const { plan, done } = newPlan(rt);
  preluForward(plan, xv.view, xv.view, { slope: sl });
  preluBackward(plan, x2.view, g.view, g.view, { slope: sl, dslope: ds });
  await plan.run();
  const bwd = ref.preluBackward(x, dy, shape, slope);
  await assertView(rt, xv, ref.preluForward(x, shape, slope), TOL);
  await assertView(rt, g, bwd.dx, TOL);
  assertClose(await rt.read(ds, 12), bwd.dslope, { rtol: 1e-6, atol: 1e-7 * 120 });
  done();
  destroyViews(xv, x2, g);
  sl.destroy();
  ds.destroy();
});

Deno.test("reference preluBackward matches central finite differences", () => {
  const rng = new Rng(43);
  const shape = [2, 3, 2, 2, 3];
  const count = 72;
  // Inputs away from the hinge at 0.
  const x = Float64Array.from(
    { length: count },
    () => (rng.float() < 0.5 ? -1 : 1) * rng.uniform(0.01, 1),
  );
  const wts = Float64Array.from(randomF32([count], rng));
  const slope = Float64Array.from(randomF32([3], rng, 0.05, 0.5));
  const g = ref.preluBackward(x, wts, shape, slope);
  assertGradFd((v) => dot(ref.preluForward(v, shape, slope), wts), x, g.dx, { label: "dx" });
  assertGradFd((v) => dot(ref.preluForward(x, shape, v), wts), slope, g.dslope, {
    label: "dslope",
  });
});
