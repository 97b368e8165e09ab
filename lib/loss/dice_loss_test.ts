import assert from "node:assert/strict";
import { diceLoss, type NumericArray } from "./dice_loss.ts";
import type { DiceLossOptions, EpsilonInput, Phi } from "./dice_options.ts";
import { heuristicEpsilon } from "./heuristic_epsilon.ts";
import { labelSetExclusionMask } from "./label_set_mask.ts";
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

// --- Voxel mask, squared denominator, label sets ------------------------------------------

/** A random case with label sets: `labelSets`, a per-voxel set index and zeroed target rows. */
function labelSetCase(shape: number[], rng: Rng, emptyMaps: [number, number][] = []) {
  const { pred, target } = randomCase(shape, rng, emptyMaps);
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const labelSets = C >= 4 ? [[0, 2], [1, 2, 3]] : [[0, 2]];
  const labelSetIndex = new Uint8Array(B * V);
  for (let j = 0; j < labelSetIndex.length; j++) {
    const u = rng.float();
    labelSetIndex[j] = u < 0.2 ? 1 : u < 0.35 && labelSets.length > 1 ? 2 : 0;
  }
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < V; i++) {
      if (labelSetIndex[b * V + i]) { for (let c = 0; c < C; c++) target[(b * C + c) * V + i] = 0; }
    }
  }
  return { pred, target, labelSets, labelSetIndex };
}

/** Random 0/1 masks, about a quarter ignored: per image voxel and per map voxel. */
function randomMasks(shape: number[], rng: Rng) {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const voxel = new Uint8Array(B * V).map(() => rng.float() < 0.25 ? 0 : 1);
  const map = new Float32Array(B * C * V).map(() => rng.float() < 0.25 ? 0 : 1);
  return { voxel, map };
}

Deno.test("diceLoss() gradient matches finite differences with mask × squared denominator × label sets, for every phi × variant × ε form", () => {
  const rng = new Rng(2107);
  const shapes = [[3, 3, 3, 5], [2, 4, 3, 1, 5]];
  const epsForms = (K: number): EpsilonInput[] => [
    0.5,
    { numerator: 0.25, denominator: 1.5 },
    Array.from({ length: K }, (_, k) => 0.3 + k),
    Array.from({ length: K }, (_, k) => ({ numerator: 0.1 * k, denominator: 0.7 + k })),
  ];
  let checked = 0;
  for (const shape of shapes) {
    const misses: [number, number][] = [[0, 1], [shape[0] - 1, shape[1] - 1]];
    const plainCase = randomCase(shape, rng, misses);
    const setCase = labelSetCase(shape, rng, misses);
    const masks = randomMasks(shape, rng);
    const configs: { variant: DiceLossOptions["variant"]; sets: boolean }[] = [
      { variant: "plain", sets: false },
      { variant: "plain", sets: true },
      { variant: "leaf", sets: false },
      { variant: "leaf", sets: true },
      { variant: "marginal", sets: false },
      { variant: "labelSetMarginal", sets: true },
    ];
    for (const phi of PHIS) {
      for (const { variant, sets } of configs) {
        const c = sets ? setCase : plainCase;
        const merges = variant === "marginal" || variant === "labelSetMarginal";
        const maskForms = merges ? [undefined, masks.voxel] : [undefined, masks.voxel, masks.map];
        for (const [m, mask] of maskForms.entries()) {
          for (const [k, classes] of [undefined, [1, 2]].entries()) {
            const K = classes?.length ?? shape[1];
            for (const [e, epsilon] of epsForms(K).entries()) {
              // Squared or not alternates so that every (mask, ε form) pair sees both, per
              // classes choice one of them: half the cost of the full product.
              const squaredDenominator = (m + k + e) % 2 === 1;
              const options: DiceLossOptions = {
                phi,
                variant,
                classes,
                epsilon,
                mask,
                squaredDenominator,
                ...(sets
                  ? { labelSets: setCase.labelSets, labelSetIndex: setCase.labelSetIndex }
                  : {}),
              };
              const { grad } = diceLoss(c.pred, c.target, shape, options);
              const fd = finiteDifferences(c.pred, c.target, shape, options);
              assertClose(grad, fd, {
                rtol: 1e-6,
                atol: 1e-8,
                label: `${JSON.stringify(shape)} ${phi} ${variant} sets=${sets} mask=${
                  mask?.length ?? 0
                } sq=${squaredDenominator} ${JSON.stringify(classes)} ${JSON.stringify(epsilon)}`,
              });
              checked++;
            }
          }
        }
      }
    }
  }
  // Per shape and Φ: (plain, leaf) × 2 label-set forms × 3 masks + (marginal, LSM) × 2 masks.
  assert.equal(checked, 2 * 4 * (2 * 2 * 3 + 2 * 2) * 2 * 4);
});

Deno.test("diceLoss() gradient is exactly 0 on ignored voxels, and ignored voxels do not change the loss", () => {
  const rng = new Rng(15);
  const shape = [2, 4, 5, 3];
  const [B, C] = shape;
  const V = 15;
  const c = labelSetCase(shape, rng, [[0, 1]]);
  const { voxel, map } = randomMasks(shape, rng);
  for (const phi of PHIS) {
    for (const variant of ["plain", "leaf", "marginal", "labelSetMarginal"] as const) {
      const sets = variant === "marginal"
        ? {}
        : { labelSets: c.labelSets, labelSetIndex: c.labelSetIndex };
      for (const mask of variant === "plain" || variant === "leaf" ? [voxel, map] : [voxel]) {
        for (const squaredDenominator of [false, true]) {
          const options = { phi, variant, epsilon: 0.5, mask, squaredDenominator, ...sets };
          const r = diceLoss(c.pred, c.target, shape, options);
          // Scramble prediction and target on the ignored voxels: nothing may change.
          const pred2 = Float64Array.from(c.pred);
          const target2 = Float64Array.from(c.target);
          for (let b = 0; b < B; b++) {
            for (let ch = 0; ch < C; ch++) {
              for (let i = 0; i < V; i++) {
                const j = (b * C + ch) * V + i;
                const m = mask.length === B * V ? mask[b * V + i] : mask[j];
                if (m !== 0) continue;
                assert.equal(r.grad[j], 0, `${phi} ${variant} element ${j}`);
                pred2[j] = rng.uniform(0.05, 0.95);
                if (!c.labelSetIndex[b * V + i]) target2[j] = 1 - target2[j];
              }
            }
          }
          const r2 = diceLoss(pred2, target2, shape, options);
          assert.equal(r2.loss, r.loss, `${phi} ${variant}`);
        }
      }
    }
  }
});

Deno.test("diceLoss() with an all-ones mask or squaredDenominator on binary targets is unchanged where it must be", () => {
  const rng = new Rng(16);
  const shape = [2, 3, 4, 5];
  const { pred, target } = randomCase(shape, rng, [[1, 2]]);
  for (const phi of PHIS) {
    for (const variant of ["plain", "leaf", "marginal"] as const) {
      const base = diceLoss(pred, target, shape, { phi, variant, epsilon: 0.5 });
      for (const mask of [new Uint8Array(2 * 20).fill(1), new Float64Array(2 * 3 * 20).fill(1)]) {
        if (variant === "marginal" && mask.length !== 40) continue;
        const masked = diceLoss(pred, target, shape, { phi, variant, epsilon: 0.5, mask });
        assertClose(masked.loss, base.loss, { rtol: 1e-14, atol: 0 });
        assertClose(masked.grad, base.grad, { rtol: 1e-13, atol: 1e-16 });
      }
      // A binary target has y² = y: only the prediction's squares change D.
      const onesPred = Float64Array.from(target);
      const a = diceLoss(onesPred, target, shape, { phi, variant, epsilon: 0.5 });
      const b = diceLoss(onesPred, target, shape, {
        phi,
        variant,
        epsilon: 0.5,
        squaredDenominator: true,
      });
      assertClose(b.loss, a.loss, { rtol: 1e-14, atol: 1e-16 });
    }
  }
});

Deno.test("diceLoss() squared denominator on a hand-derived case", () => {
  // One image, one class, 3 voxels, ε = {nr 0, dr 1}: y = [1, 1, 0], ŷ = [0.5, 1, 0.5].
  // N = 2·1.5 = 3, D = (0.25 + 1 + 0.25) + 2 + 1 = 4.5 → sDSC = 2/3, loss = 1/3.
  // ∂/∂ŷ_0 = −(2/4.5 − 3·2·0.5/4.5²) = −(0.444… − 0.148…) = −8/27
  // ∂/∂ŷ_2 = 3·2·0.5/4.5² = 4/27
  const r = diceLoss(new Float64Array([0.5, 1, 0.5]), new Float64Array([1, 1, 0]), [1, 1, 3], {
    epsilon: { numerator: 0, denominator: 1 },
    squaredDenominator: true,
  });
  assertClose(r.loss, 1 / 3, { rtol: 1e-14, atol: 0 });
  assertClose(r.grad, [-8 / 27, -(2 / 4.5 - 3 * 2 / 4.5 ** 2), 4 / 27], { rtol: 1e-14, atol: 0 });
});

Deno.test("diceLoss() marginal: a zeroed missing map alone in its subset scores ε_nr/ε_dr (the authors' code: 0), same gradient", () => {
  // B = 1, C = 3, Φ = I, channel 2 missing. The zeroed channel is an empty-vs-empty map: Eq. 3
  // gives it sDSC = ε_nr/ε_dr, so its per-subset loss is 1 − ε_nr/ε_dr.
  const rng = new Rng(17);
  const shape = [1, 3, 7];
  const { pred, target } = randomCase(shape, rng, [[0, 2]]);
  for (
    const epsilon of [1e-7, { numerator: 0.5, denominator: 2 }, { numerator: 0, denominator: 1 }]
  ) {
    const r = diceLoss(pred, target, shape, { variant: "marginal", epsilon });
    const e = typeof epsilon === "number" ? { numerator: epsilon, denominator: epsilon } : epsilon;
    const ratio = e.numerator / e.denominator;
    assertClose(r.perSubset[2], 1 - ratio, { rtol: 1e-15, atol: 0 });
    // The authors' value gives the missing subset sDSC 0: their loss is dicelab's + ratio/|Φ|.
    const authors = 1 - (1 - r.perSubset[0] + 1 - r.perSubset[1] + 0) / 3;
    assertClose(authors, r.loss + ratio / 3, { rtol: 1e-14, atol: 1e-16 });
  }
  // Under CI the zeroed channel shares its image's subset and contributes nothing to the sums.
  const ci = diceLoss(pred, target, shape, { phi: "CI", variant: "marginal", epsilon: 1 });
  assert.equal(ci.perSubset.length, 1);
});

/** Fidon's MeanDiceLoss on probabilities: 1 − mean_b mean_c 2Σpg / (Σp^α + Σg^α + 1e-5). */
function fidonMeanDice(p: Float64Array, g: Float64Array, shape: number[], squared: boolean) {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  let total = 0;
  for (let b = 0; b < B; b++) {
    let mean = 0;
    for (let c = 0; c < C; c++) {
      let num = 0, d1 = 0, d2 = 0;
      for (let i = 0; i < V; i++) {
        const k = (b * C + c) * V + i;
        num += p[k] * g[k];
        d1 += squared ? p[k] * p[k] : p[k];
        d2 += squared ? g[k] * g[k] : g[k];
      }
      mean += (2 * num) / (d1 + d2 + 1e-5) / C;
    }
    total += 1 - mean;
  }
  return total / B;
}

/**
 * Fidon's softmax_marginalize on probabilities, from an integer label map whose values ≥ C
 * are supersets: for a voxel labelled with superset S, every c ∈ S gets w·Σ_{c'∈S} p_c' with
 * w = 1/|S|, and target w; leaf voxels are one-hot.
 */
function fidonMarginalize(
  p: Float64Array,
  labels: Int32Array,
  shape: number[],
  supersetMap: Record<number, number[]>,
) {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const pm = Float64Array.from(p);
  const g = new Float64Array(p.length);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < V; i++) {
      const l = labels[b * V + i];
      if (l < C) {
        g[(b * C + l) * V + i] = 1;
        continue;
      }
      const members = supersetMap[l];
      const w = 1 / members.length;
      let marginal = 0;
      for (let c = 0; c < C; c++) if (members.includes(c)) marginal += w * p[(b * C + c) * V + i];
      for (let c = 0; c < C; c++) {
        if (!members.includes(c)) continue;
        g[(b * C + c) * V + i] = w;
        pm[(b * C + c) * V + i] = marginal;
      }
    }
  }
  return { pm, g };
}

/** Integer label maps with supersets (values ≥ C), and dicelab's encoding of the same labels. */
function fidonCase(shape: number[], rng: Rng, supersetMap: Record<number, number[]>) {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const keys = Object.keys(supersetMap).map(Number);
  const labels = new Int32Array(B * V).map(() =>
    rng.float() < 0.3 ? keys[rng.int(keys.length)] : rng.int(C)
  );
  // Softmax-like probabilities: positive, summing to 1 per voxel.
  const raw = randomF64(shape, rng, 0.05, 1);
  const pred = new Float64Array(raw.length);
  const target = new Float64Array(raw.length);
  const labelSetIndex = new Uint8Array(B * V);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < V; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += raw[(b * C + c) * V + i];
      for (let c = 0; c < C; c++) pred[(b * C + c) * V + i] = raw[(b * C + c) * V + i] / s;
      const l = labels[b * V + i];
      if (l < C) target[(b * C + l) * V + i] = 1;
      else labelSetIndex[b * V + i] = keys.indexOf(l) + 1;
    }
  }
  const labelSets = keys.map((k) => supersetMap[k]);
  return { labels, pred, target, labelSets, labelSetIndex };
}

Deno.test("diceLoss() labelSetMarginal reproduces Fidon's MarginalizedDiceLoss (squared and not)", () => {
  const rng = new Rng(18);
  for (const shape of [[2, 4, 5, 3], [3, 3, 7]]) {
    const supersetMap: Record<number, number[]> = shape[1] === 4
      ? { 4: [2, 3], 5: [0, 1, 3] }
      : { 3: [0, 2] };
    const c = fidonCase(shape, rng, supersetMap);
    for (const squared of [true, false]) {
      const { pm, g } = fidonMarginalize(c.pred, c.labels, shape, supersetMap);
      const expected = fidonMeanDice(pm, g, shape, squared);
      const { loss } = diceLoss(c.pred, c.target, shape, {
        phi: "I",
        variant: "labelSetMarginal",
        epsilon: { numerator: 0, denominator: 1e-5 },
        squaredDenominator: squared,
        labelSets: c.labelSets,
        labelSetIndex: c.labelSetIndex,
      });
      assertClose(loss, expected, { rtol: 1e-12, atol: 0, label: `${shape} squared=${squared}` });
    }
  }
});

Deno.test("diceLoss() leaf with label sets reproduces Fidon's LeafDiceLoss, including his own test's numbers", () => {
  // Fidon's tests/leaf_dice_loss_test.py: 4 × 4 image, classes 0..3, superset 4 = {2, 3}.
  //   0 0 0 0 / 0 1 1 0 / 0 4 4 0 / 0 0 0 0. Predictions are (softmax of 1000 ×) one-hot maps.
  const labels = [0, 0, 0, 0, 0, 1, 1, 0, 0, 4, 4, 0, 0, 0, 0, 0];
  const shape = [1, 4, 4, 4];
  const target = new Float64Array(64);
  const labelSetIndex = new Uint8Array(16);
  labels.forEach((l, i) => l < 4 ? (target[l * 16 + i] = 1) : (labelSetIndex[i] = 1));
  const oneHot = (ls: number[]) => {
    const p = new Float64Array(64);
    ls.forEach((l, i) => (p[l * 16 + i] = 1));
    return p;
  };
  const options: DiceLossOptions = {
    variant: "leaf",
    epsilon: { numerator: 0, denominator: 1e-5 },
    squaredDenominator: true,
    labelSets: [[2, 3]],
    labelSetIndex,
  };
  const cases: [number[], number][] = [
    [labels.map((l) => Math.min(l, 2)), 0.5], // perfect: classes 2, 3 have no leaf voxel → 0
    [labels.map((l) => Math.min(l, 1)), 1 - (1 / 4) * (1 + 2 / 3)],
    [labels.map(() => 0), 1 - (1 / 4) * (24 / (12 + 16))],
  ];
  for (const [pred, expected] of cases) {
    const { loss } = diceLoss(oneHot(pred), target, shape, options);
    assertClose(loss, expected, { rtol: 1e-5, atol: 0 }); // ε_dr = 1e-5 in Fidon's expected values' denominators
  }
  // On random soft inputs: the reimplemented LeafDiceLoss (superset channels dropped from the
  // one-hot target, predictions everywhere).
  const rng = new Rng(19);
  for (const shape2 of [[2, 4, 5, 3], [3, 3, 7]]) {
    const supersetMap: Record<number, number[]> = shape2[1] === 4 ? { 4: [2, 3] } : { 3: [0, 2] };
    const c = fidonCase(shape2, rng, supersetMap);
    for (const squared of [true, false]) {
      const expected = fidonMeanDice(c.pred, c.target, shape2, squared);
      const { loss } = diceLoss(c.pred, c.target, shape2, {
        ...options,
        squaredDenominator: squared,
        labelSets: c.labelSets,
        labelSetIndex: c.labelSetIndex,
      });
      assertClose(loss, expected, { rtol: 1e-12, atol: 0 });
    }
  }
});

Deno.test("diceLoss() leaf with labelSetExclusionMask drops set-labelled voxels from their members' maps only", () => {
  const rng = new Rng(20);
  const shape = [2, 4, 3, 5];
  const [B, C] = shape;
  const V = 15;
  const c = labelSetCase(shape, rng);
  const mask = labelSetExclusionMask(shape, c);
  const eps = { numerator: 0.2, denominator: 0.9 };
  const { loss } = diceLoss(c.pred, c.target, shape, { epsilon: eps, mask, ...c });
  // Direct loop: class c's sums skip voxels whose label set contains c.
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let ch = 0; ch < C; ch++) {
      let inter = 0, tot = 0;
      for (let i = 0; i < V; i++) {
        const s = c.labelSetIndex[b * V + i];
        if (s && c.labelSets[s - 1].includes(ch)) continue;
        const k = (b * C + ch) * V + i;
        inter += c.target[k] * c.pred[k];
        tot += c.target[k] + c.pred[k];
      }
      sum += (2 * inter + eps.numerator) / (tot + eps.denominator);
    }
  }
  assertClose(loss, 1 - sum / (B * C), { rtol: 1e-13, atol: 0 });
});

/** MONAI MaskedDiceLoss: input·mask and target·mask, then DiceLoss (squared_pred, batch). */
function monaiMaskedDiceLoss(
  input: Float64Array,
  target: Float64Array,
  mask: Uint8Array, // [B, 1, ...spatial]
  shape: number[],
  o: { squaredPred: boolean; batch: boolean; smoothNr: number; smoothDr: number },
): number {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const x = input.map((v, k) => v * mask[Math.floor(k / (C * V)) * V + (k % V)]);
  const t = target.map((v, k) => v * mask[Math.floor(k / (C * V)) * V + (k % V)]);
  const f: number[] = [];
  const rows = o.batch ? [[...Array(B).keys()]] : [...Array(B).keys()].map((b) => [b]);
  for (const bs of rows) {
    for (let c = 0; c < C; c++) {
      let intersection = 0, groundO = 0, predO = 0;
      for (const b of bs) {
        for (let i = 0; i < V; i++) {
          const k = (b * C + c) * V + i;
          intersection += t[k] * x[k];
          groundO += o.squaredPred ? t[k] ** 2 : t[k];
          predO += o.squaredPred ? x[k] ** 2 : x[k];
        }
      }
      f.push(1 - (2 * intersection + o.smoothNr) / (groundO + predO + o.smoothDr));
    }
  }
  return f.reduce((a, b) => a + b, 0) / f.length;
}

Deno.test("diceLoss() mask and squaredDenominator reproduce MONAI MaskedDiceLoss(squared_pred, batch)", () => {
  const rng = new Rng(21);
  const shape = [3, 4, 5, 3, 3];
  const { pred, target } = randomCase(shape, rng, [[0, 2]]);
  const { voxel } = randomMasks(shape, rng);
  for (const batch of [false, true]) {
    for (const squaredPred of [false, true]) {
      for (const [smoothNr, smoothDr] of [[1e-5, 1e-5], [0, 1e-6], [0.5, 2]]) {
        const expected = monaiMaskedDiceLoss(pred, target, voxel, shape, {
          squaredPred,
          batch,
          smoothNr,
          smoothDr,
        });
        const { loss } = diceLoss(pred, target, shape, {
          phi: batch ? "BI" : "I",
          epsilon: { numerator: smoothNr, denominator: smoothDr },
          mask: voxel,
          squaredDenominator: squaredPred,
        });
        assertClose(loss, expected, { rtol: 1e-12, atol: 0 });
      }
    }
  }
});

/**
 * nnU-Net v2 DC_and_CE_loss's Dice part with an ignore label: mask = (label ≠ ignore), ignored
 * labels replaced by 0, then MemoryEfficientSoftDiceLoss(batch_dice, do_bg, smooth) with
 * loss_mask — returns −mean dc.
 */
function nnunetIgnoreDice(
  x: Float64Array,
  labels: Int32Array,
  ignore: number,
  shape: number[],
  o: { batchDice: boolean; doBg: boolean; smooth: number },
): number {
  const [B, C] = shape;
  const V = sizeOf(shape.slice(2));
  const dcs: number[] = [];
  const rows = o.batchDice ? [[...Array(B).keys()]] : [...Array(B).keys()].map((b) => [b]);
  for (const bs of rows) {
    for (let c = o.doBg ? 0 : 1; c < C; c++) {
      let intersect = 0, sumPred = 0, sumGt = 0;
      for (const b of bs) {
        for (let i = 0; i < V; i++) {
          const l = labels[b * V + i];
          const m = l === ignore ? 0 : 1;
          const y = (l === ignore ? 0 : l) === c ? 1 : 0;
          const k = (b * C + c) * V + i;
          intersect += x[k] * y * m;
          sumPred += x[k] * m;
          sumGt += y * m;
        }
      }
      dcs.push((2 * intersect + o.smooth) / Math.max(sumGt + sumPred + o.smooth, 1e-8));
    }
  }
  return -dcs.reduce((a, b) => a + b, 0) / dcs.length;
}

Deno.test("diceLoss() mask reproduces nnU-Net v2's ignore label (loss_mask in the soft Dice)", () => {
  const rng = new Rng(22);
  const shape = [2, 3, 7, 5];
  const [B, C] = shape;
  const V = 35;
  const ignore = 3; // nnU-Net: the ignore label is the highest label value
  const labels = new Int32Array(B * V).map(() => rng.float() < 0.2 ? ignore : rng.int(C));
  const pred = randomF64(shape, rng, 0.05, 0.95);
  // dicelab: one-hot of the known labels (ignored voxels all zero), mask = label ≠ ignore.
  const target = new Float64Array(pred.length);
  const mask = new Uint8Array(B * V);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < V; i++) {
      const l = labels[b * V + i];
      if (l === ignore) continue;
      mask[b * V + i] = 1;
      target[(b * C + l) * V + i] = 1;
    }
  }
  for (const batchDice of [false, true]) {
    for (const doBg of [true, false]) {
      for (const smooth of [1e-5, 1]) {
        const expected = nnunetIgnoreDice(pred, labels, ignore, shape, { batchDice, doBg, smooth });
        const { loss } = diceLoss(pred, target, shape, {
          phi: batchDice ? "BI" : "I",
          classes: doBg ? undefined : [1, 2],
          epsilon: smooth,
          mask,
        });
        assertClose(loss - 1, expected, { rtol: 1e-12, atol: 0 });
      }
    }
  }
});

Deno.test("diceLoss() rejects malformed masks and label sets with messages naming them", () => {
  const shape = [1, 3, 2];
  const a = new Float64Array(6).fill(0.5);
  const y = new Float64Array([1, 0, 0, 1, 0, 0]);
  assert.throws(() => diceLoss(a, y, shape, { mask: new Uint8Array(5) }), {
    name: "TypeError",
    message: /options\.mask: length 5/,
  });
  assert.throws(() => diceLoss(a, y, shape, { mask: new Float32Array([1, 0.5]) }), {
    name: "RangeError",
    message: /options\.mask: element 1 is 0\.5/,
  });
  assert.throws(
    () => diceLoss(a, y, shape, { variant: "marginal", mask: new Uint8Array(6).fill(1) }),
    { name: "RangeError", message: /\[B, \.\.\.spatial\] mask/ },
  );
  assert.throws(() => diceLoss(a, y, shape, { variant: "labelSetMarginal" }), {
    name: "TypeError",
    message: /needs options\.labelSets/,
  });
  assert.throws(() => diceLoss(a, y, shape, { labelSets: [[0, 1]] }), {
    name: "TypeError",
    message: /go together/,
  });
  const idx = new Uint8Array([0, 1]);
  assert.throws(() => diceLoss(a, y, shape, { labelSets: [[0]], labelSetIndex: idx }), {
    name: "TypeError",
    message: /labelSets\[0\]: expected at least two/,
  });
  assert.throws(() => diceLoss(a, y, shape, { labelSets: [[0, 3]], labelSetIndex: idx }), {
    name: "RangeError",
    message: /labelSets\[0\]: 3 is not a channel/,
  });
  assert.throws(
    () => diceLoss(a, y, shape, { labelSets: [[0, 1]], labelSetIndex: new Uint8Array([0, 2]) }),
    { name: "RangeError", message: /labelSetIndex: element 1 is 2/ },
  );
  assert.throws(
    () => diceLoss(a, y, shape, { variant: "marginal", labelSets: [[0, 1]], labelSetIndex: idx }),
    { name: "RangeError", message: /use "labelSetMarginal"/ },
  );
  // Voxel 1 carries a leaf label in channel 1 but is marked as set-labelled.
  assert.throws(() => diceLoss(a, y, shape, { labelSets: [[0, 1]], labelSetIndex: idx }), {
    name: "RangeError",
    message: /voxel 1 of image 0 is labelled with label set 1/,
  });
  assert.throws(
    () => diceLoss(a, y, shape, { squaredDenominator: 1 as unknown as boolean }),
    { name: "TypeError", message: /squaredDenominator/ },
  );
  assert.throws(() => diceLoss(a, y, shape, { variant: "x" as "plain" }), {
    name: "RangeError",
    message: /"labelSetMarginal"/,
  });
});
