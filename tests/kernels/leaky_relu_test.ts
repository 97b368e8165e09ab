import * as ref from "../../lib/ref/leaky_relu.ts";
import { leakyReluBackward, leakyReluForward } from "../../lib/gpu/ops/leaky_relu.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertGradFd, dot } from "./_fd.ts";
import { assertView, destroyViews, inputView, newPlan, outputView, placements } from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";

// Elementwise float32 ops: one rounding of slope·x; the reference rounds nothing.
const TOL = { rtol: 1e-6, atol: 0 };

const SHAPES: Shape5[] = [[1, 3, 5, 6, 7], [2, 5, 3, 4, 9], [2, 1, 17, 1, 33]];

async function _views1(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(7);
  for (const shape of SHAPES) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const place of placements(shape[1])) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xHost = randomF32([n], rng);
      const dyHost = randomF32([n], rng);
      const slope = 0.01 + rng.float() * 0.3;
      const x = inputView(rt, xHost, shape, place);
      const dy = inputView(rt, dyHost, shape, { cTot: shape[1] + 1, cOff: 1 });
      const y = outputView(rt, shape, { cTot: place.cTot + 1, cOff: place.cOff + 1 });
      const dx = outputView(rt, shape, place);
      const { plan, done } = newPlan(rt);
      leakyReluForward(plan, x.view, y.view, { slope });
      leakyReluBackward(plan, x.view, dy.view, dx.view, { slope });
      await plan.run();
      await rt.checkCompilation();
      await assertView(rt, y, ref.leakyReluForward(xHost, slope), TOL);
      await assertView(rt, dx, ref.leakyReluBackward(xHost, dyHost, slope), TOL);
      done();
      destroyViews(x, dy, y, dx);
    }
  }
}

gpuTest(
  "leakyReluForward and leakyReluBackward match the float64 reference on views",
  (rt) => _views1(rt),
);

gpuTest(
  "leakyReluForward and leakyReluBackward match the float64 reference on views in row chunks under a 4 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(4096, () => _views1(rt, true)),
);

gpuTest(
  "leakyReluForward and leakyReluBackward work in place and across slices of one buffer",
  async (rt) => {
    const rng = new Rng(8);
    // Rows of 105 floats take the scalar kernels, rows of 120 the vec4 ones.
    for (const shape of [[2, 3, 5, 7, 3], [2, 3, 4, 5, 6]] as Shape5[]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xHost = randomF32([n], rng);
      const dyHost = randomF32([n], rng);
      // y = lrelu(x) written into channels [3, 6) of the buffer holding x in [0, 3).
      const both = inputView(rt, xHost, shape, { cTot: 6, cOff: 0 });
      const ySlice = { ...both.view, channelOffset: 3 };
      // In-place forward on a second copy, and in-place backward (dx overwrites dy).
      const inPlace = inputView(rt, xHost, shape);
      const x = inputView(rt, xHost, shape);
      const g = inputView(rt, dyHost, shape);
      const { plan, done } = newPlan(rt);
      leakyReluForward(plan, both.view, ySlice, { slope: 0.1 });
      leakyReluForward(plan, inPlace.view, inPlace.view, { slope: 0.1 });
      leakyReluBackward(plan, x.view, g.view, g.view, { slope: 0.1 });
      await plan.run();
      await rt.checkCompilation();
      await assertView(
        rt,
        { ...both, view: ySlice, place: { cTot: 6, cOff: 3 } },
        ref.leakyReluForward(xHost, 0.1),
        TOL,
      );
      await assertView(rt, inPlace, ref.leakyReluForward(xHost, 0.1), TOL);
      await assertView(rt, g, ref.leakyReluBackward(xHost, dyHost, 0.1), TOL);
      done();
      destroyViews(both, inPlace, x, g);
    }
  },
);

Deno.test("reference leakyReluBackward matches central finite differences", () => {
  const rng = new Rng(9);
  // Keep inputs away from the hinge at 0, where the derivative jumps.
  const x = Array.from({ length: 50 }, () => (rng.float() < 0.5 ? -1 : 1) * rng.uniform(0.01, 1));
  const dy = Array.from({ length: 50 }, () => rng.uniform(-1, 1));
  const dx = ref.leakyReluBackward(x, dy, 0.2);
  assertGradFd((xv) => dot(ref.leakyReluForward(xv, 0.2), dy), x, dx);
});
