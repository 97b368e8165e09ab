import * as ref from "../../lib/ref/upsample.ts";
import * as lrelu from "../../lib/ref/leaky_relu.ts";
import {
  upsampleBackward,
  type UpsampleFactor,
  upsampleForward,
  upsampleOutputShape,
} from "../../lib/gpu/ops/upsample.ts";
import { leakyReluBackward, leakyReluForward } from "../../lib/gpu/ops/leaky_relu.ts";
import { channelSlice, type Shape5 } from "../../lib/gpu/tensor.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { gpuTest, poisoned } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import {
  assertView,
  destroyViews,
  embed,
  extract,
  inputView,
  newPlan,
  outputView,
  placements,
} from "./_views.ts";
import { assertChunkedAgrees } from "./_views.ts";
import { assertGradFd, dot } from "./_fd.ts";

// Forward copies values (exact). Backward sums fD·fH·fW ≤ 8 values in [−1, 1): ≤ 7 roundings
// of partial sums of magnitude ≤ 8, i.e. ≤ 7·2⁻²⁴·8 ≈ 3.3e-6 absolute.
const EXACT = { rtol: 0, atol: 0 };
const SUM_TOL = { rtol: 0, atol: 3.4e-6 };

const CASES: Array<[Shape5, UpsampleFactor]> = [
  [[1, 3, 5, 6, 7], [2, 2, 2]],
  [[2, 5, 3, 4, 9], [2, 2, 1]],
  [[2, 3, 3, 5, 7], [1, 2, 2]], // ACDC's in-plane "2×2×1" in [D, H, W] order
  [[1, 3, 3, 5, 8], [1, 2, 2]], // vec4 kernels
  [[2, 3, 3, 5, 4], [2, 2, 1]], // vec4 kernels, fW = 1
  [[2, 16, 8, 8, 8], [2, 2, 2]],
];

async function _reference(rt: GpuRuntime, small = false): Promise<void> {
  const rng = new Rng(81);
  for (const [shape, factor] of CASES) {
    if (small && shape.reduce((a, b) => a * b, 1) > 6000) continue;
    for (const place of placements(shape[1])) {
      const count = shape.reduce((a, b) => a * b, 1);
      const outShape = upsampleOutputShape(shape, factor);
      const outCount = outShape.reduce((a, b) => a * b, 1);
      const x = randomF32([count], rng);
      const dy = randomF32([outCount], rng);
      const xv = inputView(rt, x, shape, place);
      const yv = outputView(rt, outShape, { cTot: shape[1] + 1, cOff: 1 });
      const dyv = inputView(rt, dy, outShape, place);
      const dxv = outputView(rt, shape, { cTot: shape[1] + 2, cOff: 2 });
      const { plan, done } = newPlan(rt);
      upsampleForward(plan, xv.view, yv.view, { factor });
      upsampleBackward(plan, dyv.view, dxv.view, { factor });
      await plan.run();
      await rt.checkCompilation();
      const label = `${JSON.stringify(shape)} ${factor} cOff ${place.cOff}`;
      await assertView(rt, yv, ref.upsampleForward(x, shape, factor), { ...EXACT, label });
      await assertView(rt, dxv, ref.upsampleBackward(dy, shape, factor), { ...SUM_TOL, label });
      done();
      destroyViews(xv, yv, dyv, dxv);
    }
  }
}

gpuTest("upsampleForward and upsampleBackward match the float64 reference", (rt) => _reference(rt));

gpuTest(
  "upsampleForward and upsampleBackward match the float64 reference in row chunks under a 16 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(16384, () => _reference(rt, true)),
);

gpuTest("concatenation by channel slices: upsample and LeakyReLU write one buffer", async (rt) => {
  // Decoder input = concat(upsample(bottom), lrelu(skip)) along channels, with no copy: each
  // producer writes its slice of one buffer; a consumer reads the whole buffer as one view;
  // the backward reads the gradient's slices.
  const rng = new Rng(82);
  const bottomShape: Shape5 = [2, 3, 3, 4, 5];
  const factor: UpsampleFactor = [2, 2, 1];
  const upShape = upsampleOutputShape(bottomShape, factor); // [2, 3, 6, 8, 5]
  const skipShape: Shape5 = [2, 4, 6, 8, 5];
  const catShape: Shape5 = [2, 7, 6, 8, 5];
  const bottom = randomF32([bottomShape.reduce((a, b) => a * b, 1)], rng);
  const skip = randomF32([skipShape.reduce((a, b) => a * b, 1)], rng);
  const catCount = catShape.reduce((a, b) => a * b, 1);
  const dcat = randomF32([catCount], rng);
  const bv = inputView(rt, bottom, bottomShape);
  const sv = inputView(rt, skip, skipShape);
  const cat = rt.createBuffer(poisoned(catCount));
  const out = outputView(rt, catShape);
  const dcatBuf = rt.createBuffer(dcat);
  const dBottom = outputView(rt, bottomShape);
  const dSkip = outputView(rt, skipShape);
  const { plan, done } = newPlan(rt);
  upsampleForward(plan, bv.view, channelSlice(cat, catShape, 0, 3), { factor });
  leakyReluForward(plan, sv.view, channelSlice(cat, catShape, 3, 4), { slope: 0.1 });
  // A consumer of the concatenation as a whole (stands in for the next conv).
  leakyReluForward(plan, { buffer: cat, shape: catShape }, out.view, { slope: 0.5 });
  upsampleBackward(plan, channelSlice(dcatBuf, catShape, 0, 3), dBottom.view, { factor });
  leakyReluBackward(plan, sv.view, channelSlice(dcatBuf, catShape, 3, 4), dSkip.view, {
    slope: 0.1,
  });
  await plan.run();
  await rt.checkCompilation();
  const up = ref.upsampleForward(bottom, bottomShape, factor);
  const act = lrelu.leakyReluForward(skip, 0.1);
  const expectedCat = new Float64Array(catCount);
  expectedCat.set(embed(up, upShape, { cTot: 7, cOff: 0 }, 0));
  const actPart = embed(act, skipShape, { cTot: 7, cOff: 3 }, 0);
  for (let i = 0; i < catCount; i++) expectedCat[i] += actPart[i];
  // The upsampled slice is exact; the LeakyReLU slice rounds slope·x once (1e-6 relative).
  assertClose(await rt.read(cat, catCount * 4), expectedCat, {
    rtol: 1e-6,
    atol: 0,
    label: "concat",
  });
  await assertView(rt, out, lrelu.leakyReluForward(expectedCat, 0.5), {
    rtol: 1e-6,
    atol: 0,
    label: "consumer",
  });
  await assertView(
    rt,
    dBottom,
    ref.upsampleBackward(extract(dcat, upShape, { cTot: 7, cOff: 0 }), bottomShape, factor),
    { ...SUM_TOL, label: "d bottom" },
  );
  await assertView(
    rt,
    dSkip,
    lrelu.leakyReluBackward(skip, extract(dcat, skipShape, { cTot: 7, cOff: 3 }), 0.1),
    { rtol: 1e-6, atol: 0, label: "d skip" },
  );
  done();
  destroyViews(bv, sv, out, dBottom, dSkip);
  cat.destroy();
  dcatBuf.destroy();
});

Deno.test("reference upsampleBackward matches central finite differences", () => {
  const rng = new Rng(83);
  const shape = [2, 2, 2, 3, 2];
  for (const factor of [[2, 2, 2], [2, 2, 1], [1, 2, 2]]) {
    const x = Float64Array.from(randomF32([48], rng));
    const w = Float64Array.from(randomF32([48 * factor[0] * factor[1] * factor[2]], rng));
    const dx = ref.upsampleBackward(w, shape, factor);
    assertGradFd((v) => dot(ref.upsampleForward(v, shape, factor), w), x, dx, {
      label: String(factor),
    });
  }
});
