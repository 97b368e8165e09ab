import * as ref from "../../lib/ref/sigmoid.ts";
import { sigmoidBackward, sigmoidForward } from "../../lib/gpu/ops/sigmoid.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertView, destroyViews, inputView, newPlan, outputView, placements } from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";
import { assertGradFd, dot } from "./_fd.ts";

// WGSL's exp is accurate to 3 + 2·|x| ULP; for |x| ≤ 8 that is ≤ 19 ULP ≤ 19·2⁻²³ ≈ 2.3e-6
// relative, and the division adds ≤ 2.5 ULP (llvmpipe reaches ≈ 1.7e-6 here). For very negative x the output e^x is tiny, so a relative bound
// is the right one (no atol). dx = dy·y·(1 − y): near y = 1, 1 − y inherits the absolute
// error of the float32 y (rounding 1 + e, then 1/(1 + e): ≲ 2⁻²³ + 2⁻²⁴ ≈ 1.8e-7), so dx
// carries an absolute error ≲ 1.8e-7·|dy|; atol 3e-7 for |dy| ≤ 1.
const Y_TOL = { rtol: 3e-6, atol: 0 };
const DX_TOL = { rtol: 6e-6, atol: 3e-7 };

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(51);
  const shapes: Shape5[] = [[1, 3, 5, 6, 7], [2, 5, 3, 4, 9], [2, 1, 32, 32, 32]];
  for (const shape of shapes) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const place of placements(shape[1])) {
      const count = shape.reduce((a, b) => a * b, 1);
      const x = randomF32([count], rng, -8, 8);
      const dy = randomF32([count], rng);
      const xv = inputView(rt, x, shape, place);
      const yv = outputView(rt, shape, { cTot: shape[1] + 1, cOff: 1 });
      const dyv = inputView(rt, dy, shape, place);
      const dxv = outputView(rt, shape, { cTot: shape[1] + 2, cOff: 0 });
      // A second forward in place, a second backward in place.
      const inPlace = inputView(rt, x, shape, place);
      const g = inputView(rt, dy, shape);
      const { plan, done } = newPlan(rt);
      sigmoidForward(plan, xv.view, yv.view);
      sigmoidBackward(plan, yv.view, dyv.view, dxv.view);
      sigmoidForward(plan, inPlace.view, inPlace.view);
      sigmoidBackward(plan, yv.view, g.view, g.view);
      await plan.run();
      await rt.checkCompilation();
      const y = ref.sigmoidForward(x);
      // The backward consumed the float32 y the GPU produced; the reference uses float64 y.
      const dx = ref.sigmoidBackward(y, dy);
      const label = `${JSON.stringify(shape)} cOff ${place.cOff}`;
      await assertView(rt, yv, y, { ...Y_TOL, label });
      await assertView(rt, inPlace, y, { ...Y_TOL, label });
      await assertView(rt, dxv, dx, { ...DX_TOL, label });
      await assertView(rt, g, dx, { ...DX_TOL, label });
      done();
      destroyViews(xv, yv, dyv, dxv, inPlace, g);
    }
  }
}

gpuTest(
  "sigmoidForward and sigmoidBackward match the float64 reference on views",
  (rt) => _reference(rt),
);

gpuTest(
  "sigmoidForward and sigmoidBackward match the float64 reference on views in row chunks under a 4 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(4096, () => _reference(rt, true)),
);

gpuTest("sigmoidForward saturates without overflow", async (rt) => {
  const x = new Float32Array([-200, -88.5, -30, 0, 30, 88.5, 200, 1e30]);
  const shape: Shape5 = [1, 1, 1, 1, 8];
  const xv = inputView(rt, x, shape);
  const yv = outputView(rt, shape);
  const { plan, done } = newPlan(rt);
  sigmoidForward(plan, xv.view, yv.view);
  await plan.run();
  // Below about −87 the exact result is subnormal or 0; llvmpipe flushes subnormals.
  await assertView(rt, yv, ref.sigmoidForward(x), { rtol: 3e-6, atol: 1e-37 });
  done();
  destroyViews(xv, yv);
});

Deno.test("reference sigmoidBackward matches central finite differences", () => {
  const rng = new Rng(52);
  const x = Float64Array.from(randomF32([40], rng, -6, 6));
  const w = Float64Array.from(randomF32([40], rng));
  const dx = ref.sigmoidBackward(ref.sigmoidForward(x), w);
  assertGradFd((v) => dot(ref.sigmoidForward(v), w), x, dx);
});
