/**
 * Float64 CPU forward and backward of the whole U-Net (the same structure as
 * {@linkcode buildUNetPlan}), composed of the `lib/ref` kernels and the float64 Dice loss. It
 * is the reference the GPU training step is checked against: loss and every parameter
 * gradient.
 *
 * @module
 */

import { diceLoss } from "../loss/dice_loss.ts";
import type { DiceLossOptions } from "../loss/dice_options.ts";
import * as bn from "../ref/batch_norm.ts";
import * as conv from "../ref/conv3d.ts";
import * as convT from "../ref/conv_transpose3d.ts";
import * as inorm from "../ref/instance_norm.ts";
import * as pool from "../ref/max_pool.ts";
import * as sig from "../ref/sigmoid.ts";
import * as smax from "../ref/softmax.ts";
import * as up from "../ref/upsample.ts";
import { type BlockSpec, type Triple, type UNetConfig, unetLayout } from "./unet_config.ts";

/** Named float64 tensors. */
export type TensorMap = Map<string, Float64Array>;

type Shape5 = [number, number, number, number, number];

function _concat(
  a: Float64Array,
  ca: number,
  b: Float64Array,
  cb: number,
  s: Shape5,
): Float64Array {
  const [n, , d, h, w] = s;
  const S = d * h * w;
  const out = new Float64Array(n * (ca + cb) * S);
  for (let i = 0; i < n; i++) {
    out.set(a.subarray(i * ca * S, (i + 1) * ca * S), i * (ca + cb) * S);
    out.set(b.subarray(i * cb * S, (i + 1) * cb * S), (i * (ca + cb) + ca) * S);
  }
  return out;
}

function _split(x: Float64Array, ca: number, cb: number, s: Shape5): [Float64Array, Float64Array] {
  const [n, , d, h, w] = s;
  const S = d * h * w;
  const a = new Float64Array(n * ca * S);
  const b = new Float64Array(n * cb * S);
  for (let i = 0; i < n; i++) {
    a.set(x.subarray(i * (ca + cb) * S, (i * (ca + cb) + ca) * S), i * ca * S);
    b.set(x.subarray((i * (ca + cb) + ca) * S, (i + 1) * (ca + cb) * S), i * cb * S);
  }
  return [a, b];
}

function _add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** Result of {@linkcode unetReferenceStep}. */
export interface ReferenceStep {
  /** Loss value. */
  loss: number;
  /** Output probabilities. */
  probs: Float64Array;
  /** Gradient of every parameter, by name. */
  grads: TensorMap;
}

/**
 * One forward + Dice loss + backward of the U-Net in float64 (training mode: batch norm uses
 * batch statistics).
 *
 * @param cfg Network configuration.
 * @param params Parameters by name (as in {@linkcode unetParams}).
 * @param input `[B, Cin, D, H, W]`.
 * @param target `[B, K, D, H, W]`.
 * @param batch B.
 * @param patch [D, H, W].
 * @param loss Dice-loss options.
 * @returns Loss, probabilities and parameter gradients.
 */
export function unetReferenceStep(
  cfg: UNetConfig,
  params: TensorMap,
  input: Float64Array,
  target: Float64Array,
  batch: number,
  patch: Triple,
  loss: DiceLossOptions,
): ReferenceStep {
  const layout = unetLayout(cfg);
  const L = cfg.filters.length;
  const P = (name: string) => {
    const v = params.get(name);
    if (!v) throw new TypeError(`Missing parameter ${name}`);
    return v;
  };
  const grads: TensorMap = new Map();
  const sizes: Triple[] = [patch];
  for (let l = 0; l < L - 1; l++) {
    const p = cfg.pools[l];
    sizes.push([sizes[l][0] / p[0], sizes[l][1] / p[1], sizes[l][2] / p[2]]);
  }
  const shapeAt = (l: number, c: number): Shape5 => [batch, c, ...sizes[l]];
  const act = (name: string): inorm.RefActivation =>
    cfg.activation.kind === "leakyRelu"
      ? { kind: "leakyRelu", slope: cfg.activation.slope }
      : { kind: "prelu", slope: P(`${name}.prelu`) };

  const normF = (x: Float64Array, s: Shape5, name: string) => {
    const o = { eps: cfg.normEps, activation: act(name) };
    return cfg.norm === "instance"
      ? inorm.instanceNormForward(x, s, P(`${name}.scale`), P(`${name}.shift`), o).y
      : bn.batchNormForward(x, s, P(`${name}.scale`), P(`${name}.shift`), o).y;
  };
  const normB = (x: Float64Array, dy: Float64Array, s: Shape5, name: string) => {
    const o = { eps: cfg.normEps, activation: act(name) };
    const g = cfg.norm === "instance"
      ? inorm.instanceNormBackward(x, dy, s, P(`${name}.scale`), P(`${name}.shift`), o)
      : bn.batchNormBackward(x, dy, s, P(`${name}.scale`), P(`${name}.shift`), o);
    grads.set(`${name}.scale`, g.dscale);
    grads.set(`${name}.shift`, g.dshift);
    if (cfg.activation.kind === "prelu") grads.set(`${name}.prelu`, g.dslope);
    return g.dx;
  };
  const convShape = (b: BlockSpec, l: number) => ({
    n: batch,
    cin: b.cin,
    cout: b.cout,
    d: sizes[l][0],
    h: sizes[l][1],
    w: sizes[l][2],
    kernel: b.kernel,
  });

  interface Rec {
    b: BlockSpec;
    l: number;
    x: Float64Array;
    convIn: Float64Array;
    convOut: Float64Array;
  }
  const blockF = (b: BlockSpec, x: Float64Array, l: number): [Float64Array, Rec] => {
    const W = P(`${b.name}.conv.weight`), bias = P(`${b.name}.conv.bias`);
    if (cfg.order === "pre") {
      const convIn = b.preNorm ? normF(x, shapeAt(l, b.cin), `${b.name}.norm`) : x;
      const y = conv.conv3dForward(convIn, W, bias, convShape(b, l));
      return [y, { b, l, x, convIn, convOut: y }];
    }
    const c = conv.conv3dForward(x, W, bias, convShape(b, l));
    const y = b.name === "head" ? c : normF(c, shapeAt(l, b.cout), `${b.name}.norm`);
    return [y, { b, l, x, convIn: x, convOut: c }];
  };
  const blockB = (r: Rec, dOut: Float64Array, needDx: boolean): Float64Array | undefined => {
    const { b, l } = r;
    const W = P(`${b.name}.conv.weight`);
    const s = convShape(b, l);
    let dConv = dOut;
    if (cfg.order === "post" && b.name !== "head") {
      dConv = normB(r.convOut, dOut, shapeAt(l, b.cout), `${b.name}.norm`);
    }
    const g = conv.conv3dBackwardWeight(r.convIn, dConv, s);
    grads.set(`${b.name}.conv.weight`, g.dWeight);
    grads.set(`${b.name}.conv.bias`, g.dBias);
    if (!needDx && !(cfg.order === "pre" && b.preNorm)) return undefined;
    const dIn = conv.conv3dBackwardInput(dConv, W, s);
    if (cfg.order === "pre" && b.preNorm) {
      return normB(r.x, dIn, shapeAt(l, b.cin), `${b.name}.norm`);
    }
    return dIn;
  };

  // Forward.
  let x = input;
  const enc: Rec[][] = [];
  const levelOut: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const recs: Rec[] = [];
    for (const b of layout.encoder[l]) {
      const [y, r] = blockF(b, x, l);
      recs.push(r);
      x = y;
    }
    enc.push(recs);
    levelOut.push(x);
    if (l < L - 1) x = pool.maxPoolForward(x, shapeAt(l, cfg.filters[l]), cfg.pools[l]).y;
  }
  const dec: Rec[][] = [];
  const decIn: Float64Array[] = [];
  const upCh: number[] = [];
  for (let l = L - 2; l >= 0; l--) {
    decIn[l] = x;
    const deeper = shapeAt(l + 1, cfg.filters[l + 1]);
    let u: Float64Array;
    if (cfg.upsampling === "transposed") {
      u = convT.convTranspose3dForward(x, P(`up${l}.weight`), P(`up${l}.bias`), {
        n: batch,
        cin: cfg.filters[l + 1],
        cout: cfg.filters[l],
        d: deeper[2],
        h: deeper[3],
        w: deeper[4],
      });
      upCh[l] = cfg.filters[l];
    } else {
      u = up.upsampleForward(x, deeper, cfg.pools[l]);
      upCh[l] = cfg.filters[l + 1];
    }
    let h = _concat(u, upCh[l], levelOut[l], cfg.filters[l], shapeAt(l, 0));
    const recs: Rec[] = [];
    for (const b of layout.decoder[l]) {
      const [y, r] = blockF(b, h, l);
      recs.push(r);
      h = y;
    }
    dec[l] = recs;
    x = h;
  }
  const [logits, headRec] = blockF(layout.head, x, 0);
  const K = cfg.outChannels;
  const outShape = shapeAt(0, K);
  const probs = cfg.head === "sigmoid"
    ? sig.sigmoidForward(logits)
    : smax.softmaxForward(logits, outShape);
  const lr = diceLoss(probs, target, outShape, loss);

  // Backward.
  const dLogits = cfg.head === "sigmoid"
    ? sig.sigmoidBackward(probs, lr.grad)
    : smax.softmaxBackward(probs, lr.grad, outShape);
  let dx = blockB(headRec, dLogits, true)!;
  const dSkip: Float64Array[] = [];
  for (let l = 0; l <= L - 2; l++) {
    const recs = dec[l];
    for (let i = recs.length - 1; i >= 0; i--) dx = blockB(recs[i], dx, true)!;
    const [dUp, dS] = _split(dx, upCh[l], cfg.filters[l], shapeAt(l, 0));
    dSkip[l] = dS;
    const deeper = shapeAt(l + 1, cfg.filters[l + 1]);
    if (cfg.upsampling === "transposed") {
      const s = {
        n: batch,
        cin: cfg.filters[l + 1],
        cout: cfg.filters[l],
        d: deeper[2],
        h: deeper[3],
        w: deeper[4],
      };
      const g = convT.convTranspose3dBackwardWeight(decIn[l], dUp, s);
      grads.set(`up${l}.weight`, g.dWeight);
      grads.set(`up${l}.bias`, g.dBias);
      dx = convT.convTranspose3dBackwardInput(dUp, P(`up${l}.weight`), s);
    } else {
      dx = up.upsampleBackward(dUp, deeper, cfg.pools[l]);
    }
  }
  for (let l = L - 1; l >= 0; l--) {
    let dOut = dx;
    if (l < L - 1) {
      const dPool = pool.maxPoolBackward(levelOut[l], dx, shapeAt(l, cfg.filters[l]), cfg.pools[l]);
      dOut = _add(dSkip[l], dPool);
    }
    const recs = enc[l];
    for (let i = recs.length - 1; i >= 0; i--) {
      const first = l === 0 && i === 0;
      const d = blockB(recs[i], dOut, !first);
      if (d) dOut = d;
    }
    dx = dOut;
  }
  return { loss: lr.loss, probs, grads };
}
