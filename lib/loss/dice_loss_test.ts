import assert from "node:assert/strict";
import { diceLoss, type NumericArray } from "./dice_loss.ts";
import type { DiceLossOptions, EpsilonInput, Phi } from "./dice_options.ts";
import { heuristicEpsilon } from "./heuristic_epsilon.ts";
import { assertClose } from "../../tests/_helpers/assert_close.ts";
import { randomF64, randomMask, Rng, sizeOf } from "../../tests/_helpers/random.ts";

const PHIS: Phi[] = ["I", "CI", "BI", "BCI"];

/** Random probabilities in (0.05, 0.95) and binary targets with chosen empty maps. */
function randomCase(shape: number[], rng: Rng, emptyMaps: [number, number][] = []) {
  const pred = randomF64(shape, rng, 0.05, 0.95);
  const target = randomMask(shape, rng, 0.35);
  const [, C] = shape;
  const V = sizeOf(shape.slice(2));
  for (const [b, c] of emptyMaps) target.fill(0, (b * C + c) * V, (b * C + c + 1) * V);
  return { pred, target };
}

/** Central finite differences of the loss w.r.t. every element of pred. */
function finiteDifferences(
  pred: Float64Array,
  target: NumericArray,
  shape: number[],
  options: DiceLossOptions,
  h = 1e-6,
): Float64Array {
  const g = new Float64Array(pred.length);
  const p = Float64Array.from(pred);
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    p[i] = v + h;
    const up = diceLoss(p, target, shape, options).loss;
    p[i] = v - h;
    const down = diceLoss(p, target, shape, options).loss;
    p[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

Deno.test("diceLoss() gradient matches finite differences for every phi × variant × ε form", () => {
  const rng = new Rng(2022);
  const shapes = [[3, 3, 3, 5], [2, 3, 3, 1, 5], [2, 4, 3, 3, 3]];
  const epsForms = (K: number): EpsilonInput[] => [
    0.5,
    { numerator: 0.25, denominator: 1.5 },
    Array.from({ length: K }, (_, k) => 0.3 + k),
    Array.from({ length: K }, (_, k) => ({ numerator: 0.1 * k, denominator: 0.7 + k })),
  ];
  let checked = 0;
  for (const shape of shapes) {
    // Image 0 misses class 1; the last image misses class C-1 — leaf/marginal see missing maps.
    const { pred, target } = randomCase(shape, rng, [[0, 1], [shape[0] - 1, shape[1] - 1]]);
    for (const phi of PHIS) {
      for (const variant of ["plain", "leaf", "marginal"] as const) {
        for (const classes of [undefined, [1, 2]]) {
          const K = classes?.length ?? shape[1];
          for (const epsilon of epsForms(K)) {
            const options: DiceLossOptions = { phi, variant, classes, epsilon };
            const { grad } = diceLoss(pred, target, shape, options);
            const fd = finiteDifferences(pred, target, shape, options);
            assertClose(grad, fd, {
              rtol: 1e-6,
              atol: 1e-8,
              label: `${JSON.stringify(shape)} ${phi} ${variant} ${JSON.stringify(epsilon)}`,
            });
            checked++;
          }
        }
      }
    }
  }
  assert.equal(checked, 3 * 4 * 3 * 2 * 4);
});

Deno.test("diceLoss() accepts the spelled-out phi aliases", () => {
  const rng = new Rng(1);
  const shape = [2, 3, 4, 5];
  const { pred, target } = randomCase(shape, rng);
  const pairs: [Phi, string][] = [["I", "image"], ["CI", "class"], ["BI", "batch"], [
    "BCI",
    "all",
  ]];
  for (const [sym, alias] of pairs) {
    const a = diceLoss(pred, target, shape, { phi: sym });
    const b = diceLoss(pred, target, shape, { phi: alias as Phi });
    assert.equal(a.loss, b.loss);
    assert.deepEqual(a.grad, b.grad);
  }
});

Deno.test("diceLoss() with phi BI equals phi I when the batch size is 1", () => {
  const rng = new Rng(3);
  const shape = [1, 3, 5, 7];
  const { pred, target } = randomCase(shape, rng, [[0, 2]]);
  for (const epsilon of [1e-7, 2.5]) {
    const i = diceLoss(pred, target, shape, { phi: "I", epsilon });
    const bi = diceLoss(pred, target, shape, { phi: "BI", epsilon });
    assertClose(bi.loss, i.loss, { rtol: 1e-15, atol: 0 });
    assertClose(bi.grad, i.grad, { rtol: 1e-15, atol: 0 });
    const bci = diceLoss(pred, target, shape, { phi: "BCI", epsilon });
    const ci = diceLoss(pred, target, shape, { phi: "CI", epsilon });
    assertClose(bci.loss, ci.loss, { rtol: 1e-15, atol: 0 });
  }
});

Deno.test("diceLoss() with phi CI equals phi I when there is one class", () => {
  const rng = new Rng(4);
  const shape = [3, 1, 5, 3, 3];
  const { pred, target } = randomCase(shape, rng, [[1, 0]]);
  const i = diceLoss(pred, target, shape, { phi: "I" });
  const ci = diceLoss(pred, target, shape, { phi: "CI" });
  assertClose(ci.loss, i.loss, { rtol: 1e-15, atol: 0 });
  assertClose(ci.grad, i.grad, { rtol: 1e-15, atol: 0 });
  assertClose(ci.perSubset, i.perSubset, { rtol: 1e-15, atol: 0 });
});

Deno.test("diceLoss() returns 0 when prediction equals a binary target", () => {
  const rng = new Rng(5);
  const shape = [2, 3, 5, 5];
  const target = randomMask(shape, rng, 0.4);
  for (const phi of PHIS) {
    for (const epsilon of [1e-7, 3, { numerator: 2, denominator: 2 }]) {
      const { loss, perSubset } = diceLoss(Float64Array.from(target), target, shape, {
        phi,
        epsilon,
      });
      assertClose(loss, 0, { atol: 1e-15, rtol: 0 });
      for (const v of perSubset) assertClose(v, 0, { atol: 1e-15, rtol: 0 });
    }
  }
});

Deno.test("diceLoss() hand-derived two-image case under I and BI", () => {
  // B = 2, C = 1, 4 voxels, ε = 1.
  // image 0: y = [1,1,0,0], ŷ = [0.5,0.5,0.5,0]: I0 = 1, S0 = 2 + 1.5 = 3.5 → sDSC0 = 3/4.5 = 2/3
  // image 1: y = [0,0,0,0], ŷ = [0.25,0,0,0]:    I1 = 0, S1 = 0.25       → sDSC1 = 1/1.25 = 0.8
  // I:  loss = 1 − (2/3 + 0.8)/2 = 1 − 11/15 = 4/15
  //     grad image 1 (y = 0): −(1/2)(0 − 1/1.25²) = 0.32
  // BI: I = 1, S = 3.75 → sDSC = 3/4.75 = 12/19, loss = 7/19
  //     grad where y = 1: −(2/4.75 − 3/4.75²) = −(0.42105263 − 0.13296399) = −0.28808864...
  const pred = new Float64Array([0.5, 0.5, 0.5, 0, 0.25, 0, 0, 0]);
  const target = new Float64Array([1, 1, 0, 0, 0, 0, 0, 0]);
  const shape = [2, 1, 4];
  const i = diceLoss(pred, target, shape, { phi: "I", epsilon: 1 });
  assertClose(i.loss, 4 / 15, { rtol: 1e-14, atol: 0 });
  assertClose(i.perSubset, [1 / 3, 0.2], { rtol: 1e-14, atol: 1e-16 });
  assertClose(i.grad[4], 0.32, { rtol: 1e-14, atol: 0 });
  const bi = diceLoss(pred, target, shape, { phi: "BI", epsilon: 1 });
  assertClose(bi.loss, 7 / 19, { rtol: 1e-14, atol: 0 });
  assertClose(bi.grad[0], -(2 / 4.75 - 3 / (4.75 * 4.75)), { rtol: 1e-14, atol: 0 });
  assertClose(bi.grad[5], 3 / (4.75 * 4.75), { rtol: 1e-14, atol: 0 });
});

Deno.test("diceLoss() hand-derived leaf and marginal cases", () => {
  // B = 1, C = 3 (bg, A, B), 2 voxels, ε = {nr 0, dr 1}. Class B (channel 2) is missing.
  // ŷ = bg [0.2, 0.6], A [0.7, 0.1], B [0.1, 0.3]; y = bg [0, 1], A [1, 0], B [0, 0].
  // leaf, classes [1,2], Φ = I: subset A: I = 0.7, S = 1.8 → sDSC = 1.4/2.8 = 0.5;
  //   subset B missing → sDSC 0. loss = 1 − (0.5 + 0)/2 = 0.75; grad on B = 0.
  // marginal, all classes, Φ = I: ŷ'bg = [0.3, 0.9], ŷ'B = 0.
  //   bg: I = 0.9, S = 1 + 1.2 = 2.2 → 1.8/3.2 = 0.5625; A: 0.5; B: 0/1 = 0.
  //   loss = 1 − (0.5625 + 0.5 + 0)/3 = 0.6458333...
  //   ∂/∂ŷ_B[0] = ∂/∂ŷ'bg[0] (y = 0) = (1/3)·1.8/3.2² = 0.05859375
  const pred = new Float64Array([0.2, 0.6, 0.7, 0.1, 0.1, 0.3]);
  const target = new Float64Array([0, 1, 1, 0, 0, 0]);
  const shape = [1, 3, 2];
  const eps = { numerator: 0, denominator: 1 };
  const leaf = diceLoss(pred, target, shape, { variant: "leaf", classes: [1, 2], epsilon: eps });
  assertClose(leaf.loss, 0.75, { rtol: 1e-14, atol: 0 });
  assert.deepEqual([...leaf.grad.slice(4)], [0, 0]);
  assert.deepEqual([...leaf.perSubset], [0.5, 1]);
  const marginal = diceLoss(pred, target, shape, { variant: "marginal", epsilon: eps });
  assertClose(marginal.loss, 1 - (0.5625 + 0.5) / 3, { rtol: 1e-14, atol: 0 });
  assertClose(marginal.grad[4], 1.8 / 3 / (3.2 * 3.2), { rtol: 1e-14, atol: 0 });
  assert.equal(marginal.grad[4], marginal.grad[0]);
});

Deno.test("diceLoss() gradient on an empty map: negligible under I, not under BI or I with heuristic ε", () => {
  const rng = new Rng(6);
  const shape = [4, 1, 9, 9, 5];
  // Image 2 has an empty target; the network predicts a blob there.
  const { pred, target } = randomCase(shape, rng, [[2, 0]]);
  const V = 9 * 9 * 5;
  const emptyGrad = (g: Float64Array) => {
    let m = 0;
    for (let i = 2 * V; i < 3 * V; i++) m = Math.max(m, Math.abs(g[i]));
    return m;
  };
  const i = diceLoss(pred, target, shape, { phi: "I", epsilon: 1e-7 });
  assert.ok(emptyGrad(i.grad) < 1e-6, `I: ${emptyGrad(i.grad)}`);
  const bi = diceLoss(pred, target, shape, { phi: "BI", epsilon: 1e-7 });
  assert.ok(emptyGrad(bi.grad) > 1e-4, `BI: ${emptyGrad(bi.grad)}`);
  const eps = heuristicEpsilon(target, shape);
  const ie = diceLoss(pred, target, shape, { phi: "I", epsilon: eps });
  assert.ok(emptyGrad(ie.grad) > 1e-4, `I_eps: ${emptyGrad(ie.grad)}`);
});

Deno.test("diceLoss() all-zero prediction and target: loss 0 and gradient exactly 1/(|Φ|ε)", () => {
  const shape = [2, 3, 4, 3];
  const zeros = new Float64Array(sizeOf(shape));
  for (const phi of PHIS) {
    const eps = 1e-7;
    const { loss, grad } = diceLoss(zeros, zeros, shape, { phi, epsilon: eps });
    const setSize = { I: 6, CI: 2, BI: 3, BCI: 1 }[phi];
    // A single number is each subset's ε, whatever Φ pools.
    assert.equal(loss, 0);
    for (const g of grad) assert.equal(g, 1 / (setSize * eps));
  }
});

Deno.test("diceLoss() per-class epsilon arrays pool over classes under CI", () => {
  // A per-class ε under CI contributes Σ_k ε_k to the image's subset.
  const rng = new Rng(8);
  const shape = [2, 3, 6];
  const { pred, target } = randomCase(shape, rng);
  const perClass = diceLoss(pred, target, shape, { phi: "CI", epsilon: [1, 2, 3] });
  const pooled = diceLoss(pred, target, shape, { phi: "CI", epsilon: 6 });
  assertClose(perClass.loss, pooled.loss, { rtol: 1e-15, atol: 0 });
});

Deno.test("diceLoss() leaf treats labelled-but-empty maps as real empty labels", () => {
  const rng = new Rng(9);
  const shape = [2, 2, 7];
  const { pred, target } = randomCase(shape, rng, [[1, 1]]);
  const byDefault = diceLoss(pred, target, shape, { variant: "leaf" });
  const explicit = diceLoss(pred, target, shape, {
    variant: "leaf",
    labeled: [[true, true], [true, true]],
  });
  // Default: map (1,1) is missing → no gradient. Explicit: it is an empty label → gradient.
  assert.ok(byDefault.grad.slice(21, 28).every((g) => g === 0));
  assert.ok(explicit.grad.slice(21, 28).every((g) => g > 0));
  const plain = diceLoss(pred, target, shape, {});
  assert.deepEqual(explicit.grad, plain.grad);
});

// --- Peers' definitions, written out as their code computes them --------------------------

/** MONAI DiceLoss(include_background, batch, smooth_nr, smooth_dr), reduction "mean". */
function monaiDiceLoss(
  input: Float64Array,
  target: Float64Array,
  shape: number[],
  o: { includeBackground: boolean; batch: boolean; smoothNr: number; smoothDr: number },
): number {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const c0 = o.includeBackground ? 0 : 1;
  const f: number[] = [];
  const rows = o.batch ? [[...Array(B).keys()]] : [...Array(B).keys()].map((b) => [b]);
  for (const bs of rows) {
    for (let c = c0; c < C; c++) {
      let intersection = 0, groundO = 0, predO = 0;
      for (const b of bs) {
        for (let i = 0; i < V; i++) {
          const k = (b * C + c) * V + i;
          intersection += target[k] * input[k];
          groundO += target[k];
          predO += input[k];
        }
      }
      f.push(1 - (2 * intersection + o.smoothNr) / (groundO + predO + o.smoothDr));
    }
  }
  return f.reduce((a, b) => a + b, 0) / f.length;
}

/** nnU-Net SoftDiceLoss(batch_dice, do_bg, smooth) on probabilities: returns −mean dc. */
function nnunetSoftDice(
  x: Float64Array,
  y: Float64Array,
  shape: number[],
  o: { batchDice: boolean; doBg: boolean; smooth: number },
): number {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const dcs: number[] = [];
  const rows = o.batchDice ? [[...Array(B).keys()]] : [...Array(B).keys()].map((b) => [b]);
  for (const bs of rows) {
    for (let c = o.doBg ? 0 : 1; c < C; c++) {
      let tp = 0, fp = 0, fn = 0;
      for (const b of bs) {
        for (let i = 0; i < V; i++) {
          const k = (b * C + c) * V + i;
          tp += x[k] * y[k];
          fp += x[k] * (1 - y[k]);
          fn += (1 - x[k]) * y[k];
        }
      }
      dcs.push((2 * tp + o.smooth) / Math.max(2 * tp + fp + fn + o.smooth, 1e-8));
    }
  }
  return -dcs.reduce((a, b) => a + b, 0) / dcs.length;
}

/** dicegrad leaf_dice_metric (reduce_along_batch False), loss = 1 − mean over [B, C−1]. */
function dicegradLeafLoss(p: Float64Array, y: Float64Array, shape: number[], eps: number): number {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  let total = 0;
  for (let b = 0; b < B; b++) {
    const d: number[] = [];
    const missing: boolean[] = [];
    for (let c = 1; c < C; c++) {
      let inter = 0, sy = 0, sp = 0;
      for (let i = 0; i < V; i++) {
        const k = (b * C + c) * V + i;
        sy += y[k];
      }
      const m = sy === 0;
      missing.push(m);
      for (let i = 0; i < V; i++) {
        const k = (b * C + c) * V + i;
        inter += m ? 0 : y[k] * p[k];
        sp += m ? 0 : p[k];
      }
      d.push((2 * inter) / (sy + sp + eps));
    }
    const nLab = missing.filter((m) => !m).length;
    const dsc = d.reduce((a, v) => a + v, 0) / nLab;
    for (const m of missing) total += m ? 0 : dsc;
  }
  return 1 - total / (B * (C - 1));
}

Deno.test("diceLoss() reproduces MONAI DiceLoss (batch → BI, smooth_nr/dr → ε)", () => {
  const rng = new Rng(10);
  const shape = [3, 4, 5, 3, 3];
  const { pred, target } = randomCase(shape, rng, [[0, 2]]);
  for (const batch of [false, true]) {
    for (const includeBackground of [true, false]) {
      for (const [smoothNr, smoothDr] of [[1e-5, 1e-5], [0, 1e-6], [0.5, 2]]) {
        const expected = monaiDiceLoss(pred, target, shape, {
          includeBackground,
          batch,
          smoothNr,
          smoothDr,
        });
        const { loss } = diceLoss(pred, target, shape, {
          phi: batch ? "BI" : "I",
          classes: includeBackground ? undefined : [1, 2, 3],
          epsilon: { numerator: smoothNr, denominator: smoothDr },
        });
        assertClose(loss, expected, { rtol: 1e-12, atol: 0 });
      }
    }
  }
});

Deno.test("diceLoss() reproduces nnU-Net SoftDiceLoss (batch_dice → BI, returns −dc)", () => {
  const rng = new Rng(11);
  const shape = [2, 3, 7, 5];
  const { pred, target } = randomCase(shape, rng);
  for (const batchDice of [false, true]) {
    for (const doBg of [true, false]) {
      const expected = nnunetSoftDice(pred, target, shape, { batchDice, doBg, smooth: 1 });
      const { loss } = diceLoss(pred, target, shape, {
        phi: batchDice ? "BI" : "I",
        classes: doBg ? undefined : [1, 2],
        epsilon: 1,
      });
      assertClose(loss - 1, expected, { rtol: 1e-12, atol: 0 });
    }
  }
});

Deno.test("diceLoss() leaf reproduces the dicegrad leaf Dice where every image has a label", () => {
  const rng = new Rng(12);
  const shape = [3, 4, 5, 5];
  const { pred, target } = randomCase(shape, rng, [[0, 1], [1, 3], [2, 2]]);
  const eps = 1e-7;
  const expected = dicegradLeafLoss(pred, target, shape, eps);
  const { loss } = diceLoss(pred, target, shape, {
    variant: "leaf",
    classes: [1, 2, 3],
    epsilon: { numerator: 0, denominator: eps },
  });
  assertClose(loss, expected, { rtol: 1e-12, atol: 0 });
});

Deno.test("diceLoss() rejects bad arguments with messages naming them", () => {
  const shape = [1, 2, 3];
  const a = new Float64Array(6).fill(0.5);
  assert.throws(() => diceLoss(a, new Float64Array(5), shape), {
    name: "TypeError",
    message: /target: length 5/,
  });
  assert.throws(() => diceLoss(a, a, [1, 2]), { name: "TypeError", message: /shape/ });
  assert.throws(() => diceLoss(a, a, shape, { phi: "XY" as Phi }), {
    name: "RangeError",
    message: /options\.phi/,
  });
  assert.throws(() => diceLoss(a, a, shape, { epsilon: -1 }), {
    name: "RangeError",
    message: /options\.epsilon/,
  });
  assert.throws(() => diceLoss(a, a, shape, { epsilon: [1] }), {
    name: "TypeError",
    message: /one entry per kept class/,
  });
  const nan = Float64Array.from(a);
  nan[3] = NaN;
  assert.throws(() => diceLoss(nan, a, shape), { name: "RangeError", message: /pred: element 3/ });
  assert.throws(() => diceLoss(a, a, shape, { classes: [2] }), {
    name: "RangeError",
    message: /classes/,
  });
  assert.throws(() => diceLoss([0.5] as unknown as Float64Array, a, shape), {
    name: "TypeError",
    message: /pred/,
  });
  assert.throws(
    () => diceLoss(new Float64Array(6), new Float64Array(6), shape, { epsilon: 0 }),
    { name: "RangeError", message: /zero denominator/ },
  );
});

Deno.test("heuristicEpsilon() is the mean per-class volume, scaled by B for batch-pooled phi", () => {
  // 3 maps × 2 classes × 4 voxels; class 0 volumes 4, 2, 0 → 2; class 1 volumes 1, 0, 2 → 1.
  const t = new Float64Array([
    1,
    1,
    1,
    1,
    1,
    0,
    0,
    0,
    1,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    1,
    0,
    0,
  ]);
  assert.deepEqual(heuristicEpsilon(t, [3, 2, 4]), [2, 1]);
  assert.deepEqual(heuristicEpsilon(t, [3, 2, 4], { classes: [1] }), [1]);
  assert.deepEqual(heuristicEpsilon(t, [3, 2, 4], { phi: "BI", batchSize: 4 }), [8, 4]);
});
