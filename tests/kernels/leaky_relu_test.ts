import * as ref from "../../lib/ref/leaky_relu.ts";
import { leakyReluBackward, leakyReluForward } from "../../lib/gpu/kernels/leaky_relu.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest, poisoned } from "../_helpers/gpu.ts";
import { randomF32, Rng } from "../_helpers/random.ts";

gpuTest("leakyReluForward and leakyReluBackward match the float64 reference", async (rt) => {
  const rng = new Rng(7);
  for (const n of [1, 255, 257, 2 * 3 * 5 * 7 * 11]) {
    const x = randomF32([n], rng);
    const dyHost = randomF32([n], rng);
    const xb = rt.createBuffer(x);
    const dy = rt.createBuffer(dyHost);
    const y = rt.createBuffer(poisoned(n));
    const dx = rt.createBuffer(poisoned(n));
    const f = rt.bind(leakyReluForward, { x: xb, y }, { n, slope: 0.01 });
    const b = rt.bind(leakyReluBackward, { x: xb, dy, dx }, { n, slope: 0.01 });
    await rt.run([f, b]);
    await rt.checkCompilation();
    // Elementwise float32 ops: only input rounding differs from float64.
    assertClose(await rt.read(y, n * 4), ref.leakyReluForward(x, 0.01), { rtol: 1e-6, atol: 0 });
    assertClose(await rt.read(dx, n * 4), ref.leakyReluBackward(x, dyHost, 0.01), {
      rtol: 1e-6,
      atol: 0,
    });
    rt.release([f, b]);
    for (const buf of [xb, dy, y, dx]) buf.destroy();
  }
});

gpuTest("leakyReluForward folds large dispatches into a 2-D grid", async (rt) => {
  const n = 256 * 65535 + 1000; // needs more than 65535 workgroups in x
  const rng = new Rng(3);
  const x = randomF32([n], rng);
  const xb = rt.createBuffer(x);
  const y = rt.createBuffer(poisoned(n));
  const f = rt.bind(leakyReluForward, { x: xb, y }, { n, slope: 0.2 });
  await rt.run([f]);
  assertClose(await rt.read(y, n * 4), ref.leakyReluForward(x, 0.2), { rtol: 1e-6, atol: 0 });
  rt.release([f]);
  xb.destroy();
  y.destroy();
});
