import { addInto } from "../../lib/gpu/ops/add.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { StepPlan } from "../../lib/gpu/step_plan.ts";
import { channelSlice, type Shape5, view } from "../../lib/gpu/tensor.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng, sizeOf } from "../_helpers/random.ts";

gpuTest(
  "addInto adds a tensor into a channel slice and leaves the other channels alone",
  async (rt) => {
    const rng = new Rng(21);
    for (const [n, c, d, h, w] of [[2, 3, 3, 5, 7], [1, 5, 4, 4, 4]] as Shape5[]) {
      const full: Shape5 = [n, c + 2, d, h, w];
      const xHost = randomF32([n, c, d, h, w], rng);
      const yHost = randomF32(full, rng);
      const pool = new BufferPool(rt.device);
      const plan = new StepPlan(rt, pool);
      const x = rt.createBuffer(xHost);
      const y = rt.createBuffer(yHost);
      addInto(plan, view(x, [n, c, d, h, w]), channelSlice(y, full, 1, c));
      await plan.run();
      await rt.checkCompilation();
      const got = await rt.read(y, sizeOf(full) * 4);
      const expected = Float64Array.from(yHost);
      const S = d * h * w;
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < c; k++) {
          for (let s = 0; s < S; s++) {
            expected[(b * (c + 2) + 1 + k) * S + s] += xHost[(b * c + k) * S + s];
          }
        }
      }
      // One float32 addition: error ≤ half an ulp of the sum.
      assertClose(got, expected, { rtol: 1e-6, atol: 1e-7 });
      plan.dispose();
      pool.destroy();
      x.destroy();
      y.destroy();
    }
  },
);
