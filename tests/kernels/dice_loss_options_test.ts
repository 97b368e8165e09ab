/**
 * The Dice loss's voxel mask, squared denominator and label sets on the GPU
 * (`lib/gpu/ops/dice_loss.ts`) against the float64 reference `diceLoss`
 * (`lib/loss/dice_loss.ts`), alone and combined, with every Φ and variant.
 *
 * Tolerances (float32 on the GPU vs float64), as in dice_loss_test.ts:
 * - loss and 1 − sDSC per subset: rtol 1e-4, atol 1e-6 (each sDSC carries a few float32
 *   roundings of compensated sums, ~1e-7 relative).
 * - gradient: rtol 1e-4 plus atol 1e-6·max|∂L/∂ŷ| (the terms `cY·y'` and `cC·∂D` can cancel).
 * - ignored voxels: gradient exactly 0 (not within a tolerance).
 * The worst errors seen are printed once per test (`max abs/rel`) for the record.
 */

import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { diceLossGpu, type DiceLossGpuOptions } from "../../lib/gpu/ops/dice_loss.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { StepPlan } from "../../lib/gpu/step_plan.ts";
import type { Shape5, TensorView } from "../../lib/gpu/tensor.ts";
import { diceLoss } from "../../lib/loss/dice_loss.ts";
import type { DiceLossOptions, DiceVariant, Phi } from "../../lib/loss/dice_options.ts";
import { assertClose } from "../_helpers/assert_close.ts";
import { gpuTest, poisoned } from "../_helpers/gpu.ts";
import { Rng } from "../_helpers/random.ts";
import { embed, extract, newPlan, type Placement } from "./_views.ts";

const PHIS: Phi[] = ["I", "CI", "BI", "BCI"];
const LOSS_TOL = { rtol: 1e-4, atol: 1e-6 };

function fold(shape: readonly number[]): Shape5 {
  const [b, c, ...sp] = shape;
  const s = [1, 1, 1, ...sp].slice(-3);
  return [b, c, s[0], s[1], s[2]];
}

/** The label sets used per channel count (each has a member that a kept subset drops). */
function setsFor(C: number): number[][] {
  if (C === 2) return [[0, 1]];
  if (C === 3) return [[0, 2], [1, 2]];
  return [[0, 2], [1, 3, 4], [2, C - 1]];
}

interface Case {
  shape: number[];
  pred: Float32Array;
  target: Float32Array;
  /** `[B·V]` 0/1, about a quarter ignored. */
  voxelMask: Uint8Array;
  /** `[B·C·V]` 0/1, about a quarter ignored. */
  mapMask: Float32Array;
  labelSets: number[][];
  /** `[B·V]`, about a third of the voxels set-labelled (their target rows are zero). */
  labelSetIndex: Uint16Array;
}

/**
 * Probabilities in (0.02, 0.98), binary targets, map (0, C − 1) empty, and map (B − 1, 1)
 * labelled only on voxels the voxel mask ignores (so it is missing under the mask).
 */
function randomCase(shape: number[], rng: Rng): Case {
  const [B, C] = shape;
  const n = shape.reduce((a, b) => a * b, 1);
  const V = n / (B * C);
  const pred = new Float32Array(n);
  const target = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    pred[i] = rng.uniform(0.02, 0.98);
    target[i] = rng.float() < 0.35 ? 1 : 0;
  }
  const voxelMask = Uint8Array.from({ length: B * V }, () => (rng.float() < 0.25 ? 0 : 1));
  const mapMask = Float32Array.from({ length: n }, () => (rng.float() < 0.25 ? 0 : 1));
  target.fill(0, (C - 1) * V, C * V);
  if (C > 1) {
    const base = ((B - 1) * C + 1) * V;
    for (let i = 0; i < V; i++) target[base + i] = voxelMask[(B - 1) * V + i] === 0 ? 1 : 0;
  }
  const labelSets = C >= 2 ? setsFor(C) : [];
  const labelSetIndex = new Uint16Array(B * V);
  if (C >= 2) {
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < V; i++) {
        if (rng.float() >= 0.33) continue;
        labelSetIndex[b * V + i] = 1 + rng.int(labelSets.length);
        for (let c = 0; c < C; c++) target[(b * C + c) * V + i] = 0;
      }
    }
  }
  return { shape, pred, target, voxelMask, mapMask, labelSets, labelSetIndex };
}

/** GPU buffers of a case: probabilities and gradient as NaN/sentinel-padded channel slices. */
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

  get outputs() {
    return { loss: this.loss, perSubset: this.perSubset, grad: this.grad };
  }

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
    return { loss: loss[0], perSubset, grad: extract(full, this.shape5, this.#gradPlace) };
  }

  destroy(): void {
    for (const b of [this.probs.buffer, this.grad.buffer, this.labels, this.loss, this.perSubset]) {
      b.destroy();
    }
  }
}

/** Worst errors against the reference, kept for the record. */
const worst = { lossAbs: 0, lossRel: 0, gradAbs: 0, gradRel: 0, gradScaled: 0 };

function resetWorst(): void {
  Object.assign(worst, { lossAbs: 0, lossRel: 0, gradAbs: 0, gradRel: 0, gradScaled: 0 });
}

function reportWorst(name: string, runs: number): void {
  const f = (x: number) => x.toExponential(2);
  console.log(
    `${name}: ${runs} runs; loss max abs ${f(worst.lossAbs)} rel ${f(worst.lossRel)}; ` +
      `grad max abs ${f(worst.gradAbs)}, max abs/max|g| ${f(worst.gradScaled)}, ` +
      `max rel (|g| > 1e-3·max|g|) ${f(worst.gradRel)}`,
  );
}

function checkAgainstReference(
  got: { loss: number; perSubset: Float32Array; grad: Float32Array },
  c: Case,
  options: DiceLossOptions,
  label: string,
): void {
  const ref = diceLoss(c.pred, c.target, c.shape, options);
  assertClose(got.loss, ref.loss, { ...LOSS_TOL, label: `${label} loss` });
  assertClose(got.perSubset, ref.perSubset, { ...LOSS_TOL, label: `${label} perSubset` });
  let scale = 0;
  for (const g of ref.grad) scale = Math.max(scale, Math.abs(g));
  assertClose(got.grad, ref.grad, { rtol: 1e-4, atol: 1e-6 * scale, label: `${label} grad` });
  const dl = Math.abs(got.loss - ref.loss);
  worst.lossAbs = Math.max(worst.lossAbs, dl);
  if (ref.loss !== 0) worst.lossRel = Math.max(worst.lossRel, dl / Math.abs(ref.loss));
  for (let i = 0; i < ref.grad.length; i++) {
    const d = Math.abs(got.grad[i] - ref.grad[i]);
    worst.gradAbs = Math.max(worst.gradAbs, d);
    if (scale > 0) worst.gradScaled = Math.max(worst.gradScaled, d / scale);
    if (Math.abs(ref.grad[i]) > 1e-3 * scale) {
      worst.gradRel = Math.max(worst.gradRel, d / Math.abs(ref.grad[i]));
    }
  }
  // Ignored voxels: exactly zero, whatever the prediction and target there.
  const [B, C] = c.shape;
  const V = c.pred.length / (B * C);
  const mask = options.mask;
  if (mask) {
    const perVoxel = mask.length === B * V;
    for (let b = 0; b < B; b++) {
      for (let ch = 0; ch < C; ch++) {
        for (let i = 0; i < V; i++) {
          const m = perVoxel ? mask[b * V + i] : mask[(b * C + ch) * V + i];
          if (m === 0 && got.grad[(b * C + ch) * V + i] !== 0) {
            throw new Error(
              `${label}: gradient ${got.grad[(b * C + ch) * V + i]} at an ignored voxel`,
            );
          }
        }
      }
    }
  }
}

type MaskKind = "none" | "voxel" | "map";

function maskOf(c: Case, kind: MaskKind): Uint8Array | Float32Array | undefined {
  return kind === "voxel" ? c.voxelMask : kind === "map" ? c.mapMask : undefined;
}

// B = 1 and 2 (and 3); C = 1, 2, 3, 5; odd spatial sizes, 1 to 3 dims.
const SHAPES: number[][] = [
  [2, 1, 5, 7],
  [1, 3, 5, 7],
  [2, 3, 3, 5, 7],
  [2, 2, 41],
  [3, 5, 3, 5, 3],
];

gpuTest(
  "diceLossGpu matches diceLoss with mask × squared × Φ × variant (incl. labelSetMarginal)",
  async (rt) => {
    const rng = new Rng(1515);
    const pool = new BufferPool(rt.device);
    resetWorst();
    let runs = 0;
    for (const [si, shape] of SHAPES.entries()) {
      const [, C] = shape;
      const c = randomCase(shape, rng);
      const h = si % 2 === 0
        ? new Harness(rt, c)
        : new Harness(rt, c, { cTot: C + 2, cOff: 1 }, { cTot: C + 1, cOff: 1 });
      const variants: DiceVariant[] = ["plain", "leaf"];
      if (C >= 2) variants.push("marginal", "labelSetMarginal");
      const classSets: (number[] | undefined)[] = [undefined];
      if (C >= 3) classSets.push(Array.from({ length: C - 1 }, (_, k) => k + 1));
      for (const phi of PHIS) {
        for (const variant of variants) {
          const merges = variant === "marginal" || variant === "labelSetMarginal";
          const maskKinds: MaskKind[] = merges ? ["none", "voxel"] : ["none", "voxel", "map"];
          // Label sets: the merge itself, and Fidon's leaf Dice (plain/leaf with label sets).
          const setChoices = variant === "labelSetMarginal"
            ? [true]
            : variant === "marginal" || C < 2
            ? [false]
            : [false, true];
          for (const classes of classSets) {
            for (const maskKind of maskKinds) {
              for (const squaredDenominator of [false, true]) {
                for (const withSets of setChoices) {
                  const mask = maskOf(c, maskKind);
                  const sets = withSets
                    ? { labelSets: c.labelSets, labelSetIndex: c.labelSetIndex }
                    : {};
                  const base = { phi, variant, classes, mask, squaredDenominator, ...sets };
                  const K = classes?.length ?? C;
                  const forms = [
                    0.5,
                    Array.from({ length: K }, (_, k) => ({
                      numerator: 0.1 * k,
                      denominator: 0.7 + 2 * k,
                    })),
                  ];
                  const plan = new StepPlan(rt, pool);
                  const op = diceLossGpu(
                    plan,
                    h.probs,
                    h.labels,
                    { ...base, epsilon: forms[0] },
                    h.outputs,
                  );
                  for (const epsilon of forms) {
                    op.setEpsilon(epsilon);
                    const got = await h.run(plan, op.subsetCount);
                    const label = `${JSON.stringify(shape)} ${phi} ${variant} ${
                      JSON.stringify({ classes, maskKind, squaredDenominator, withSets, epsilon })
                    }`;
                    checkAgainstReference(got, c, { ...base, epsilon }, label);
                    runs++;
                  }
                  plan.dispose();
                }
              }
            }
          }
        }
      }
      h.destroy();
    }
    await rt.checkCompilation();
    pool.destroy();
    reportWorst("mask × squared × Φ × variant", runs);
    assert.ok(runs > 500, `only ${runs} runs`);
  },
);

gpuTest(
  "diceLossGpu without the new options binds the original kernels; an all-ones mask is bit-identical",
  async (rt) => {
    const rng = new Rng(7);
    const pool = new BufferPool(rt.device);
    const shape = [2, 3, 5, 7, 3];
    const c = randomCase(shape, rng);
    const h = new Harness(rt, c, { cTot: 5, cOff: 2 }, { cTot: 4, cOff: 1 });
    const ones = new Uint8Array(c.voxelMask.length).fill(1);
    for (const variant of ["plain", "leaf", "marginal"] as const) {
      for (const phi of PHIS) {
        const outs = [];
        for (const extra of [{}, { squaredDenominator: false }, { mask: ones }]) {
          const plan = new StepPlan(rt, pool);
          const op = diceLossGpu(plan, h.probs, h.labels, {
            phi,
            variant,
            epsilon: 0.5,
            ...extra,
          }, h.outputs);
          if (!("mask" in extra)) {
            assert.deepEqual(
              op.dispatches.map((d) => d.name),
              [
                variant === "marginal" ? "diceImagePartials3" : "diceMapPartials",
                "diceFinalize",
                "diceGrad",
              ],
            );
          }
          outs.push(await h.run(plan, op.subsetCount));
          plan.dispose();
        }
        checkAgainstReference(outs[0], c, { phi, variant, epsilon: 0.5 }, `${variant} ${phi}`);
        assert.deepEqual(outs[1], outs[0]);
        assert.deepEqual(outs[2], outs[0], `${variant} ${phi}: all-ones mask`);
      }
    }
    h.destroy();
    pool.destroy();
  },
);

gpuTest(
  "diceLossGpu reads GPU mask and label-set buffers and switches host ones with setMask/setLabelSets",
  async (rt) => {
    const rng = new Rng(21);
    const pool = new BufferPool(rt.device);
    const shape = [2, 3, 5, 3, 7];
    const a = randomCase(shape, rng);
    const b = randomCase(shape, rng);
    // The same target and predictions for both steps; only the per-voxel inputs change.
    const c2: Case = { ...a, voxelMask: b.voxelMask, mapMask: b.mapMask };
    // Step B's label sets: the voxels of a's index, shifted to the other set (same zero rows).
    const indexB = a.labelSetIndex.map((s) => (s === 0 ? 0 : 1 + (s % a.labelSets.length)));
    const h = new Harness(rt, a);
    const u32 = (x: ArrayLike<number>) => Uint32Array.from(x);
    const base = {
      phi: "BI",
      variant: "labelSetMarginal",
      squaredDenominator: true,
      epsilon: 0.5,
      labelSets: a.labelSets,
    } as const;
    // Caller-owned GPU buffers, rewritten between runs.
    const maskBuf = rt.createBuffer(u32(a.voxelMask));
    const indexBuf = rt.createBuffer(u32(a.labelSetIndex));
    const plan = new StepPlan(rt, pool);
    const op = diceLossGpu(plan, h.probs, h.labels, {
      ...base,
      mask: maskBuf,
      labelSetIndex: indexBuf,
    }, h.outputs);
    for (const [mask, index] of [[a.voxelMask, a.labelSetIndex], [c2.voxelMask, indexB]] as const) {
      rt.write(maskBuf, u32(mask));
      rt.write(indexBuf, u32(index));
      const got = await h.run(plan, op.subsetCount);
      checkAgainstReference(got, a, { ...base, mask, labelSetIndex: index }, "GPU buffers");
    }
    assert.throws(() => op.setMask(a.voxelMask), /caller's GPU buffer/);
    assert.throws(() => op.setLabelSets(a.labelSetIndex), /caller's GPU index buffer/);
    plan.dispose();
    // A GPU per-map mask (plain, squared).
    const mapBuf = rt.createBuffer(u32(a.mapMask));
    const plan3 = new StepPlan(rt, pool);
    const op3 = diceLossGpu(plan3, h.probs, h.labels, {
      phi: "I",
      squaredDenominator: true,
      epsilon: 0.5,
      mask: mapBuf,
      maskLayout: "map",
    }, h.outputs);
    checkAgainstReference(
      await h.run(plan3, op3.subsetCount),
      a,
      { phi: "I", squaredDenominator: true, epsilon: 0.5, mask: a.mapMask },
      "GPU map mask",
    );
    plan3.dispose();
    // Host arrays through the setters, and back to "every voxel counted".
    const plan2 = new StepPlan(rt, pool);
    const op2 = diceLossGpu(plan2, h.probs, h.labels, {
      ...base,
      mask: a.voxelMask,
      labelSetIndex: a.labelSetIndex,
    }, h.outputs);
    const steps: [Uint8Array | undefined, Uint16Array | Uint32Array, number[][]][] = [
      [b.voxelMask, indexB, a.labelSets],
      [undefined, a.labelSetIndex, a.labelSets],
      [a.voxelMask, u32(a.labelSetIndex), [a.labelSets[1], a.labelSets[0]]],
    ];
    for (const [mask, index, sets] of steps) {
      op2.setMask(mask);
      op2.setLabelSets(index, sets);
      const got = await h.run(plan2, op2.subsetCount);
      checkAgainstReference(
        got,
        a,
        { ...base, mask, labelSetIndex: index, labelSets: sets },
        `setters ${mask ? "mask" : "no mask"}`,
      );
    }
    assert.throws(() => op2.setMask(new Uint8Array(7)), /length 7/);
    assert.throws(() => op2.setMask(new Uint8Array(a.voxelMask.length).fill(2)), RangeError);
    assert.throws(() => op2.setLabelSets(a.labelSetIndex, [[0, 1], [1, 2], [0, 2]]), /room for 2/);
    assert.throws(
      () => op2.setLabelSets(new Uint8Array(a.labelSetIndex.length).fill(3)),
      RangeError,
    );
    plan2.dispose();
    const plan4 = new StepPlan(rt, pool);
    const op4 = diceLossGpu(plan4, h.probs, h.labels, { phi: "I" }, h.outputs);
    assert.throws(() => op4.setMask(a.voxelMask), /bound without one/);
    assert.throws(() => op4.setLabelSets(a.labelSetIndex), /without options\.labelSetIndex/);
    plan4.dispose();
    for (const x of [maskBuf, indexBuf, mapBuf]) x.destroy();
    h.destroy();
    pool.destroy();
  },
);

gpuTest(
  "diceLossGpu with the new options may write the gradient over the probabilities, or refuses",
  async (rt) => {
    const rng = new Rng(5);
    const pool = new BufferPool(rt.device);
    const shape = [2, 3, 5, 7, 3];
    const c = randomCase(shape, rng);
    const labels = rt.createBuffer(c.target);
    const loss = rt.createBuffer(4);
    const cases: DiceLossOptions[] = [
      { phi: "CI", squaredDenominator: true, mask: c.voxelMask, epsilon: 0.5 },
      { phi: "I", variant: "leaf", squaredDenominator: true, mask: c.mapMask, epsilon: 0.5 },
      {
        phi: "BI",
        variant: "labelSetMarginal",
        mask: c.voxelMask,
        labelSets: c.labelSets,
        labelSetIndex: c.labelSetIndex,
        epsilon: 0.5,
      },
      { phi: "BCI", variant: "marginal", mask: c.voxelMask, epsilon: 0.5 },
    ];
    for (const options of cases) {
      const buffer = rt.createBuffer(c.pred);
      const view = { buffer, shape: fold(shape) };
      const plan = new StepPlan(rt, pool);
      const op = diceLossGpu(plan, view, labels, options as DiceLossGpuOptions, {
        loss,
        grad: view,
      });
      const [l, grad] = await plan.run([op.lossReadback, { buffer, size: c.pred.byteLength }]);
      const ref = diceLoss(c.pred, c.target, shape, options);
      assertClose(l[0], ref.loss, LOSS_TOL);
      let scale = 0;
      for (const g of ref.grad) scale = Math.max(scale, Math.abs(g));
      assertClose(grad, ref.grad, {
        rtol: 1e-4,
        atol: 1e-6 * scale,
        label: JSON.stringify(options.phi),
      });
      plan.dispose();
      buffer.destroy();
    }
    // The squared merging gradients read other channels' probabilities: no aliasing.
    const buffer = rt.createBuffer(c.pred);
    const view = { buffer, shape: fold(shape) };
    const plan = new StepPlan(rt, pool);
    for (const variant of ["marginal", "labelSetMarginal"] as const) {
      const sets = variant === "marginal"
        ? {}
        : { labelSets: c.labelSets, labelSetIndex: c.labelSetIndex };
      assert.throws(
        () =>
          diceLossGpu(plan, view, labels, { variant, squaredDenominator: true, ...sets }, {
            loss,
            grad: view,
          }),
        /cannot overwrite probs/,
      );
    }
    plan.dispose();
    for (const x of [buffer, labels, loss]) x.destroy();
    pool.destroy();
  },
);

gpuTest("diceLossGpu rejects per-map masks for the merging variants and bad buffers", (rt) => {
  const pool = new BufferPool(rt.device);
  const plan = new StepPlan(rt, pool);
  const shape: Shape5 = [2, 3, 1, 3, 5];
  const n = 2 * 3 * 15;
  const probs = { buffer: rt.createBuffer(n * 4), shape };
  const labels = rt.createBuffer(n * 4);
  const loss = rt.createBuffer(4);
  const grad = { buffer: rt.createBuffer(n * 4), shape };
  const call = (o: DiceLossGpuOptions) => diceLossGpu(plan, probs, labels, o, { loss, grad });
  const index = new Uint8Array(30);
  const mapMask = new Uint8Array(n).fill(1);
  assert.throws(() => call({ variant: "marginal", mask: mapMask }), /per map voxel/);
  assert.throws(
    () =>
      call({
        variant: "labelSetMarginal",
        mask: mapMask,
        labelSets: [[0, 1]],
        labelSetIndex: index,
      }),
    /per map voxel/,
  );
  assert.throws(
    () => call({ variant: "marginal", mask: rt.createBuffer(n * 4), maskLayout: "map" }),
    /per map voxel/,
  );
  assert.throws(() => call({ mask: rt.createBuffer(16) }), /options\.mask/);
  assert.throws(() => call({ mask: new Uint8Array(29) }), /options\.mask/);
  assert.throws(() => call({ mask: mapMask, maskLayout: "x" as "map" }), /maskLayout/);
  assert.throws(
    () =>
      call({ variant: "labelSetMarginal", labelSets: [[0, 1]], labelSetIndex: rt.createBuffer(8) }),
    /labelSetIndex/,
  );
  assert.throws(() => call({ variant: "labelSetMarginal" }), /needs options\.labelSets/);
  plan.dispose();
  pool.destroy();
});

gpuTest(
  "diceLossGpu with mask, squared and label sets over groups of samples under a 64 KiB binding limit, bit for bit",
  async (rt) => {
    const rng = new Rng(88);
    // The partials buffer is not chunked (rows·Q·chunks·1 KiB must fit the limit): the squared
    // marginal rows (Q = C² + C(C + 1) + C) fit it for B = 2, C = 3; no marginal row for C = 5.
    for (const shape of [[2, 3, 13, 15, 17], [3, 5, 11, 13, 15]]) {
      const C = shape[1];
      const c = randomCase(shape, rng);
      const h = new Harness(rt, c, { cTot: C + 1, cOff: 1 }, { cTot: C + 1, cOff: 0 });
      const configs: DiceLossOptions[] = [];
      for (const variant of ["plain", "leaf", "marginal", "labelSetMarginal"] as const) {
        const masks = variant === "plain" || variant === "leaf"
          ? [c.voxelMask, c.mapMask]
          : [c.voxelMask, undefined];
        for (const mask of masks) {
          for (const squaredDenominator of [false, true]) {
            if (variant === "marginal" && C > 3) continue;
            const sets = variant === "labelSetMarginal"
              ? { labelSets: c.labelSets, labelSetIndex: c.labelSetIndex }
              : {};
            configs.push({ variant, mask, squaredDenominator, ...sets });
          }
        }
      }
      for (const [i, config] of configs.entries()) {
        const options = { ...config, phi: PHIS[i % 4], epsilon: 0.5 };
        const runs = [];
        for (const bindingLimit of [undefined, 65536]) {
          const { plan, done } = newPlan(rt, { bindingLimit });
          const op = diceLossGpu(plan, h.probs, h.labels, options, h.outputs);
          const got = await h.run(plan, op.subsetCount);
          const label = `${JSON.stringify(shape)} ${options.phi} ${config.variant} ${
            config.mask ? config.mask.length : "no"
          } mask squared ${config.squaredDenominator} limit ${bindingLimit}`;
          checkAgainstReference(got, c, options, label);
          runs.push({ got, dispatches: plan.dispatches.length });
          done();
        }
        const [a, b] = runs;
        assert.ok(b.dispatches > a.dispatches, "the 64 KiB limit made no chunks");
        assert.deepEqual(b.got, a.got);
      }
      h.destroy();
    }
    await rt.checkCompilation();
  },
);
