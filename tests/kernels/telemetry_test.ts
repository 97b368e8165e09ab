/**
 * Gradient telemetry on the GPU (`lib/gpu/ops/telemetry.ts`) against a float64 computation on
 * the host: per map the mean |∂L/∂ŷ| and whether the target is empty, and the summary over
 * empty, labelled and missing maps.
 *
 * Tolerances: on a given float32 gradient the compensated GPU sums are accurate to a few ulps
 * (rtol 1e-5). Against the float64 reference gradient of `diceLoss`, the GPU gradient itself
 * differs by ~1e-6 relative (see `dice_loss_test.ts`), so the means use rtol 1e-4.
 */

import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { diceLossGpu } from "../../lib/gpu/ops/dice_loss.ts";
import {
  type GradTelemetry,
  gradTelemetryGpu,
  parseGradTelemetry,
} from "../../lib/gpu/ops/telemetry.ts";
import { StepPlan } from "../../lib/gpu/step_plan.ts";
import type { Shape5 } from "../../lib/gpu/tensor.ts";
import { diceLoss } from "../../lib/loss/dice_loss.ts";
import type { DiceLossOptions } from "../../lib/loss/dice_options.ts";
import { heuristicEpsilon } from "../../lib/loss/heuristic_epsilon.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest, poisoned } from "../_helpers/gpu.ts";
import { Rng } from "../_helpers/random.ts";
import { assertChunkedAgrees, embed, newPlan, recorded } from "./_views.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";

interface HostTelemetry {
  /** `[row·4 + (mean |g|, empty, labelled, bucket)]`, rows `b·K + k`. */
  perMap: Float64Array;
  summary: GradTelemetry;
}

/** Float64 telemetry of a dense gradient `[B, C, V]`. */
function hostTelemetry(
  grad: ArrayLike<number>,
  target: ArrayLike<number>,
  B: number,
  C: number,
  V: number,
  classes: readonly number[] = Array.from({ length: C }, (_, c) => c),
  labeled?: boolean[][],
): HostTelemetry {
  const K = classes.length;
  const perMap = new Float64Array(B * K * 4);
  const total = [0, 0, 0];
  const count = [0, 0, 0];
  let all = 0;
  let top = 0;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const base = (b * C + classes[k]) * V;
      let s = 0;
      let any = false;
      for (let i = 0; i < V; i++) {
        s += Math.abs(grad[base + i]);
        if (target[base + i] !== 0) any = true;
      }
      const mean = s / V;
      const labelled = labeled ? labeled[b][classes[k]] : any;
      const bucket = labeled && !labelled ? 2 : !any ? 0 : 1;
      perMap.set([mean, any ? 0 : 1, labelled ? 1 : 0, bucket], (b * K + k) * 4);
      total[bucket] += mean;
      count[bucket]++;
      all += mean;
      top = Math.max(top, mean);
    }
  }
  const mean = (q: number) => (count[q] > 0 ? total[q] / count[q] : NaN);
  return {
    perMap,
    summary: {
      meanAbsGradEmpty: mean(0),
      meanAbsGradLabelled: mean(1),
      meanAbsGradMissing: mean(2),
      countEmpty: count[0],
      countLabelled: count[1],
      countMissing: count[2],
      meanAbsGradAll: all / (B * K),
      maxMeanAbsGrad: top,
    },
  };
}

function assertTelemetry(
  got: { perMap: Float32Array; summary: GradTelemetry },
  want: HostTelemetry,
  rtol: number,
  label: string,
): void {
  const rows = want.perMap.length / 4;
  for (let r = 0; r < rows; r++) {
    assertClose(got.perMap[4 * r], want.perMap[4 * r], {
      rtol,
      atol: 0,
      label: `${label} row ${r}`,
    });
    for (let q = 1; q < 4; q++) {
      assert.equal(got.perMap[4 * r + q], want.perMap[4 * r + q], `${label} row ${r} field ${q}`);
    }
  }
  const g = got.summary;
  const w = want.summary;
  for (const key of ["countEmpty", "countLabelled", "countMissing"] as const) {
    assert.equal(g[key], w[key], `${label} ${key}`);
  }
  for (
    const key of [
      "meanAbsGradEmpty",
      "meanAbsGradLabelled",
      "meanAbsGradMissing",
      "meanAbsGradAll",
      "maxMeanAbsGrad",
    ] as const
  ) {
    if (Number.isNaN(w[key])) assert.ok(Number.isNaN(g[key]), `${label} ${key} = ${g[key]}`);
    else assertClose(g[key], w[key], { rtol, atol: 0, label: `${label} ${key}` });
  }
}

function randomCase(shape: Shape5, rng: Rng, empty: [number, number][]) {
  const n = shape.reduce((a, b) => a * b, 1);
  const V = shape[2] * shape[3] * shape[4];
  const pred = new Float32Array(n);
  const target = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    pred[i] = rng.uniform(0.02, 0.98);
    target[i] = rng.float() < 0.3 ? 1 : 0;
  }
  for (const [b, c] of empty) target.fill(0, (b * shape[1] + c) * V, (b * shape[1] + c + 1) * V);
  return { pred, target };
}

async function _uploaded(rt: GpuRuntime, chunky = false): Promise<void> {
  const rng = new Rng(5);
  const pool = new BufferPool(rt.device);
  const few: { shape: Shape5; classes?: number[]; labeled?: boolean[][] }[] = [
    { shape: [1, 1, 1, 1, 37] },
    { shape: [2, 3, 3, 5, 7] },
    { shape: [3, 4, 1, 9, 11], classes: [3, 1] },
    {
      shape: [2, 2, 5, 3, 7],
      labeled: [[true, false], [false, true]],
    },
  ];
  // Volumes whose gradient and target exceed a 32 KiB binding (the partials do not).
  const big: typeof few = [{ shape: [2, 2, 9, 11, 13] }, {
    shape: [3, 3, 7, 9, 11],
    classes: [2, 0],
  }];
  const cases = chunky ? big : few;
  for (const { shape, classes, labeled } of cases) {
    const [B, C, D, H, W] = shape;
    const V = D * H * W;
    const n = B * C * V;
    const grad = new Float32Array(n);
    for (let i = 0; i < n; i++) grad[i] = rng.uniform(-2, 1) * 10 ** rng.uniform(-3, 0);
    const { target } = randomCase(shape, rng, [[0, C - 1], [B - 1, 0]]);
    const place = { cTot: C + 2, cOff: 1 };
    const gradBuffer = rt.createBuffer(embed(grad, shape, place, NaN));
    const labels = rt.createBuffer(target);
    const summary = rt.createBuffer(poisoned(8));
    const K = classes?.length ?? C;
    const perMap = rt.createBuffer(poisoned(B * K * 4));
    const { plan, done } = newPlan(rt);
    const tel = gradTelemetryGpu(
      plan,
      { buffer: gradBuffer, shape, channelStride: place.cTot, channelOffset: place.cOff },
      labels,
      { classes, labeled },
      { summary, perMap },
    );
    const [s, m] = (await plan.run([tel.summaryReadback, tel.perMapReadback!])).map(recorded);
    const want = hostTelemetry(grad, target, B, C, V, classes, labeled);
    assertTelemetry(
      { perMap: m, summary: parseGradTelemetry(s) },
      want,
      1e-5,
      JSON.stringify(shape),
    );
    done();
    for (const b of [gradBuffer, labels, summary, perMap]) b.destroy();
  }
  await rt.checkCompilation();
  pool.destroy();
}

gpuTest(
  "gradTelemetryGpu on an uploaded gradient matches float64 means of |g|",
  (rt) => _uploaded(rt),
);

gpuTest(
  "gradTelemetryGpu over groups of samples under a 32 KiB binding limit, bit for bit",
  (rt) => assertChunkedAgrees(32768, () => _uploaded(rt, true)),
);

gpuTest(
  "gradTelemetryGpu after diceLossGpu matches telemetry of the reference gradient",
  async (rt) => {
    const rng = new Rng(9);
    const pool = new BufferPool(rt.device);
    const shape: Shape5 = [3, 3, 5, 7, 9];
    const [B, C, D, H, W] = shape;
    const V = D * H * W;
    const { pred, target } = randomCase(shape, rng, [[0, 2], [1, 1], [2, 2]]);
    const probs = rt.createBuffer(pred);
    const labels = rt.createBuffer(target);
    const gradBuffer = rt.createBuffer(pred.byteLength);
    const loss = rt.createBuffer(4);
    const summary = rt.createBuffer(32);
    const perMap = rt.createBuffer(B * C * 16);
    const eps = heuristicEpsilon(target, [B, C, D, H, W]);
    const mask = [[true, true, false], [true, true, true], [false, true, true]];
    const configs: { options: DiceLossOptions; classes?: number[]; labeled?: boolean[][] }[] = [
      { options: { phi: "I", epsilon: 1e-7 } },
      { options: { phi: "BI", epsilon: 1e-7 }, classes: [1, 2] },
      { options: { phi: "I", epsilon: eps } },
      { options: { phi: "CI", variant: "leaf", epsilon: 0.5, labeled: mask }, labeled: mask },
      { options: { phi: "BCI", variant: "marginal", epsilon: 0.5 } },
    ];
    for (const { options, classes, labeled } of configs) {
      rt.write(gradBuffer, poisoned(pred.length));
      rt.write(summary, poisoned(8));
      rt.write(perMap, poisoned(B * C * 4));
      const plan = new StepPlan(rt, pool);
      const grad = { buffer: gradBuffer, shape };
      const dice = diceLossGpu(plan, { buffer: probs, shape }, labels, options, { loss, grad });
      const tel = gradTelemetryGpu(plan, grad, labels, { classes, labeled }, { summary, perMap });
      const [, s, m] = await plan.run([
        dice.lossReadback,
        tel.summaryReadback,
        tel.perMapReadback!,
      ]);
      const ref = diceLoss(pred, target, [B, C, D, H, W], options);
      const want = hostTelemetry(ref.grad, target, B, C, V, classes, labeled);
      assertTelemetry(
        { perMap: m, summary: parseGradTelemetry(s) },
        want,
        1e-4,
        JSON.stringify(options),
      );
      plan.dispose();
    }
    for (const b of [probs, labels, gradBuffer, loss, summary, perMap]) b.destroy();
    pool.destroy();
  },
);

gpuTest(
  "gradTelemetryGpu shows the real motor: empty maps move under BI and I_ε, not under I",
  async (rt) => {
    // Tilborghs, Bertels et al. 2022, Sect. 2.2–2.3: with ε = 1e-7 the gradient on an empty map
    // under Φ = I is ~ε/(Σŷ)², negligible; under BI (B > 1) or with the heuristic ε it is not.
    const rng = new Rng(6);
    const pool = new BufferPool(rt.device);
    const shape: Shape5 = [4, 1, 9, 9, 5];
    const { pred, target } = randomCase(shape, rng, [[2, 0]]);
    const probs = rt.createBuffer(pred);
    const labels = rt.createBuffer(target);
    const gradBuffer = rt.createBuffer(pred.byteLength);
    const loss = rt.createBuffer(4);
    const summary = rt.createBuffer(32);
    const eps = heuristicEpsilon(target, [4, 1, 9, 9, 5]);
    const results: Record<string, GradTelemetry> = {};
    for (
      const [name, options] of [
        ["I", { phi: "I", epsilon: 1e-7 }],
        ["BI", { phi: "BI", epsilon: 1e-7 }],
        ["I_eps", { phi: "I", epsilon: eps }],
      ] as const
    ) {
      const plan = new StepPlan(rt, pool);
      const grad = { buffer: gradBuffer, shape };
      const dice = diceLossGpu(plan, { buffer: probs, shape }, labels, options, { loss, grad });
      const tel = gradTelemetryGpu(plan, grad, labels, {}, { summary });
      const [, s] = await plan.run([dice.lossReadback, tel.summaryReadback]);
      results[name] = parseGradTelemetry(s);
      plan.dispose();
    }
    for (const t of Object.values(results)) {
      assert.equal(t.countEmpty, 1);
      assert.equal(t.countLabelled, 3);
      assert.ok(t.meanAbsGradLabelled > 1e-4);
    }
    assert.ok(results.I.meanAbsGradEmpty < 1e-6, `I: ${results.I.meanAbsGradEmpty}`);
    assert.ok(results.BI.meanAbsGradEmpty > 1e-4, `BI: ${results.BI.meanAbsGradEmpty}`);
    assert.ok(results.I_eps.meanAbsGradEmpty > 1e-4, `I_eps: ${results.I_eps.meanAbsGradEmpty}`);
    for (const b of [probs, labels, gradBuffer, loss, summary]) b.destroy();
    pool.destroy();
  },
);

gpuTest("gradTelemetryGpu rejects bad classes, masks and small buffers", (rt) => {
  const pool = new BufferPool(rt.device);
  const plan = new StepPlan(rt, pool);
  const shape: Shape5 = [2, 2, 1, 3, 5];
  const grad = { buffer: rt.createBuffer(60 * 4), shape };
  const labels = rt.createBuffer(60 * 4);
  const summary = rt.createBuffer(32);
  assert.throws(
    () => gradTelemetryGpu(plan, grad, labels, { classes: [2] }, { summary }),
    RangeError,
  );
  assert.throws(
    () => gradTelemetryGpu(plan, grad, labels, { labeled: [[true, true]] }, { summary }),
    TypeError,
  );
  assert.throws(
    () => gradTelemetryGpu(plan, grad, rt.createBuffer(16), {}, { summary }),
    /Invalid target/,
  );
  assert.throws(
    () => gradTelemetryGpu(plan, grad, labels, {}, { summary: rt.createBuffer(16) }),
    /outputs\.summary/,
  );
  assert.throws(() => parseGradTelemetry([1, 2, 3]), TypeError);
  plan.dispose();
  pool.destroy();
});
