/**
 * The 3D U-Net on the GPU: builds, once per batch size and patch size, a step plan with every
 * dispatch of a forward pass (inference) or of a whole training step (forward, Dice loss,
 * backward, Adam, gradient telemetry). Skip connections are concatenated without copies: the
 * encoder writes its level output straight into a channel slice of the decoder's input.
 *
 * Structure (see {@linkcode unetLayout}): per encoder level a list of conv blocks, max-pool
 * between levels; per decoder level upsampling (nearest or 2×2×2 transposed conv) into
 * channels `[0, Cup)` of a concatenation buffer whose channels `[Cup, Cup + f)` hold the skip,
 * then conv blocks; a 1×1×1 head and sigmoid/softmax. Blocks are `conv → norm+act` ("post",
 * nnn-bench) or `norm+act → conv` ("pre", No New-Net; the very first conv has no pre-norm).
 *
 * @module
 */

import type { BufferPool } from "../gpu/buffer_pool.ts";
import { addInto } from "../gpu/ops/add.ts";
import { type AdamOptions, type AdamUpdate, adamUpdate } from "../gpu/ops/adam.ts";
import { batchNormBackward, batchNormForward } from "../gpu/ops/batch_norm.ts";
import {
  conv3dBackwardInput,
  conv3dBackwardWeight,
  conv3dForward,
  type PackedActivation,
} from "../gpu/ops/conv3d.ts";
import {
  convTranspose3dBackwardInput,
  convTranspose3dBackwardWeight,
  convTranspose3dForward,
} from "../gpu/ops/conv_transpose3d.ts";
import { type DiceLossGpu, diceLossGpu, type DiceLossGpuOptions } from "../gpu/ops/dice_loss.ts";
import {
  type Activation,
  instanceNormBackward,
  instanceNormForward,
  type NormSaved,
} from "../gpu/ops/instance_norm.ts";
import { maxPoolBackward, maxPoolForward, type MaxPoolSaved } from "../gpu/ops/max_pool.ts";
import { sigmoidBackward, sigmoidForward } from "../gpu/ops/sigmoid.ts";
import { softmaxBackward, softmaxForward } from "../gpu/ops/softmax.ts";
import { gradTelemetryGpu } from "../gpu/ops/telemetry.ts";
import { upsampleBackward, upsampleForward } from "../gpu/ops/upsample.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import { dryRuntime, runtimeLimits } from "../gpu/memory_plan.ts";
import { type Readback, StepPlan } from "../gpu/step_plan.ts";
import { channelSlice, numel, type Shape5, type TensorView, view } from "../gpu/tensor.ts";
import type { ParamStore } from "./param_store.ts";
import {
  type BlockSpec,
  sizeDivisor,
  type Triple,
  type UNetConfig,
  unetLayout,
} from "./unet_config.ts";

/** Options of {@linkcode buildUNetPlan}. */
export interface UNetPlanOptions {
  /** Batch size. */
  batch: number;
  /** Patch size [D, H, W] (divisible by the pooling factors). */
  patch: Triple;
  /** `"train"`: forward + loss + backward + Adam; `"infer"`: forward only (BN running stats). */
  mode: "train" | "infer";
  /**
   * Dice loss (train mode; also allowed in infer mode to compute a validation loss). A voxel
   * mask or label-set index given here (host arrays or GPU buffers) binds the masked /
   * label-set kernels; replace them per batch with `UNetPlan.dice.setMask` / `setLabelSets`
   * (host arrays) or by writing the GPU buffers.
   */
  loss?: Omit<DiceLossGpuOptions, "labeled">;
  /** Adam settings (train mode). */
  adam?: AdamOptions;
  /** Also compute the gradient telemetry (train mode). @default true */
  telemetry?: boolean;
  /**
   * Largest byte size of one storage binding (see `StepPlanOptions.bindingLimit`): tests lower
   * it to run every op's chunked path.
   * @default the device's `maxStorageBufferBindingSize`
   */
  bindingLimit?: number;
  /**
   * How the step's scratch buffers are held. `"liveness"`: the build is first recorded
   * without GPU memory, then every scratch whose last reader has run is reused by later ones
   * (see `planMemory`), and the backward recomputes what is cheaper to recompute than to
   * keep; results are bit-identical to `"static"`, where every scratch is its own buffer for
   * the plan's lifetime.
   * @default "liveness"
   */
  memory?: "liveness" | "static";
}

/** GPU memory of a built (or dry-run) step, in bytes. */
export interface StepMemory {
  /** The parameter store: parameters, gradients, Adam moments, decay mask, state. */
  storeBytes: number;
  /** The step's scratch buffers as planned (activations, packed copies, partials). */
  scratchBytes: number;
  /** The same step's scratch with one buffer per request, none shared. */
  unplannedScratchBytes: number;
  /** `storeBytes + scratchBytes`: the GPU bytes the step holds at its peak. */
  peakBytes: number;
  /** Dispatches of the step. */
  dispatches: number;
  /** The largest single buffer (scratch or store), to compare with `maxBufferSize`. */
  largestBufferBytes: number;
}

/** A built plan and its I/O buffers. */
export interface UNetPlan {
  /** The dispatches, run with `plan.run(readbacks)`. */
  plan: StepPlan;
  /** Input buffer `[B, Cin, D, H, W]`. */
  input: GPUBuffer;
  /** Target buffer `[B, K, D, H, W]` (when a loss is configured). */
  target?: GPUBuffer;
  /** Output probabilities `[B, K, D, H, W]`. */
  probs: TensorView;
  /** Readback of the loss value (1 float), when a loss is configured. */
  lossReadback?: Readback;
  /** The bound Dice-loss op, when a loss is configured (per-step `setMask`, `setLabelSets`). */
  dice?: DiceLossGpu;
  /** Readback of the telemetry summary (8 floats), train mode. */
  telemetryReadback?: Readback;
  /** The Adam update (train mode): call `setStep(t, lr)` before each run. */
  adam?: AdamUpdate;
  /** GPU memory of the step (planned peak). */
  memory: StepMemory;
  /** Release the plan's scratch buffers. */
  dispose(): void;
}

/**
 * Bytes of a parameter store's buffers.
 *
 * @param store The store.
 * @returns Parameters, gradients, Adam moments, decay mask and state, in bytes.
 */
export function storeBytes(store: ParamStore): number {
  return [store.params, store.grads, store.m, store.v, store.decayMask, store.state]
    .reduce((s, b) => s + b.size, 0);
}

/**
 * Byte size of a parameter store's largest buffer.
 *
 * @param store The store.
 * @returns Bytes.
 */
export function largestStoreBuffer(store: ParamStore): number {
  return Math.max(store.params.size, store.state.size);
}

interface _BlockRecord {
  spec: BlockSpec;
  x: TensorView;
  convIn: TensorView;
  packed?: PackedActivation;
  convOut: TensorView;
  out: TensorView;
  saved?: NormSaved;
}

/**
 * Build the plan of a forward pass or a training step.
 *
 * @param rt Runtime.
 * @param pool Buffer pool for activations and scratch.
 * @param store Parameters (and their gradients, moments, normalisation state).
 * @param cfg Network configuration.
 * @param options Batch, patch, mode, loss, optimiser.
 * @returns The plan and its I/O buffers.
 * @throws {RangeError} When the patch is not divisible by the pooling factors.
 */
export function buildUNetPlan(
  rt: GpuRuntime,
  pool: BufferPool,
  store: ParamStore,
  cfg: UNetConfig,
  options: UNetPlanOptions,
): UNetPlan {
  const bindingLimit = options.bindingLimit;
  if ((options.memory ?? "liveness") === "static") {
    const plan = new StepPlan(rt, pool, { bindingLimit });
    return _finish(buildUNetInto(plan, store, cfg, options), store, undefined);
  }
  const recording = new StepPlan(dryRuntime(runtimeLimits(rt)), pool, {
    bindingLimit,
    record: true,
  });
  const recorded = buildUNetInto(recording, store, cfg, options);
  const assignment = recording.memoryPlan();
  recorded.dispose();
  const plan = new StepPlan(rt, pool, { bindingLimit, assignment });
  const built = buildUNetInto(plan, store, cfg, options);
  plan.checkAssignment();
  return _finish(built, store, assignment.unplannedBytes);
}

function _finish(
  built: Omit<UNetPlan, "memory">,
  store: ParamStore,
  unplanned: number | undefined,
): UNetPlan {
  const s = storeBytes(store);
  const scratch = built.plan.scratchBytes;
  return {
    ...built,
    memory: {
      storeBytes: s,
      scratchBytes: scratch,
      unplannedScratchBytes: unplanned ?? scratch,
      peakBytes: s + scratch,
      dispatches: built.plan.dispatches.length,
      largestBufferBytes: Math.max(built.plan.largestScratch, largestStoreBuffer(store)),
    },
  };
}

/**
 * Build the dispatches of a forward pass or a training step into a given plan (a recording
 * plan for sizing, see {@linkcode buildUNetPlan}). Options as for `buildUNetPlan`; the
 * returned object lacks `memory`.
 *
 * @param plan The plan to append to.
 * @param store Parameters (and their gradients, moments, normalisation state).
 * @param cfg Network configuration.
 * @param options Batch, patch, mode, loss, optimiser.
 * @returns The plan and its I/O buffers.
 * @throws {RangeError} When the patch is not divisible by the pooling factors.
 */
export function buildUNetInto(
  plan: StepPlan,
  store: ParamStore,
  cfg: UNetConfig,
  options: UNetPlanOptions,
): Omit<UNetPlan, "memory"> {
  const { batch: B, patch, mode } = options;
  const div = sizeDivisor(cfg);
  for (let a = 0; a < 3; a++) {
    if (!Number.isInteger(patch[a]) || patch[a] < 1 || patch[a] % div[a] !== 0) {
      throw new RangeError(
        `Invalid patch size ${JSON.stringify(patch)}: each axis must be a positive multiple of ${
          JSON.stringify(div)
        } (the pooling factors)`,
      );
    }
  }
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`Invalid batch size: ${B}`);
  const train = mode === "train";
  if (train && !options.loss) throw new TypeError("Cannot build a training plan without a loss");
  // Liveness planning: the backward re-packs conv inputs and recomputes pre-activations
  // (norm + activation of the block input, which is kept anyway) instead of keeping them.
  const recompute = (options.memory ?? "liveness") === "liveness";
  const layout = unetLayout(cfg);
  const L = cfg.filters.length;

  const alloc = (shape: Shape5, label: string): TensorView =>
    view(plan.scratch(numel(shape) * 4, label), shape);
  const sizes: Triple[] = [patch];
  for (let l = 0; l < L - 1; l++) {
    const p = cfg.pools[l];
    const s = sizes[l];
    sizes.push([s[0] / p[0], s[1] / p[1], s[2] / p[2]]);
  }
  const shapeAt = (l: number, c: number): Shape5 => [B, c, ...sizes[l]];

  const activation = (name: string): Activation =>
    cfg.activation.kind === "leakyRelu"
      ? { kind: "leakyRelu", slope: cfg.activation.slope }
      : { kind: "prelu", slope: store.param(`${name}.prelu`) };

  // `again`: recompute a forward already run (batch norm: the same batch statistics, without
  // updating the running statistics a second time).
  const normForward = (x: TensorView, y: TensorView, name: string, again = false): NormSaved => {
    const params = {
      scale: store.param(`${name}.scale`),
      shift: store.param(`${name}.shift`),
      eps: cfg.normEps,
      activation: activation(name),
    };
    if (cfg.norm === "instance") return instanceNormForward(plan, x, y, params);
    const running = train && again ? undefined : {
      runningMean: store.stateRange(`${name}.runningMean`),
      runningVar: store.stateRange(`${name}.runningVar`),
    };
    return batchNormForward(plan, x, y, {
      ...params,
      ...running,
      training: train,
      momentum: cfg.bnMomentum,
    });
  };

  const normBackward = (
    x: TensorView,
    dy: TensorView,
    dx: TensorView,
    saved: NormSaved,
    name: string,
  ) => {
    const params = {
      scale: store.param(`${name}.scale`),
      shift: store.param(`${name}.shift`),
      dscale: store.grad(`${name}.scale`),
      dshift: store.grad(`${name}.shift`),
      activation: activation(name),
      dslope: cfg.activation.kind === "prelu" ? store.grad(`${name}.prelu`) : undefined,
    };
    if (cfg.norm === "instance") instanceNormBackward(plan, x, dy, dx, saved, params);
    else batchNormBackward(plan, x, dy, dx, saved, params);
  };

  // A block reads x and writes out (which may be a channel slice of a concatenation).
  const blockForward = (b: BlockSpec, x: TensorView, out: TensorView, level: number) => {
    const rec: Partial<_BlockRecord> = { spec: b, x, out };
    const W = store.param(`${b.name}.conv.weight`);
    const bias = store.param(`${b.name}.conv.bias`);
    if (cfg.order === "pre") {
      let convIn = x;
      if (b.preNorm) {
        convIn = alloc(shapeAt(level, b.cin), `${b.name}.act`);
        rec.saved = normForward(x, convIn, `${b.name}.norm`);
      }
      rec.convIn = convIn;
      rec.convOut = out;
      const packed = conv3dForward(plan, convIn, W, bias, out, { kernel: b.kernel }).packedInput;
      if (!recompute) rec.packed = packed;
    } else {
      const c = b.name === "head" ? out : alloc(shapeAt(level, b.cout), `${b.name}.conv`);
      rec.convIn = x;
      rec.convOut = c;
      const packed = conv3dForward(plan, x, W, bias, c, { kernel: b.kernel }).packedInput;
      if (!recompute) rec.packed = packed;
      if (b.name !== "head") rec.saved = normForward(c, out, `${b.name}.norm`);
    }
    return rec as _BlockRecord;
  };

  // Backward of a block: dOut (fully written) → parameter gradients and dx (if wanted).
  const blockBackward = (r: _BlockRecord, dOut: TensorView, dx: TensorView | undefined) => {
    const b = r.spec;
    const W = store.param(`${b.name}.conv.weight`);
    const dW = store.grad(`${b.name}.conv.weight`);
    const dB = store.grad(`${b.name}.conv.bias`);
    if (cfg.order === "pre") {
      let convIn = r.convIn;
      if (recompute && b.preNorm) {
        convIn = alloc(r.convIn.shape as Shape5, `${b.name}.act`);
        normForward(r.x, convIn, `${b.name}.norm`, true);
      }
      conv3dBackwardWeight(plan, convIn, dOut, dW, dB, {
        kernel: b.kernel,
        packedInput: r.packed,
      });
      if (b.preNorm) {
        const dAct = alloc(r.convIn.shape as Shape5, `${b.name}.dact`);
        conv3dBackwardInput(plan, dOut, W, dAct, { kernel: b.kernel });
        if (dx) normBackward(r.x, dAct, dx, r.saved!, `${b.name}.norm`);
        else throw new Error(`Block ${b.name}: a pre-normalised block always needs dx`);
      } else if (dx) {
        conv3dBackwardInput(plan, dOut, W, dx, { kernel: b.kernel });
      }
    } else {
      let dConv = dOut;
      if (b.name !== "head") {
        dConv = alloc(r.convOut.shape as Shape5, `${b.name}.dconv`);
        normBackward(r.convOut, dOut, dConv, r.saved!, `${b.name}.norm`);
      }
      conv3dBackwardWeight(plan, r.convIn, dConv, dW, dB, {
        kernel: b.kernel,
        packedInput: r.packed,
      });
      if (dx) conv3dBackwardInput(plan, dConv, W, dx, { kernel: b.kernel });
    }
  };

  // ---- forward --------------------------------------------------------------------------
  const input = plan.scratch(numel(shapeAt(0, cfg.inChannels)) * 4, "input");
  let x: TensorView = view(input, shapeAt(0, cfg.inChannels));
  const enc: _BlockRecord[][] = [];
  const concat: { shape: Shape5; buffer: GPUBuffer; upChannels: number }[] = [];
  for (let l = 0; l < L - 1; l++) {
    const cin = layout.decoderInChannels[l];
    const shape = shapeAt(l, cin);
    concat.push({
      shape,
      buffer: plan.scratch(numel(shape) * 4, `dec${l}.concat`),
      upChannels: cin - cfg.filters[l],
    });
  }
  const levelOut: TensorView[] = [];
  const pools: MaxPoolSaved[] = [];
  for (let l = 0; l < L; l++) {
    const blocks = layout.encoder[l];
    const recs: _BlockRecord[] = [];
    blocks.forEach((b, i) => {
      const last = i === blocks.length - 1;
      const out = last && l < L - 1
        ? channelSlice(concat[l].buffer, concat[l].shape, concat[l].upChannels, b.cout)
        : alloc(shapeAt(l, b.cout), `${b.name}.out`);
      recs.push(blockForward(b, x, out, l));
      x = out;
    });
    enc.push(recs);
    levelOut.push(x);
    if (l < L - 1) {
      const pooled = alloc(shapeAt(l + 1, cfg.filters[l]), `enc${l}.pool`);
      pools.push(maxPoolForward(plan, x, pooled, { window: cfg.pools[l] }));
      x = pooled;
    }
  }
  const dec: _BlockRecord[][] = [];
  const decIn: TensorView[] = [];
  for (let l = L - 2; l >= 0; l--) {
    const c = concat[l];
    const upView = channelSlice(c.buffer, c.shape, 0, c.upChannels);
    if (cfg.upsampling === "transposed") {
      convTranspose3dForward(
        plan,
        x,
        store.param(`up${l}.weight`),
        store.param(`up${l}.bias`),
        upView,
      );
    } else {
      upsampleForward(plan, x, upView, { factor: cfg.pools[l] });
    }
    decIn[l] = x;
    let h: TensorView = view(c.buffer, c.shape);
    const recs: _BlockRecord[] = [];
    for (const b of layout.decoder[l]) {
      const out = alloc(shapeAt(l, b.cout), `${b.name}.out`);
      recs.push(blockForward(b, h, out, l));
      h = out;
    }
    dec[l] = recs;
    x = h;
  }
  const K = cfg.outChannels;
  const logits = alloc(shapeAt(0, K), "logits");
  const head = blockForward(layout.head, x, logits, 0);
  const probs = alloc(shapeAt(0, K), "probs");
  if (cfg.head === "sigmoid") sigmoidForward(plan, logits, probs);
  else softmaxForward(plan, logits, probs);

  plan.keep(input, probs.buffer);
  const result: Omit<UNetPlan, "memory"> = {
    plan,
    input,
    probs,
    dispose: () => plan.dispose(),
  };
  if (!options.loss) return result;

  // ---- loss -----------------------------------------------------------------------------
  const target = plan.scratch(numel(shapeAt(0, K)) * 4, "target");
  const lossBuf = plan.scratch(16, "loss");
  plan.keep(target, lossBuf);
  const dProbs = alloc(shapeAt(0, K), "dprobs");
  const dice = diceLossGpu(plan, probs, target, options.loss, { loss: lossBuf, grad: dProbs });
  result.target = target;
  result.lossReadback = dice.lossReadback;
  result.dice = dice;
  if (!train) return result;

  if (options.telemetry ?? true) {
    const summary = plan.scratch(32, "telemetry");
    plan.keep(summary);
    const tel = gradTelemetryGpu(plan, dProbs, target, { classes: options.loss.classes }, {
      summary,
    });
    result.telemetryReadback = tel.summaryReadback;
  }

  // ---- backward -------------------------------------------------------------------------
  const dLogits = alloc(shapeAt(0, K), "dlogits");
  if (cfg.head === "sigmoid") sigmoidBackward(plan, probs, dProbs, dLogits);
  else softmaxBackward(plan, probs, dProbs, dLogits);
  let dx: TensorView = alloc(x.shape as Shape5, "dec0.dout");
  blockBackward(head, dLogits, dx);
  const dConcat = concat.map((c, l) =>
    view(plan.scratch(numel(c.shape) * 4, `dec${l}.dconcat`), c.shape)
  );
  for (let l = 0; l <= L - 2; l++) {
    const recs = dec[l];
    let dOut = dx;
    for (let i = recs.length - 1; i >= 0; i--) {
      const r = recs[i];
      const dIn = i === 0 ? dConcat[l] : alloc(r.x.shape as Shape5, `${r.spec.name}.din`);
      blockBackward(r, dOut, dIn);
      dOut = dIn;
    }
    // Gradient of the upsampled part → the deeper level's output.
    const c = concat[l];
    const dUp = channelSlice(dConcat[l].buffer, c.shape, 0, c.upChannels);
    const dDeeper = alloc(decIn[l].shape as Shape5, `dec${l}.dup`);
    if (cfg.upsampling === "transposed") {
      convTranspose3dBackwardWeight(
        plan,
        decIn[l],
        dUp,
        store.grad(`up${l}.weight`),
        store.grad(`up${l}.bias`),
      );
      convTranspose3dBackwardInput(plan, dUp, store.param(`up${l}.weight`), dDeeper);
    } else {
      upsampleBackward(plan, dUp, dDeeper, { factor: cfg.pools[l] });
    }
    dx = dDeeper;
  }
  // Encoder, bottom up. The gradient of level l's output is the skip slice of dConcat[l]
  // plus the max-pool backward of level l + 1's input gradient.
  for (let l = L - 1; l >= 0; l--) {
    let dOut: TensorView;
    if (l === L - 1) dOut = dx;
    else {
      const c = concat[l];
      dOut = channelSlice(dConcat[l].buffer, c.shape, c.upChannels, cfg.filters[l]);
      const dPooled = dx;
      const tmp = alloc(levelOut[l].shape as Shape5, `enc${l}.dpool`);
      maxPoolBackward(plan, dPooled, tmp, pools[l]);
      addInto(plan, tmp, dOut);
    }
    const recs = enc[l];
    for (let i = recs.length - 1; i >= 0; i--) {
      const r = recs[i];
      const first = l === 0 && i === 0;
      const dIn = first ? undefined : alloc(r.x.shape as Shape5, `${r.spec.name}.din`);
      blockBackward(r, dOut, dIn);
      if (dIn) dOut = dIn;
    }
    dx = dOut;
  }

  // ---- optimiser ------------------------------------------------------------------------
  result.adam = adamUpdate(plan, [{
    params: store.params,
    grads: store.grads,
    m: store.m,
    v: store.v,
    decayMask: store.decayMask,
  }], options.adam ?? {});
  return result;
}
