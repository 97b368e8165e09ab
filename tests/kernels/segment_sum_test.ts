import assert from "node:assert/strict";
import * as ref from "../../lib/ref/segment_sum.ts";
import { segmentMeanVar, segmentSum } from "../../lib/gpu/ops/segment_sum.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import { assertClose, closeRatio } from "../_helpers/assert_close.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest, poisoned } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { destroyViews, inputView, newPlan, placements } from "./_views.ts";
import { assertChunkedAgrees, recorded } from "./_views.ts";

gpuTest("segmentMeanVar and segmentSum stay accurate on 192×192×48 segments", async (rt) => {
  // Six segments of 1,769,472 elements (2 samples × 3 channels), offset far from zero so that
  // E[x²] − E[x]² or a plain float32 running sum would fail: x = 100·(c + 1) + U(−1, 1).
  const shape: Shape5 = [2, 3, 48, 192, 192];
  const s = 48 * 192 * 192;
  const rng = new Rng(11);
  const x = new Float32Array(2 * 3 * s);
  for (let r = 0; r < 6; r++) {
    for (let k = 0; k < s; k++) x[r * s + k] = 100 * ((r % 3) + 1) + rng.uniform(-1, 1);
  }
  const xv = inputView(rt, x, shape);
  const mean = rt.createBuffer(poisoned(6));
  const variance = rt.createBuffer(poisoned(6));
  const sums = rt.createBuffer(poisoned(6));
  const cMean = rt.createBuffer(poisoned(3));
  const cVar = rt.createBuffer(poisoned(3));
  const { plan, done } = newPlan(rt);
  segmentMeanVar(plan, xv.view, { mean, variance });
  segmentSum(plan, xv.view, sums);
  segmentMeanVar(plan, xv.view, { mean: cMean, variance: cVar }, { groupBy: "channel" });
  await plan.run();
  await rt.checkCompilation();
  const expS = ref.segmentMeanVar(x, shape, "sample");
  const expC = ref.segmentMeanVar(x, shape, "channel");
  // Tolerances (ε = 2⁻²⁴ ≈ 6e-8). Sums: Kahan-compensated chunk sums err by ~2ε relative,
  // and the compensated merge of ≤ 512 partials adds ~2ε more: 1e-6 ≈ 16ε relative is safe.
  // Mean: Welford's running mean takes one rounding per element, but each error decays as
  // the mean absorbs later samples, so a chunk mean is within a few ε·|mean| of exact (≈ 1e-7
  // observed); the merge recomputes the mean from the compensated Σ count·mean. Variance:
  // Welford's M2 sums positive terms d·(x − m) (no cancellation), ≲ √chunk·ε ≈ 4e-6 relative
  // for chunks of ≤ 4096 vec4s; the merge adds Σ count·(mean_p − mean)², tiny here. 1e-5
  // leaves a margin (≈ 1e-6 observed); the control below shows a naive method misses by far.
  const MEAN_TOL = { rtol: 1e-6, atol: 0 };
  const VAR_TOL = { rtol: 1e-5, atol: 0 };
  assertClose(await rt.read(mean, 24), expS.mean, { ...MEAN_TOL, label: "mean" });
  assertClose(await rt.read(variance, 24), expS.variance, { ...VAR_TOL, label: "variance" });
  assertClose(await rt.read(sums, 24), ref.segmentSum(x, shape, "sample"), {
    ...MEAN_TOL,
    label: "sum",
  });
  assertClose(await rt.read(cMean, 12), expC.mean, { ...MEAN_TOL, label: "channel mean" });
  assertClose(await rt.read(cVar, 12), expC.variance, { ...VAR_TOL, label: "channel variance" });

  // The tolerances have teeth: a float32 running sum and E[x²] − E[x]² miss them by far.
  let sum = 0;
  let sq = 0;
  for (let k = 0; k < s; k++) {
    sum = Math.fround(sum + x[k]);
    sq = Math.fround(sq + Math.fround(x[k] * x[k]));
  }
  const naiveMean = Math.fround(sum / s);
  const naiveVar = Math.fround(sq / s) - naiveMean * naiveMean;
  assert.ok(closeRatio([naiveMean], [expS.mean[0]], MEAN_TOL) > 10);
  assert.ok(closeRatio([naiveVar], [expS.variance[0]], VAR_TOL) > 10);

  done();
  destroyViews(xv);
  for (const b of [mean, variance, sums, cMean, cVar]) b.destroy();
});

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(12);
  // Rows of 210, 27, 1287, 1 floats take the scalar kernels; 120 and 4096 the vec4 ones.
  const shapes: Shape5[] = [
    [1, 3, 5, 6, 7],
    [2, 5, 3, 1, 9],
    [2, 7, 9, 11, 13],
    [1, 1, 1, 1, 1],
    [2, 3, 4, 6, 5],
    [2, 3, 16, 16, 16],
  ];
  for (const shape of shapes) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const place of placements(shape[1])) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomF32([n], rng, -2, 3);
      const xv = inputView(rt, x, shape, place);
      for (const groupBy of ["sample", "channel"] as const) {
        const groups = groupBy === "sample" ? shape[0] * shape[1] : shape[1];
        const mean = rt.createBuffer(poisoned(groups));
        const variance = rt.createBuffer(poisoned(groups));
        const sums = rt.createBuffer(poisoned(groups));
        const means = rt.createBuffer(new Float32Array(groups).fill(1));
        const { plan, done } = newPlan(rt);
        segmentMeanVar(plan, xv.view, { mean, variance }, { groupBy });
        segmentSum(plan, xv.view, sums, { groupBy });
        segmentSum(plan, xv.view, means, { groupBy, mean: true, accumulate: true });
        await plan.run();
        await rt.checkCompilation();
        const exp = ref.segmentMeanVar(x, shape, groupBy);
        const label = `${JSON.stringify(shape)} ${groupBy} cOff ${place.cOff}`;
        // Small segments: a few float32 roundings of O(1) values.
        const tol = { rtol: 1e-5, atol: 1e-6 };
        assertClose(recorded(await rt.read(mean, groups * 4)), exp.mean, { ...tol, label });
        assertClose(recorded(await rt.read(variance, groups * 4)), exp.variance, { ...tol, label });
        assertClose(recorded(await rt.read(sums, groups * 4)), ref.segmentSum(x, shape, groupBy), {
          ...tol,
          label,
        });
        assertClose(recorded(await rt.read(means, groups * 4)), exp.mean.map((m) => m + 1), {
          ...tol,
          label,
        });
        done();
        for (const b of [mean, variance, sums, means]) b.destroy();
      }
      destroyViews(xv);
    }
  }
}

gpuTest("segmentMeanVar and segmentSum match the reference on odd views", (rt) => _reference(rt));

gpuTest(
  "segmentMeanVar and segmentSum match the reference on odd views in row chunks under a 2 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(2048, () => _reference(rt, true)),
);

gpuTest("segmentMeanVar updates running statistics with PyTorch's convention", async (rt) => {
  const rng = new Rng(13);
  const shape: Shape5 = [2, 3, 4, 5, 3];
  const n = shape.reduce((a, b) => a * b, 1);
  const x = randomF32([n], rng, -1, 2);
  const xv = inputView(rt, x, shape, { cTot: 5, cOff: 1 });
  const rm0 = new Float32Array([0.5, -1, 2]);
  const rv0 = new Float32Array([1, 2, 0.25]);
  const rm = rt.createBuffer(rm0);
  const rv = rt.createBuffer(rv0);
  const mean = rt.createBuffer(poisoned(3));
  const variance = rt.createBuffer(poisoned(3));
  const { plan, done } = newPlan(rt);
  segmentMeanVar(plan, xv.view, { mean, variance }, {
    groupBy: "channel",
    running: { mean: rm, variance: rv, momentum: 0.1 },
  });
  await plan.run();
  const exp = ref.segmentMeanVar(x, shape, "channel");
  const m = exp.count;
  assertClose(await rt.read(rm, 12), rm0.map((r, i) => 0.9 * r + 0.1 * exp.mean[i]));
  assertClose(
    await rt.read(rv, 12),
    rv0.map((r, i) => 0.9 * r + 0.1 * exp.variance[i] * m / (m - 1)),
  );
  done();
  destroyViews(xv);
  for (const b of [rm, rv, mean, variance]) b.destroy();
});
