import assert from "node:assert/strict";
import * as ref from "../../lib/ref/adam.ts";
import { adamHyper, adamUpdate } from "../../lib/gpu/ops/adam.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { assertChunkedAgrees, newPlan, recorded } from "./_views.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { ParamSlots } from "./_params.ts";

// Per step, m and v take ≤ 3 float32 roundings of O(1) values (≤ 2e-7 absolute) and p takes
// the rounding of p (≤ 6e-8·|p|) plus the update's (≤ 4 roundings of ≈ lr): after 5 steps
// 1e-6 absolute covers p, m and v with |p|, |g| ≤ 1; v ≤ 1 is relative-sized, so rtol too.
const TOL = { rtol: 2e-6, atol: 1e-6 };
const LRS = [1e-3, 1e-3, 5e-4, 2e-4, 2e-4];

async function _flat(rt: GpuRuntime): Promise<void> {
  {
    const rng = new Rng(91);
    const count = 85337; // the nnn-bench parameter count
    const padded = Math.ceil(count / 64) * 64;
    const p0 = randomF32([count], rng);
    const mask = Float32Array.from({ length: count }, () => (rng.float() < 0.7 ? 1 : 0));
    const buf = (data: Float32Array) => {
      const full = new Float32Array(padded);
      full.set(data);
      return rt.createBuffer(full);
    };
    const params = buf(p0);
    const grads = buf(new Float32Array(count));
    const m = buf(new Float32Array(count));
    const v = buf(new Float32Array(count));
    const maskBuf = buf(mask);
    const { plan, done } = newPlan(rt);
    const opts = { lr: LRS[0], beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 };
    const adam = adamUpdate(plan, [{ params, grads, m, v, decayMask: maskBuf, count }], opts);
    const rp = Float64Array.from(p0);
    const rm = new Float64Array(count);
    const rv = new Float64Array(count);
    for (let t = 1; t <= LRS.length; t++) {
      const g = randomF32([count], rng);
      rt.write(grads, g);
      adam.setStep(t, LRS[t - 1]);
      await plan.run();
      ref.adamStep(rp, g, rm, rv, { ...opts, lr: LRS[t - 1], step: t, mask });
    }
    await rt.checkCompilation();
    assertClose(recorded(await rt.read(params, count * 4)), rp, { ...TOL, label: "params" });
    assertClose(recorded(await rt.read(m, count * 4)), rm, { ...TOL, label: "m" });
    assertClose(recorded(await rt.read(v, count * 4)), rv, { ...TOL, label: "v" });
    // Elements past `count` were not touched.
    const tail = await rt.read(params, (padded - count) * 4, count * 4);
    assert.ok(tail.every((x) => x === 0));
    done();
    for (const b of [params, grads, m, v, maskBuf]) b.destroy();
  }
}

gpuTest(
  "adamUpdate matches the float64 reference over several steps (flat buffer, mask)",
  (rt) => _flat(rt),
);

gpuTest(
  "adamUpdate in ranges under a 64 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(65536, () => _flat(rt)),
);

gpuTest("adamUpdate updates a list of buffer ranges with one values buffer", async (rt) => {
  const rng = new Rng(92);
  const sizes = { a: 77, b: 1000 };
  const p0 = { a: randomF32([77], rng), b: randomF32([1000], rng) };
  const params = new ParamSlots(rt, p0);
  const grads = new ParamSlots(rt, { a: null, b: null }, 1000);
  const m = new ParamSlots(rt, { a: new Float32Array(77), b: new Float32Array(1000) });
  const v = new ParamSlots(rt, { a: new Float32Array(77), b: new Float32Array(1000) });
  const { plan, done } = newPlan(rt);
  const opts = { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 };
  const adam = adamUpdate(
    plan,
    (["a", "b"] as const).map((k) => ({
      params: params.range(k),
      grads: grads.range(k),
      m: m.range(k),
      v: v.range(k),
      count: sizes[k],
    })),
    opts,
  );
  assert.equal(adam.dispatches.length, 2);
  const r = {
    a: { p: Float64Array.from(p0.a), m: new Float64Array(77), v: new Float64Array(77) },
    b: { p: Float64Array.from(p0.b), m: new Float64Array(1000), v: new Float64Array(1000) },
  };
  for (let t = 1; t <= 3; t++) {
    for (const k of ["a", "b"] as const) {
      const g = randomF32([sizes[k]], rng);
      rt.write(grads.buffer, g, grads.range(k).offset);
      ref.adamStep(r[k].p, g, r[k].m, r[k].v, { ...opts, step: t });
    }
    adam.setStep(t); // same lr every step
    await plan.run();
  }
  for (const k of ["a", "b"] as const) {
    const n = sizes[k];
    assertClose((await params.read(k)).subarray(0, n), r[k].p, { ...TOL, label: `p ${k}` });
    assertClose((await m.read(k)).subarray(0, n), r[k].m, { ...TOL, label: `m ${k}` });
    assertClose((await v.read(k)).subarray(0, n), r[k].v, { ...TOL, label: `v ${k}` });
  }
  done();
  for (const s of [params, grads, m, v]) s.destroy();
});

Deno.test("adamHyper computes the bias corrections in float64", () => {
  const h = adamHyper(3, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 });
  assertClose(h[0], 0.01 / (1 - 0.9 ** 3), { rtol: 1e-7 });
  assertClose(h[1], Math.sqrt(1 - 0.999 ** 3), { rtol: 1e-7 });
  assertClose(Array.from(h.subarray(2, 7)), [0.1, 0.999, 0.001, 1e-8, 0.5], { rtol: 1e-7 });
  assert.throws(() => adamHyper(0), RangeError);
  assert.throws(() => adamHyper(1, { beta1: 1 }), RangeError);
});
