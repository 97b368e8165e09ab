import assert from "node:assert/strict";
import * as ref from "../../lib/ref/max_pool.ts";
import {
  maxPoolBackward,
  maxPoolForward,
  maxPoolOutputShape,
  type PoolWindow,
} from "../../lib/gpu/ops/max_pool.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertView, destroyViews, inputView, newPlan, outputView, placements } from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";
import { assertGradFd, dot } from "./_fd.ts";

// Max-pooling copies values, so the result is exact.
const EXACT = { rtol: 0, atol: 0 };

const CASES: Array<[Shape5, PoolWindow]> = [
  [[1, 3, 5, 6, 7], [2, 2, 2]], // odd sizes: trailing planes dropped
  [[2, 5, 7, 9, 4], [2, 2, 1]], // vec4 kernels (W = 4·kW·k)
  [[1, 3, 5, 7, 16], [2, 2, 2]], // vec4 kernels, odd D and H
  [[2, 3, 3, 9, 11], [1, 2, 2]], // ACDC's in-plane "2×2×1" in [D, H, W] order
  [[2, 3, 3, 9, 16], [1, 2, 2]], // same, vec4 kernels
  [[2, 8, 32, 32, 32], [2, 2, 2]],
];

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(71);
  for (const [shape, window] of CASES) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const place of placements(shape[1])) {
      for (const ties of [false, true]) {
        const count = shape.reduce((a, b) => a * b, 1);
        // With ties: values from {−1, 0, 1}, so most windows hold equal maxima.
        const x = randomF32([count], rng).map((v) => (ties ? Math.round(v) : v));
        const outShape = maxPoolOutputShape(shape, window);
        const outCount = outShape.reduce((a, b) => a * b, 1);
        const dy = randomF32([outCount], rng, 0.5, 1.5);
        const xv = inputView(rt, x, shape, place);
        const yv = outputView(rt, outShape, { cTot: shape[1] + 1, cOff: 1 });
        const dyv = inputView(rt, dy, outShape, place);
        const dxv = outputView(rt, shape, { cTot: shape[1] + 2, cOff: 2 });
        const { plan, done } = newPlan(rt);
        const saved = maxPoolForward(plan, xv.view, yv.view, { window });
        maxPoolBackward(plan, dyv.view, dxv.view, saved);
        await plan.run();
        await rt.checkCompilation();
        const fwd = ref.maxPoolForward(x, shape, window);
        assert.deepEqual(fwd.shape, outShape);
        const label = `${JSON.stringify(shape)} ${window} cOff ${place.cOff} ties ${ties}`;
        await assertView(rt, yv, fwd.y, { ...EXACT, label });
        await assertView(rt, dxv, ref.maxPoolBackward(x, dy, shape, window), {
          ...EXACT,
          label,
        });
        done();
        destroyViews(xv, yv, dyv, dxv);
      }
    }
  }
}

gpuTest("maxPoolForward and maxPoolBackward match the float64 reference", (rt) => _reference(rt));

gpuTest(
  "maxPoolForward and maxPoolBackward match the float64 reference in row chunks under a 4 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(4096, () => _reference(rt, true)),
);

gpuTest("maxPoolForward refuses an output with an empty dimension", (rt) => {
  const { plan, done } = newPlan(rt);
  const b = rt.createBuffer(1024);
  assert.throws(
    () =>
      maxPoolForward(plan, { buffer: b, shape: [1, 1, 1, 4, 4] }, {
        buffer: b,
        shape: [1, 1, 1, 2, 2],
      }),
    RangeError,
  );
  done();
  b.destroy();
});

Deno.test("reference maxPoolBackward matches central finite differences", () => {
  const rng = new Rng(72);
  const shape = [2, 2, 3, 4, 5];
  for (const window of [[2, 2, 2], [2, 2, 1], [1, 2, 2]]) {
    // Distinct values at least 0.01 apart: no ties within h of each other.
    const n = shape.reduce((a, b) => a * b, 1);
    const x = Float64Array.from(rng.shuffle([...Array(n).keys()]), (v) => v * 0.01 - 1);
    const out = ref.maxPoolForward(x, shape, window);
    const w = Float64Array.from(randomF32([out.y.length], rng));
    const dx = ref.maxPoolBackward(x, w, shape, window);
    assertGradFd((v) => dot(ref.maxPoolForward(v, shape, window).y, w), x, dx, {
      label: String(window),
    });
  }
});
