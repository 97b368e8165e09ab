/**
 * Benchmark of the memory-bound ops of a U-Net training step (everything but convolutions and
 * the Dice loss) at the nnn-bench shapes: 8, 16, 32 channels at 32³, 16³, 8³, for B = 1, 2, 4.
 * Prints one JSON line per (op, shape): milliseconds per op call, dispatches per call, and the
 * effective bandwidth of the bytes the op must move at least.
 *
 * Method: a plan holding `R` copies of an op is run several times; the time per call is the
 * slope between `R = 4` and `R = 24` (fastest of 5 runs each: the machine is shared, and
 * interference only ever adds time), which cancels the fixed cost of a submit and wait
 * (≈ 11 ms on llvmpipe in Deno). Run:
 * `deno run --allow-read --allow-env bench/elementwise_bench.ts [--quick]`.
 *
 * @module
 */

import { requestGpu } from "../lib/gpu/device.ts";
import { BufferPool } from "../lib/gpu/buffer_pool.ts";
import { GpuRuntime } from "../lib/gpu/runtime.ts";
import { StepPlan } from "../lib/gpu/step_plan.ts";
import type { Shape5, TensorView } from "../lib/gpu/tensor.ts";
import { leakyReluBackward, leakyReluForward } from "../lib/gpu/ops/leaky_relu.ts";
import { preluBackward, preluForward } from "../lib/gpu/ops/prelu.ts";
import { instanceNormBackward, instanceNormForward } from "../lib/gpu/ops/instance_norm.ts";
import { batchNormBackward, batchNormForward } from "../lib/gpu/ops/batch_norm.ts";
import { maxPoolBackward, maxPoolForward, maxPoolOutputShape } from "../lib/gpu/ops/max_pool.ts";
import { upsampleBackward, upsampleForward, upsampleOutputShape } from "../lib/gpu/ops/upsample.ts";
import { sigmoidBackward, sigmoidForward } from "../lib/gpu/ops/sigmoid.ts";
import { softmaxBackward, softmaxForward } from "../lib/gpu/ops/softmax.ts";
import { segmentMeanVar } from "../lib/gpu/ops/segment_sum.ts";
import { adamUpdate } from "../lib/gpu/ops/adam.ts";

const quick = Deno.args.includes("--quick");
const { device, adapter } = await requestGpu();
const rt = new GpuRuntime(device);
const pool = new BufferPool(device);

const LEVELS: Array<{ c: number; d: number }> = [{ c: 8, d: 32 }, { c: 16, d: 16 }, {
  c: 32,
  d: 8,
}];
const BATCHES = quick ? [2] : [1, 2, 4];
const R_LO = 4;
const R_HI = 24;
const RUNS = quick ? 3 : 5;

function numel(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

function tensor(shape: Shape5, fill = true): TensorView {
  const data = new Float32Array(numel(shape));
  if (fill) { for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) + 0.1; }
  return { buffer: rt.createBuffer(data), shape };
}

function param(c: number, value: number): GPUBuffer {
  return rt.createBuffer(new Float32Array(Math.max(c, 64)).fill(value));
}

async function fastest(plan: StepPlan): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await plan.run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Time one op (a function pushing its dispatches) by the slope between R_LO and R_HI copies. */
async function timeOp(push: (plan: StepPlan) => void): Promise<{ ms: number; dispatches: number }> {
  const make = (r: number) => {
    const plan = new StepPlan(rt, pool);
    for (let i = 0; i < r; i++) push(plan);
    return plan;
  };
  const lo = make(R_LO);
  const hi = make(R_HI);
  await lo.run();
  await hi.run();
  const tLo = await fastest(lo);
  const tHi = await fastest(hi);
  const dispatches = lo.dispatches.length / R_LO;
  lo.dispose();
  hi.dispose();
  return { ms: Math.max(0, (tHi - tLo) / (R_HI - R_LO)), dispatches };
}

function report(
  op: string,
  shape: readonly number[],
  r: { ms: number; dispatches: number },
  bytes: number,
) {
  console.log(JSON.stringify({
    op,
    B: shape[0],
    C: shape[1],
    D: shape[2],
    ms: Number(r.ms.toFixed(3)),
    dispatches: r.dispatches,
    GBps: Number((bytes / (r.ms * 1e6)).toFixed(2)),
    adapter: adapter.description,
  }));
}

const created: GPUBuffer[] = [];
function keep<T extends TensorView | GPUBuffer>(x: T): T {
  created.push(x instanceof GPUBuffer ? x : x.buffer);
  return x;
}

for (const B of BATCHES) {
  for (const { c, d } of LEVELS) {
    const shape: Shape5 = [B, c, d, d, d];
    const bytes = numel(shape) * 4;
    const x = keep(tensor(shape));
    const y = keep(tensor(shape, false));
    const dy = keep(tensor(shape));
    const dx = keep(tensor(shape, false));
    const scale = keep(param(c, 1.1));
    const shift = keep(param(c, 0.1));
    const slope = keep(param(c, 0.25));
    // Gradient / statistics outputs: one float per channel, or per (n, c) for statistics.
    const g1 = keep(param(B * c, 0));
    const g2 = keep(param(B * c, 0));
    const g3 = keep(param(c, 0));
    const rm = keep(param(c, 0));
    const rv = keep(param(c, 1));
    const lrelu = { kind: "leakyRelu" as const, slope: 0.01 };

    report("leakyReluForward", shape, await timeOp((p) => leakyReluForward(p, x, y)), 2 * bytes);
    report(
      "leakyReluBackward",
      shape,
      await timeOp((p) => leakyReluBackward(p, x, dy, dx)),
      3 * bytes,
    );
    report(
      "preluForward",
      shape,
      await timeOp((p) => preluForward(p, x, y, { slope })),
      2 * bytes,
    );
    report(
      "preluBackward",
      shape,
      await timeOp((p) => preluBackward(p, x, dy, dx, { slope, dslope: g1 })),
      3 * bytes,
    );
    report(
      "segmentMeanVar",
      shape,
      await timeOp((p) => segmentMeanVar(p, x, { mean: g1, variance: g2 })),
      bytes,
    );
    report(
      "instanceNormForward+leakyRelu",
      shape,
      await timeOp((p) => instanceNormForward(p, x, y, { scale, shift, activation: lrelu })),
      3 * bytes,
    );
    report(
      "instanceNormForward then leakyReluForward",
      shape,
      await timeOp((p) => {
        instanceNormForward(p, x, y, { scale, shift });
        leakyReluForward(p, y, y);
      }),
      3 * bytes,
    );
    report(
      "instanceNorm+leakyRelu forward and backward",
      shape,
      await timeOp((p) => {
        const saved = instanceNormForward(p, x, y, { scale, shift, activation: lrelu });
        instanceNormBackward(p, x, dy, dx, saved, {
          scale,
          shift,
          dscale: g1,
          dshift: g2,
          activation: lrelu,
        });
      }),
      5 * bytes + 3 * bytes,
    );
    report(
      "batchNormForward(train)+prelu",
      shape,
      await timeOp((p) =>
        batchNormForward(p, x, y, {
          scale,
          shift,
          runningMean: rm,
          runningVar: rv,
          activation: { kind: "prelu", slope },
        })
      ),
      3 * bytes,
    );
    report(
      "batchNormForward(train)+prelu and backward",
      shape,
      await timeOp((p) => {
        const act = { kind: "prelu" as const, slope };
        const saved = batchNormForward(p, x, y, {
          scale,
          shift,
          runningMean: rm,
          runningVar: rv,
          activation: act,
        });
        batchNormBackward(p, x, dy, dx, saved, {
          scale,
          shift,
          dscale: g1,
          dshift: g2,
          dslope: g3,
          activation: act,
        });
      }),
      8 * bytes,
    );
    if (d >= 16) {
      const pooled = keep(tensor(maxPoolOutputShape(shape, [2, 2, 2]), false));
      const dpooled = keep(tensor(pooled.shape));
      report(
        "maxPoolForward 2x2x2",
        shape,
        await timeOp((p) => maxPoolForward(p, x, pooled)),
        bytes * (1 + 2 / 8),
      );
      report(
        "maxPool forward+backward 2x2x2",
        shape,
        await timeOp((p) => {
          const saved = maxPoolForward(p, x, pooled);
          maxPoolBackward(p, dpooled, dx, saved);
        }),
        bytes * (1 + 2 / 8) + bytes * (1 + 2 / 8),
      );
    }
    if (d <= 16) {
      const up = keep(tensor(upsampleOutputShape(shape, [2, 2, 2]), false));
      const dup = keep(tensor(up.shape));
      report(
        "upsampleForward 2x2x2",
        shape,
        await timeOp((p) => upsampleForward(p, x, up)),
        bytes * 9,
      );
      report(
        "upsampleBackward 2x2x2",
        shape,
        await timeOp((p) => upsampleBackward(p, dup, dx)),
        bytes * 9,
      );
    }
  }
  // Head and loss-side ops at full resolution.
  const head: Shape5 = [B, 1, 32, 32, 32];
  const hx = keep(tensor(head));
  const hy = keep(tensor(head, false));
  const hdy = keep(tensor(head));
  const hdx = keep(tensor(head, false));
  const hb = numel(head) * 4;
  report("sigmoidForward", head, await timeOp((p) => sigmoidForward(p, hx, hy)), 2 * hb);
  report("sigmoidBackward", head, await timeOp((p) => sigmoidBackward(p, hy, hdy, hdx)), 3 * hb);
  const soft: Shape5 = [B, 4, 32, 32, 32];
  const sx = keep(tensor(soft));
  const sy = keep(tensor(soft, false));
  const sdy = keep(tensor(soft));
  const sdx = keep(tensor(soft, false));
  const sb = numel(soft) * 4;
  report("softmaxForward C=4", soft, await timeOp((p) => softmaxForward(p, sx, sy)), 2 * sb);
  report(
    "softmaxBackward C=4",
    soft,
    await timeOp((p) => softmaxBackward(p, sy, sdy, sdx)),
    3 * sb,
  );
}

{
  // 85,337 parameters, padded like ParamStore's 256-byte slots (the vec4 kernel applies).
  const count = Math.ceil(85337 / 64) * 64;
  const bufs = [0, 1, 2, 3].map(() => keep(rt.createBuffer(new Float32Array(count).fill(0.01))));
  const r = await timeOp((p) => {
    adamUpdate(p, [{ params: bufs[0], grads: bufs[1], m: bufs[2], v: bufs[3], count }]);
  });
  console.log(JSON.stringify({
    op: "adamUpdate (nnn-bench params)",
    count,
    ms: Number(r.ms.toFixed(3)),
    dispatches: r.dispatches,
    GBps: Number((count * 4 * 7 / (r.ms * 1e6)).toFixed(2)),
    adapter: adapter.description,
  }));
}

{
  // The fixed costs: one empty submit-and-wait, and one tiny dispatch.
  const empty = new StepPlan(rt, pool);
  await empty.run();
  const submitMs = await fastest(empty);
  const t = keep(tensor([1, 1, 1, 1, 64]));
  const u = keep(tensor([1, 1, 1, 1, 64], false));
  const r = await timeOp((p) => leakyReluForward(p, t, u));
  console.log(JSON.stringify({
    op: "overhead",
    submitAndWaitMs: Number(submitMs.toFixed(3)),
    tinyDispatchMs: Number(r.ms.toFixed(4)),
    adapter: adapter.description,
  }));
}

for (const b of created) b.destroy();
pool.destroy();
device.destroy();
