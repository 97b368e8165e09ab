/**
 * The Dice-loss family on the GPU (`lib/gpu/ops/dice_loss.ts`) against the float64 reference
 * `diceLoss` (`lib/loss/dice_loss.ts`).
 *
 * Tolerances (float32 on the GPU vs float64):
 * - loss and 1 − sDSC per subset: rtol 1e-4, atol 1e-6. Every sum is compensated, so each
 *   sDSC carries a few float32 roundings (relative ~1e-7); the loss is 1 − their mean, so its
 *   absolute error is ~1e-7 and the atol covers losses near 0.
 * - gradient: rtol 1e-4 plus atol 1e-6·max|∂L/∂ŷ|. The gradient is `cY·y + cC` with
 *   coefficients accurate to ~1e-7 relative; with soft targets the two terms can cancel
 *   (y ≈ −cC/cY), where only an error relative to the gradient's scale is meaningful.
 * - per-map sums at 192×192×48: rtol 2e-6 (see that test).
 */

import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { diceLossGpu, type DiceLossGpuOptions } from "../../lib/gpu/ops/dice_loss.ts";
import { gradTelemetryGpu, parseGradTelemetry } from "../../lib/gpu/ops/telemetry.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { StepPlan } from "../../lib/gpu/step_plan.ts";
import type { Shape5, TensorView } from "../../lib/gpu/tensor.ts";
import { diceLoss } from "../../lib/loss/dice_loss.ts";
import type { DiceVariant, EpsilonInput, Phi } from "../../lib/loss/dice_options.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest, poisoned } from "../_helpers/gpu.ts";
import { Rng } from "../_helpers/random.ts";
import { embed, extract, newPlan, type Placement } from "./_views.ts";

const PHIS: Phi[] = ["I", "CI", "BI", "BCI"];
const VARIANTS: DiceVariant[] = ["plain", "leaf", "marginal"];
const LOSS_TOL = { rtol: 1e-4, atol: 1e-6 };

/** `[B, C, ...spatial]` with 1–3 spatial dims, folded into `[B, C, D, H, W]`. */
function fold(shape: readonly number[]): Shape5 {
  const [b, c, ...sp] = shape;
  const s = [1, 1, 1, ...sp].slice(-3);
  return [b, c, s[0], s[1], s[2]];
}

/** The ε forms of the reference: scalar, pair, per-class numbers, per-class pairs. */
function epsForms(K: number): EpsilonInput[] {
  return [
    1e-7,
    0.5,
    { numerator: 0.25, denominator: 1.5 },
    Array.from({ length: K }, (_, k) => 0.3 + k),
    Array.from({ length: K }, (_, k) => ({ numerator: 0.1 * k, denominator: 0.7 + 2 * k })),
  ];
}

interface Case {
  shape: number[];
  pred: Float32Array;
  target: Float32Array;
}

/** Probabilities in (0.02, 0.98), binary (or soft) targets, and the listed maps emptied. */
function randomCase(
  shape: number[],
  rng: Rng,
  empty: [number, number][],
  soft = false,
): Case {
  const n = shape.reduce((a, b) => a * b, 1);
  const V = n / (shape[0] * shape[1]);
  const pred = new Float32Array(n);
  const target = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    pred[i] = rng.uniform(0.02, 0.98);
    target[i] = soft ? (rng.float() < 0.5 ? rng.float() : 0) : (rng.float() < 0.35 ? 1 : 0);
  }
  for (const [b, c] of empty) target.fill(0, (b * shape[1] + c) * V, (b * shape[1] + c + 1) * V);
  return { shape, pred, target };
}

/**
 * GPU buffers of one case: probabilities as a channel slice whose other channels are NaN (a
 * read outside the view poisons the loss), the gradient as a slice of a NaN-poisoned buffer
 * whose other channels must stay untouched.
 */
class Harness {
  readonly shape5: Shape5;
  readonly probs: TensorView;
  readonly grad: TensorView;
  readonly labels: GPUBuffer;
  readonly loss: GPUBuffer;
  readonly perSubset: GPUBuffer;
  readonly #rt: GpuRuntime;
  readonly #gradPlace: Placement;
  readonly #gradInit: Float32Array;

  constructor(rt: GpuRuntime, c: Case, probsPlace?: Placement, gradPlace?: Placement) {
    this.#rt = rt;
    const s5 = fold(c.shape);
    this.shape5 = s5;
    const pp = probsPlace ?? { cTot: s5[1], cOff: 0 };
    this.#gradPlace = gradPlace ?? { cTot: s5[1], cOff: 0 };
    this.probs = {
      buffer: rt.createBuffer(embed(c.pred, s5, pp, NaN)),
      shape: s5,
      channelStride: pp.cTot,
      channelOffset: pp.cOff,
    };
    this.#gradInit = embed(poisoned(c.pred.length), s5, this.#gradPlace, 12345.5);
    this.grad = {
      buffer: rt.createBuffer(this.#gradInit.byteLength),
      shape: s5,
      channelStride: this.#gradPlace.cTot,
      channelOffset: this.#gradPlace.cOff,
    };
    this.labels = rt.createBuffer(c.target);
    this.loss = rt.createBuffer(16);
    this.perSubset = rt.createBuffer(4 * s5[0] * s5[1] + 16);
  }

  /** Poison every output, run the plan once, and read loss, per-subset losses and gradient. */
  async run(plan: StepPlan, subsets: number) {
    const rt = this.#rt;
    rt.write(this.loss, poisoned(4));
    rt.write(this.perSubset, poisoned(this.perSubset.size / 4));
    rt.write(this.grad.buffer, this.#gradInit);
    const [loss, perSubset, full] = await plan.run([
      { buffer: this.loss, size: 4 },
      { buffer: this.perSubset, size: subsets * 4 },
      { buffer: this.grad.buffer, size: this.#gradInit.byteLength },
    ]);
    // Channels outside the gradient view must keep their sentinel.
    const [n, ch, d, hh, w] = this.shape5;
    const V = d * hh * w;
    const { cTot, cOff } = this.#gradPlace;
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < cTot; j++) {
        if (j >= cOff && j < cOff + ch) continue;
        for (let i = (b * cTot + j) * V; i < (b * cTot + j + 1) * V; i++) {
          assert.equal(full[i], this.#gradInit[i], `gradient written outside its view at ${i}`);
        }
      }
    }
    const ext = extract(full, this.shape5, this.#gradPlace);
    return { loss: loss[0], perSubset, grad: ext };
  }

  destroy(): void {
    for (const b of [this.probs.buffer, this.grad.buffer, this.labels, this.loss, this.perSubset]) {
      b.destroy();
    }
  }
}

function checkAgainstReference(
  got: { loss: number; perSubset: Float32Array; grad: Float32Array },
  c: Case,
  options: Parameters<typeof diceLoss>[3],
  label: string,
): void {
  const ref = diceLoss(c.pred, c.target, c.shape, options);
  assertClose(got.loss, ref.loss, { ...LOSS_TOL, label: `${label} loss` });
  assertClose(got.perSubset, ref.perSubset, { ...LOSS_TOL, label: `${label} perSubset` });
  let scale = 0;
  for (const g of ref.grad) scale = Math.max(scale, Math.abs(g));
  assertClose(got.grad, ref.grad, { rtol: 1e-4, atol: 1e-6 * scale, label: `${label} grad` });
}

// Shapes `[B, C, ...spatial]`: B = 1, 2, 3; C = 1, 2, 4; 1 to 3 odd spatial dims. Empty maps:
// the last class of image 0 and the first class of the last image (when they differ).
const SHAPES: number[][] = [
  [1, 1, 37],
  [2, 1, 5, 7],
  [3, 2, 3, 5, 7],
  [1, 2, 9, 11],
  [2, 4, 5, 3, 7],
  [3, 4, 61],
];

gpuTest("diceLossGpu matches diceLoss for every Φ × variant × ε form on odd shapes", async (rt) => {
  const rng = new Rng(2024);
  const pool = new BufferPool(rt.device);
  let runs = 0;
  for (const [si, shape] of SHAPES.entries()) {
    const [B, C] = shape;
    const empty: [number, number][] = [[0, C - 1]];
    if (B > 1 || C > 1) empty.push([B - 1, 0]);
    const c = randomCase(shape, rng, empty, si === 4);
    // Alternate whole-buffer and channel-slice views.
    const h = si % 2 === 0
      ? new Harness(rt, c)
      : new Harness(rt, c, { cTot: C + 2, cOff: 1 }, { cTot: C + 1, cOff: 1 });
    const classSets: (number[] | undefined)[] = [undefined];
    if (C >= 2) classSets.push(Array.from({ length: C - 1 }, (_, k) => k + 1));
    if (C >= 4) classSets.push([3, 0]);
    for (const phi of PHIS) {
      for (const variant of VARIANTS) {
        if (variant === "marginal" && C < 2) continue;
        // The marginal variant also merges into a background other than channel 0.
        const extras: { classes?: number[]; background?: number }[] = classSets.map((
          classes,
        ) => ({ classes }));
        if (variant === "marginal") extras.push({ background: C - 1 });
        for (const { classes, background } of extras) {
          const K = classes?.length ?? C;
          // A mask that marks a labelled map missing and keeps an empty map labelled.
          const masks: (boolean[][] | undefined)[] = [undefined];
          if (variant !== "plain") {
            masks.push(
              Array.from(
                { length: B },
                (_, b) => Array.from({ length: C }, (_, ch) => (b + ch) % 3 !== 1 || ch === 0),
              ),
            );
          }
          for (const labeled of masks) {
            const forms = classes === undefined && labeled === undefined
              ? epsForms(K)
              : [epsForms(K)[1], epsForms(K)[4]];
            const plan = new StepPlan(rt, pool);
            const base = { phi, variant, classes, labeled, background };
            const op = diceLossGpu(plan, h.probs, h.labels, { ...base, epsilon: forms[0] }, {
              loss: h.loss,
              perSubset: h.perSubset,
              grad: h.grad,
            });
            for (const epsilon of forms) {
              op.setEpsilon(epsilon);
              const got = await h.run(plan, op.subsetCount);
              const label = `${JSON.stringify(shape)} ${phi} ${variant} ${
                JSON.stringify({ classes, background, labeled, epsilon })
              }`;
              checkAgainstReference(got, c, { ...base, epsilon }, label);
              runs++;
            }
            plan.dispose();
          }
        }
      }
    }
    h.destroy();
  }
  await rt.checkCompilation();
  pool.destroy();
  assert.ok(runs > 300, `only ${runs} runs`);
});

gpuTest("diceLossGpu all-zero prediction and target: loss 0 and gradient 1/(|Φ|ε)", async (rt) => {
  const pool = new BufferPool(rt.device);
  const shape = [2, 3, 5, 7];
  const n = 2 * 3 * 35;
  const c: Case = { shape, pred: new Float32Array(n), target: new Float32Array(n) };
  const h = new Harness(rt, c);
  for (const phi of PHIS) {
    for (const eps of [1e-7, 0.25]) {
      const plan = new StepPlan(rt, pool);
      const op = diceLossGpu(plan, h.probs, h.labels, { phi, epsilon: eps }, {
        loss: h.loss,
        perSubset: h.perSubset,
        grad: h.grad,
      });
      const got = await h.run(plan, op.subsetCount);
      assert.equal(got.loss, 0, `${phi} ε ${eps}: loss`);
      // ε is rounded to float32 once, and 1/(|Φ|·ε) once more.
      const expected = new Float64Array(n).fill(1 / (op.subsetCount * eps));
      assertClose(got.grad, expected, { rtol: 2e-7, atol: 0, label: `${phi} ε ${eps}` });
      plan.dispose();
    }
  }
  h.destroy();
  pool.destroy();
});

gpuTest("diceLossGpu writes a NaN loss when a subset has a zero denominator", async (rt) => {
  const pool = new BufferPool(rt.device);
  const shape = [1, 2, 9];
  const c: Case = { shape, pred: new Float32Array(18), target: new Float32Array(18) };
  c.pred[3] = 0.5; // image 0 class 0 has mass; class 1 is all zero with ε = 0
  c.target[3] = 1;
  assert.throws(() => diceLoss(c.pred, c.target, shape, { epsilon: 0 }), RangeError);
  const h = new Harness(rt, c);
  const plan = new StepPlan(rt, pool);
  const op = diceLossGpu(plan, h.probs, h.labels, { epsilon: 0 }, {
    loss: h.loss,
    perSubset: h.perSubset,
    grad: h.grad,
  });
  const [loss] = await plan.run([op.lossReadback]);
  assert.ok(Number.isNaN(loss[0]), `loss ${loss[0]}`);
  plan.dispose();
  h.destroy();
  pool.destroy();
});

gpuTest("diceLossGpu reads a GPU labelled mask and switches masks with setLabeled", async (rt) => {
  const rng = new Rng(11);
  const pool = new BufferPool(rt.device);
  const shape = [2, 3, 4, 5, 3];
  const c = randomCase(shape, rng, [[0, 2]]);
  const h = new Harness(rt, c);
  const maskA = [[true, false, true], [true, true, false]];
  const maskB = [[true, true, false], [false, true, true]];
  const toU32 = (m: boolean[][]) => Uint32Array.from(m.flat(), (v) => (v ? 7 : 0));
  const maskBuffer = rt.createBuffer(toU32(maskA));
  for (const variant of ["leaf", "marginal"] as const) {
    // Caller-owned GPU buffer, rewritten between runs.
    const plan = new StepPlan(rt, pool);
    const outputs = { loss: h.loss, perSubset: h.perSubset, grad: h.grad };
    const op = diceLossGpu(plan, h.probs, h.labels, {
      phi: "BI",
      variant,
      epsilon: 0.5,
      labeled: maskBuffer,
    }, outputs);
    for (const mask of [maskA, maskB]) {
      rt.write(maskBuffer, toU32(mask));
      const got = await h.run(plan, op.subsetCount);
      checkAgainstReference(got, c, { phi: "BI", variant, epsilon: 0.5, labeled: mask }, variant);
    }
    assert.throws(() => op.setLabeled(maskA), TypeError);
    plan.dispose();
    // Host masks through setLabeled, and back to the default rule.
    const plan2 = new StepPlan(rt, pool);
    const op2 = diceLossGpu(plan2, h.probs, h.labels, { phi: "I", variant, epsilon: 0.5 }, outputs);
    for (const mask of [maskB, undefined, maskA]) {
      op2.setLabeled(mask);
      const got = await h.run(plan2, op2.subsetCount);
      checkAgainstReference(got, c, { phi: "I", variant, epsilon: 0.5, labeled: mask }, variant);
    }
    assert.throws(() => op2.setLabeled([[true]]), TypeError);
    plan2.dispose();
  }
  maskBuffer.destroy();
  h.destroy();
  pool.destroy();
});

gpuTest("diceLossGpu may write the gradient over the probabilities", async (rt) => {
  const rng = new Rng(3);
  const pool = new BufferPool(rt.device);
  const shape = [3, 2, 5, 7, 3];
  const c = randomCase(shape, rng, [[1, 1]]);
  const buffer = rt.createBuffer(c.pred);
  const view = { buffer, shape: fold(shape) };
  const loss = rt.createBuffer(4);
  const plan = new StepPlan(rt, pool);
  const options = { phi: "CI", variant: "marginal", epsilon: 0.5 } as const;
  const labels = rt.createBuffer(c.target);
  const op = diceLossGpu(plan, view, labels, options, { loss, grad: view });
  const [l, grad] = await plan.run([op.lossReadback, { buffer, size: c.pred.byteLength }]);
  const ref = diceLoss(c.pred, c.target, shape, options);
  assertClose(l[0], ref.loss, LOSS_TOL);
  assertClose(grad, ref.grad, { rtol: 1e-4, atol: 1e-8 });
  plan.dispose();
  for (const b of [buffer, labels, loss]) b.destroy();
  pool.destroy();
});

gpuTest("diceLossGpu rejects mismatched views, small buffers and bad options", (rt) => {
  const pool = new BufferPool(rt.device);
  const plan = new StepPlan(rt, pool);
  const shape: Shape5 = [2, 3, 2, 3, 5];
  const n = 2 * 3 * 30;
  const probs = { buffer: rt.createBuffer(n * 4), shape };
  const labels = rt.createBuffer(n * 4);
  const loss = rt.createBuffer(4);
  const grad = { buffer: rt.createBuffer(n * 4), shape };
  const bad = { buffer: grad.buffer, shape: [2, 3, 2, 3, 4] as Shape5 };
  const call = (opts: DiceLossGpuOptions, o: Partial<{ grad: TensorView; labels: GPUBuffer }>) =>
    diceLossGpu(plan, probs, o.labels ?? labels, opts, { loss, grad: o.grad ?? grad });
  assert.throws(() => call({}, { grad: bad }), /outputs\.grad/);
  assert.throws(() => call({}, { labels: rt.createBuffer(16) }), /Invalid target/);
  assert.throws(() => call({ phi: "X" as Phi }, {}), RangeError);
  assert.throws(() => call({ epsilon: -1 }, {}), RangeError);
  assert.throws(() => call({ classes: [3] }, {}), RangeError);
  assert.throws(() => call({ variant: "leaf", labeled: rt.createBuffer(8) }, {}), /labeled/);
  plan.dispose();
  pool.destroy();
});

gpuTest(
  "diceLossGpu and gradTelemetryGpu sums do not drift at 192×192×48 with B = 2, C = 4",
  async (rt) => {
    // Error budget of a sum over V = 1,769,472 voxels: Kahan within each invocation (≤ 256
    // voxels) and again over the 8192 partials, so |error| ≲ 2u·Σ|x| per stage, u = 2⁻²⁴:
    // about 2.4e-7 relative in total. rtol 2e-6 leaves a margin of 8 and still fails a naive
    // float32 running sum, whose drift is checked below to exceed it.
    const rng = new Rng(48);
    const shape = [2, 4, 48, 192, 192];
    const V = 48 * 192 * 192;
    const c = randomCase(shape, rng, [[0, 3]]);
    const h = new Harness(rt, c);
    const pool = new BufferPool(rt.device);
    for (const variant of ["plain", "marginal"] as const) {
      const options = { phi: variant === "plain" ? "BI" : "I", variant, epsilon: 1e-7 } as const;
      const plan = new StepPlan(rt, pool);
      const op = diceLossGpu(plan, h.probs, h.labels, options, {
        loss: h.loss,
        perSubset: h.perSubset,
        grad: h.grad,
      });
      const summary = rt.createBuffer(poisoned(8));
      gradTelemetryGpu(plan, h.grad, h.labels, {}, { summary });
      const got = await h.run(plan, op.subsetCount);
      const sums = await rt.read(op.sums, 8 * op.quantities * (variant === "plain" ? 4 : 1));
      checkAgainstReference(got, c, options, `192×192×48 ${variant}`);
      // Telemetry over the same volume: mean |g| of the GPU's own gradient, to a few ulps.
      const t = parseGradTelemetry(await rt.read(summary));
      summary.destroy();
      const means = [0, 0];
      for (let m = 0; m < 8; m++) {
        let acc = 0;
        for (let i = m * V; i < (m + 1) * V; i++) acc += Math.abs(got.grad[i]);
        means[m === 3 ? 0 : 1] += acc / V;
      }
      assert.deepEqual([t.countEmpty, t.countLabelled], [1, 7]);
      assertClose(t.meanAbsGradEmpty, means[0], { rtol: 2e-6, atol: 0, label: "telemetry" });
      assertClose(t.meanAbsGradLabelled, means[1] / 7, { rtol: 2e-6, atol: 0, label: "telemetry" });
      // Float64 sums of every map (b, c): Σyŷ, Σy, Σŷ.
      let naiveWorst = 0;
      for (let b = 0; b < 2; b++) {
        for (let ch = 0; ch < 4; ch++) {
          const base = (b * 4 + ch) * V;
          let syp = 0, sy = 0, sp = 0, naive = 0;
          for (let i = 0; i < V; i++) {
            const y = c.target[base + i], p = c.pred[base + i];
            syp += y * p;
            sy += y;
            sp += p;
            naive = Math.fround(naive + p);
          }
          naiveWorst = Math.max(naiveWorst, Math.abs(naive - sp) / sp);
          const gpu = variant === "plain"
            ? [sums[(b * 4 + ch) * 4], sums[(b * 4 + ch) * 4 + 1], sums[(b * 4 + ch) * 4 + 2]]
            : [sums[b * 28 + ch * 4 + ch], sums[b * 28 + 16 + ch], sums[b * 28 + 20 + ch]];
          assertClose(gpu, [syp, sy, sp], { rtol: 2e-6, atol: 0, label: `map ${b},${ch}` });
        }
      }
      assert.ok(naiveWorst > 2e-6, `a naive float32 sum drifts only ${naiveWorst}`);
      plan.dispose();
    }
    h.destroy();
    pool.destroy();
  },
);

gpuTest(
  "diceLossGpu over groups of samples under a 64 KiB binding limit, bit for bit",
  async (rt) => {
    // Probabilities, target and gradient exceed 64 KiB (the per-invocation partials do not),
    // so the partial and gradient kernels run
    // per group of whole samples on buffer ranges; partials land where the unchunked kernels put
    // them and the finalisation is unchanged, so loss, per-subset losses and gradient are
    // bit-identical (and match the float64 reference as above).
    const rng = new Rng(77);
    for (const shape of [[3, 2, 13, 15, 17], [2, 4, 11, 13, 15]]) {
      const C = shape[1];
      const c = randomCase(shape, rng, [[0, C - 1], [shape[0] - 1, 0]]);
      const h = new Harness(rt, c, { cTot: C + 2, cOff: 1 }, { cTot: C + 1, cOff: 1 });
      for (const phi of PHIS) {
        for (const variant of VARIANTS) {
          const options = { phi, variant, epsilon: 0.5 };
          const runs = [];
          for (const bindingLimit of [undefined, 65536]) {
            const { plan, done } = newPlan(rt, { bindingLimit });
            const op = diceLossGpu(plan, h.probs, h.labels, options, {
              loss: h.loss,
              perSubset: h.perSubset,
              grad: h.grad,
            });
            const got = await h.run(plan, op.subsetCount);
            const label = `${JSON.stringify(shape)} ${phi} ${variant} limit ${bindingLimit}`;
            checkAgainstReference(got, c, options, label);
            runs.push({ got, dispatches: plan.dispatches.length });
            done();
          }
          const [a, b] = runs;
          assert.ok(b.dispatches > a.dispatches, "the 64 KiB limit made no chunks");
          assert.deepEqual(b.got, a.got);
        }
      }
      h.destroy();
    }
    await rt.checkCompilation();
  },
);
