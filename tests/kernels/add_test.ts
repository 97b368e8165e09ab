import { addInto } from "../../lib/gpu/ops/add.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { channelSlice, type Shape5, view } from "../../lib/gpu/tensor.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { randomF32, Rng, sizeOf } from "../_helpers/random.ts";
import { assertChunkedAgrees, newPlan, recorded } from "./_views.ts";

async function _slice(rt: GpuRuntime): Promise<void> {
  {
    const rng = new Rng(21);
    for (const [n, c, d, h, w] of [[2, 3, 3, 5, 7], [1, 5, 4, 4, 4]] as Shape5[]) {
      const full: Shape5 = [n, c + 2, d, h, w];
      const xHost = randomF32([n, c, d, h, w], rng);
      const yHost = randomF32(full, rng);
      const { plan, done } = newPlan(rt);
      const x = rt.createBuffer(xHost);
      const y = rt.createBuffer(yHost);
      addInto(plan, view(x, [n, c, d, h, w]), channelSlice(y, full, 1, c));
      await plan.run();
      await rt.checkCompilation();
      const got = recorded(await rt.read(y, sizeOf(full) * 4));
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
      done();
      x.destroy();
      y.destroy();
    }
  }
}

gpuTest(
  "addInto adds a tensor into a channel slice and leaves the other channels alone",
  (rt) => _slice(rt),
);

gpuTest(
  "addInto in row chunks under a 1 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(1024, () => _slice(rt)),
);
