import * as ref from "../../lib/ref/softmax.ts";
import { softmaxBackward, softmaxForward } from "../../lib/gpu/ops/softmax.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertView, destroyViews, inputView, newPlan, outputView, placements } from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";
import { assertGradFd, dot } from "./_fd.ts";

// p: exp of arguments in [−(range), 0] (≤ 3 + 2·|x| ULP), a sum of C terms ≤ 1 and one
// reciprocal: ≈ 2e-6 relative for logits spanning 10. dx: the dot product Σ p·dp of C terms
// cancels against dp, so its error is absolute, ≈ ε·C·max|dp| per element.
const P_TOL = { rtol: 3e-6, atol: 1e-9 };
const DX_TOL = { rtol: 1e-5, atol: 1e-6 };

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(61);
  const shapes: Shape5[] = [[1, 3, 5, 6, 7], [2, 5, 3, 4, 9], [2, 4, 17, 16, 15], [1, 1, 2, 3, 5]];
  for (const shape of shapes) {
    if (small && shape.reduce((a, b) => a * b, 1) > 3000) continue;
    for (const place of placements(shape[1])) {
      const count = shape.reduce((a, b) => a * b, 1);
      // Large offsets: a naive exp(x) would overflow at 100.
      const x = randomF32([count], rng, -5, 5).map((v, i) => v + (i % 3 === 0 ? 100 : 0));
      const dp = randomF32([count], rng);
      const xv = inputView(rt, x, shape, place);
      const pv = outputView(rt, shape, { cTot: shape[1] + 1, cOff: 1 });
      const dpv = inputView(rt, dp, shape, place);
      const dxv = outputView(rt, shape, { cTot: shape[1] + 2, cOff: 2 });
      const { plan, done } = newPlan(rt);
      softmaxForward(plan, xv.view, pv.view);
      softmaxBackward(plan, pv.view, dpv.view, dxv.view);
      await plan.run();
      await rt.checkCompilation();
      const p = ref.softmaxForward(x, shape);
      const label = `${JSON.stringify(shape)} cOff ${place.cOff}`;
      await assertView(rt, pv, p, { ...P_TOL, label });
      await assertView(rt, dxv, ref.softmaxBackward(p, dp, shape), { ...DX_TOL, label });
      done();
      destroyViews(xv, pv, dpv, dxv);
    }
  }
}

gpuTest(
  "softmaxForward and softmaxBackward match the float64 reference on views",
  (rt) => _reference(rt),
);

gpuTest(
  "softmaxForward and softmaxBackward match the float64 reference on views in row chunks under a 4 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(4096, () => _reference(rt, true)),
);

Deno.test("reference softmaxBackward matches central finite differences", () => {
  const rng = new Rng(62);
  const shape = [2, 4, 1, 2, 3];
  const x = Float64Array.from(randomF32([48], rng, -3, 3));
  const w = Float64Array.from(randomF32([48], rng));
  const dx = ref.softmaxBackward(ref.softmaxForward(x, shape), w, shape);
  assertGradFd((v) => dot(ref.softmaxForward(v, shape), w), x, dx);
});
