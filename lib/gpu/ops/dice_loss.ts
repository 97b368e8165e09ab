/**
 * The Dice-loss family as a step-plan op: loss value, 1 − sDSC per subset and the gradient
 * w.r.t. the probabilities, for every Φ ∈ {I, CI, BI, BCI}, every ε form (scalar, numerator/
 * denominator pair, per class) and the plain, leaf and marginal variants, matching the float64
 * reference `diceLoss` (`lib/loss/dice_loss.ts`, Tilborghs, Bertels et al. 2022, Eq. 3–4):
 *   `L = 1 − (1/|Φ|) Σ_φ (2Σ_φ yŷ + ε_nr) / (Σ_φ (y + ŷ) + ε_dr)`.
 *
 * Three dispatches (partials, finalisation, gradient; see `lib/gpu/kernels/dice.ts`), bound
 * once. Per step the trainer writes the new targets into `target` (and the mask, if it uses
 * one: `setLabeled` or its own GPU buffer), runs the plan, and reads back 4 bytes:
 * ```ts ignore
 * const dice = diceLossGpu(plan, probsView, target, { phi: "I", epsilon }, { loss, grad });
 * // every step:
 * rt.write(target, batchTargets);
 * const [lossValue] = await plan.run([dice.lossReadback]);
 * ```
 *
 * @module
 */

import {
  type DiceLossOptions,
  type EpsilonInput,
  type ResolvedDiceOptions,
  resolveDiceOptions,
  subsetOf,
} from "../../loss/dice_options.ts";
import {
  DICE_FINALIZE_WG,
  DICE_MAP_QUANTITIES,
  DICE_MAX_MARGINAL_CHANNELS,
  DICE_WG,
  diceFinalize,
  diceGrad,
  diceImagePartialsSpec,
  diceImageQuantities,
  diceMapPartials,
  PHI_CODE,
  VARIANT_CODE,
} from "../kernels/dice.ts";
import type { Dispatch } from "../runtime.ts";
import type { Readback, StepPlan } from "../step_plan.ts";
import { layoutOf, rowChunks, type TensorView } from "../tensor.ts";

/** A `[B][C]` labelled mask given on the host. */
export type LabeledMask = ReadonlyArray<ReadonlyArray<boolean>>;

/** Options of {@linkcode diceLossGpu}: those of `diceLoss`, with a GPU mask allowed. */
export interface DiceLossGpuOptions extends Omit<DiceLossOptions, "labeled"> {
  /**
   * Which maps are labelled (leaf and marginal only): `[B][C]` booleans, or a GPU buffer of
   * `B·C` u32 (`b·C + c`, nonzero = labelled) that the caller rewrites each step.
   * @default a map is missing when its target is empty (computed on the GPU)
   */
  labeled?: GPUBuffer | LabeledMask;
}

/** Output buffers of {@linkcode diceLossGpu}. */
export interface DiceLossGpuOutputs {
  /** Receives the loss as one float32 at byte 0. */
  loss: GPUBuffer;
  /** Receives 1 − sDSC per subset (|Φ| float32, subset order of `diceLoss`). @default not written */
  perSubset?: GPUBuffer;
  /**
   * Receives ∂L/∂ŷ, same shape as the probabilities; every element is written. It may be the
   * probabilities' own view (the gradient then overwrites them).
   */
  grad: TensorView;
}

/** The bound Dice-loss op returned by {@linkcode diceLossGpu}. */
export interface DiceLossGpu {
  /** Options resolved against the shape. */
  readonly resolved: ResolvedDiceOptions;
  /** |Φ|, the number of subsets. */
  readonly subsetCount: number;
  /** The 4 bytes to read back for the loss (pass to `plan.run`). */
  readonly lossReadback: Readback;
  /** The bytes of the per-subset losses, when `outputs.perSubset` was given. */
  readonly perSubsetReadback?: Readback;
  /**
   * Per-map (plain, leaf: rows `b·K + k`, `(Σyŷ, Σy, Σŷ, any)`) or per-image (marginal: rows
   * `b`, `C² + 3C` quantities) sums of the last run, float32 `[row·Q + q]`; `any > 0` exactly
   * when the target map is not empty.
   */
  readonly sums: GPUBuffer;
  /** Quantities per row of {@linkcode DiceLossGpu.sums}. */
  readonly quantities: number;
  /** The dispatches pushed onto the plan, in order. */
  readonly dispatches: readonly Dispatch[];
  /**
   * Replace the host-side labelled mask for the next runs (only when the op was not given a
   * GPU mask buffer). `undefined` returns to the default rule (missing = empty target).
   *
   * @param labeled `[B][C]` booleans, or undefined.
   * @throws {TypeError} When the mask is malformed or the op reads a caller's GPU buffer.
   */
  setLabeled(labeled: LabeledMask | undefined): void;
  /**
   * Replace ε for the next runs (e.g. an updated heuristic ε).
   *
   * @param epsilon Any ε form accepted by `diceLoss`.
   * @throws {TypeError} When ε is malformed.
   * @throws {RangeError} When ε is negative or not finite.
   */
  setEpsilon(epsilon: EpsilonInput): void;
}

/** Voxel tiling of the streaming kernels. */
export interface DiceTiling {
  /** Voxels each invocation visits (stride {@linkcode DICE_WG}). */
  perThread: number;
  /** Workgroups per map: `ceil(V / (DICE_WG · perThread))`. */
  chunks: number;
}

// llvmpipe stops any invocation's loops after about 65,535 iterations in total (see
// `lib/gpu/kernels/reduce.ts`); every kernel here stays below this many.
const LOOP_BUDGET = 50_000;
// Iterations reserved for invocation 0 of a finalisation after its share of the reduction.
const FINALIZE_RESERVE = 8_000;

/**
 * The voxel tiling of a map of `voxels` voxels: about 8192 partials per reduced quantity
 * (at least 16 voxels per invocation), more voxels per invocation when the finalisation's
 * serial sums over `items` quantities would exceed llvmpipe's loop budget.
 *
 * @param voxels Voxels per map V.
 * @param items Quantities the finalisation reduces (rows × quantities per row).
 * @param finalizeWorkgroup Invocations of the finalisation workgroup.
 * @param perVoxelLoops Loop iterations per voxel of the heaviest streaming kernel.
 * @returns The tiling.
 * @throws {RangeError} When no tiling fits the loop budget (volume or batch far too large).
 */
export function diceTiling(
  voxels: number,
  items: number,
  finalizeWorkgroup = DICE_FINALIZE_WG,
  perVoxelLoops = 1,
): DiceTiling {
  if (!Number.isInteger(voxels) || voxels < 1) {
    throw new RangeError(`Cannot tile the Dice loss: ${voxels} voxels per map`);
  }
  const itemsPerInvocation = Math.ceil(items / finalizeWorkgroup);
  const maxPartials = Math.floor((LOOP_BUDGET - FINALIZE_RESERVE) / itemsPerInvocation);
  let perThread = Math.max(16, Math.ceil(voxels / 8192));
  for (;;) {
    const chunks = Math.ceil(voxels / (DICE_WG * perThread));
    const fits = chunks * DICE_WG <= maxPartials;
    if (fits && perThread * perVoxelLoops <= LOOP_BUDGET) return { perThread, chunks };
    if (fits || perThread * perVoxelLoops > LOOP_BUDGET) {
      throw new RangeError(
        `Cannot tile the Dice loss: ${voxels} voxels per map and ${items} reduced quantities ` +
          `exceed the adapter's loop budget`,
      );
    }
    perThread = Math.ceil(perThread * 1.25);
  }
}

/**
 * ε of every subset, in float64, exactly as the reference forms it: the subset's class ε for
 * Φ = I and BI; for CI and BCI a per-class ε contributes the sum over the kept classes.
 *
 * @param r Resolved options.
 * @returns `{ numerator, denominator }`, one value per subset.
 */
export function subsetEpsilon(
  r: ResolvedDiceOptions,
): { numerator: Float64Array; denominator: Float64Array } {
  const S = r.subsetCount;
  const K = r.classes.length;
  const numerator = new Float64Array(S);
  const denominator = new Float64Array(S);
  for (let b = 0; b < r.batch; b++) {
    for (let k = 0; k < K; k++) {
      const s = subsetOf(r.phi, b, k, K);
      if (r.phi === "I" || r.phi === "BI" || !r.epsPerClass) {
        numerator[s] = r.epsNumerator[k];
        denominator[s] = r.epsDenominator[k];
      } else if (r.phi === "CI" || b === 0) {
        numerator[s] += r.epsNumerator[k];
        denominator[s] += r.epsDenominator[k];
      }
    }
  }
  return { numerator, denominator };
}

/**
 * Append the Dice loss, its per-subset values and its gradient to a step plan.
 *
 * @param plan The step plan (dispatches are bound once; run the plan every step).
 * @param probs Probabilities `[B, C, D, H, W]` (activation applied); may be a channel slice.
 * @param target Dense float32 targets `[B, C, D·H·W]` (same B, C and voxel order).
 * @param options Φ, ε, kept classes, variant, background and labelled maps, as `diceLoss`.
 * @param outputs Loss buffer, optional per-subset buffer and the gradient view.
 * @returns The bound op: readback ranges, the sums buffer and setters for per-step values.
 * @throws {TypeError} On mismatched shapes, too small buffers or malformed options.
 * @throws {RangeError} On unknown Φ or variant, negative ε, out-of-range classes, or C > 32.
 * @example
 * ```ts ignore
 * const op = diceLossGpu(plan, view(probs, [2, 4, 48, 192, 192]), target,
 *   { phi: "BI", epsilon: 1e-7, classes: [1, 2, 3] }, { loss, grad: view(dProbs, shape) });
 * const [lossValue] = await plan.run([op.lossReadback]); // one submit, 4 bytes back
 * ```
 */
export function diceLossGpu(
  plan: StepPlan,
  probs: TensorView,
  target: GPUBuffer,
  options: DiceLossGpuOptions,
  outputs: DiceLossGpuOutputs,
): DiceLossGpu {
  const p = layoutOf(probs, "probs");
  const g = layoutOf(outputs.grad, "outputs.grad");
  const shape = [p.n, p.c, p.d, p.h, p.w];
  if (g.n !== p.n || g.c !== p.c || g.spatial !== p.spatial) {
    throw new TypeError(
      `Invalid outputs.grad: shape ${JSON.stringify(outputs.grad.shape)} does not match probs ${
        JSON.stringify(probs.shape)
      }`,
    );
  }
  const { labeled, ...rest } = options ?? {};
  const gpuMask = labeled instanceof GPUBuffer ? labeled : undefined;
  const hostMask = gpuMask ? undefined : labeled as LabeledMask | undefined;
  const r = resolveDiceOptions(shape, { ...rest, labeled: hostMask });
  // The float64 reference has these; the GPU kernels do not yet: refuse rather than ignore.
  const unsupported = [
    r.squaredDenominator ? "squaredDenominator" : "",
    r.maskLayout !== "none" ? "mask" : "",
    r.labelSets.length > 0 ? "labelSets" : "",
    r.variant === "labelSetMarginal" ? 'variant "labelSetMarginal"' : "",
  ].filter(Boolean);
  if (unsupported.length > 0) {
    throw new RangeError(
      `Cannot bind the Dice loss on the GPU: ${
        unsupported.join(", ")
      } run only in the float64 reference diceLoss so far`,
    );
  }
  const { batch: B, channels: C, voxels: V } = r;
  const K = r.classes.length;
  const marginal = r.variant === "marginal";
  const maxC = marginal ? DICE_MAX_MARGINAL_CHANNELS : 32;
  if (C > maxC) {
    throw new RangeError(
      `Cannot bind the Dice loss on the GPU: C = ${C} exceeds ${maxC} channels (${r.variant})`,
    );
  }
  // Serial work of the finalising invocation (see FINALIZE_RESERVE).
  const serial = 2 * r.subsetCount + 5 * B * C + 2 * B * K + (marginal ? B * C * (C + 2) : 0);
  if (serial > FINALIZE_RESERVE) {
    throw new RangeError(
      `Cannot bind the Dice loss on the GPU: B·C = ${B * C} maps exceed the adapter's loop budget`,
    );
  }
  _checkSize(target, B * C * V * 4, "target");
  _checkSize(outputs.loss, 4, "outputs.loss");
  if (outputs.perSubset) _checkSize(outputs.perSubset, r.subsetCount * 4, "outputs.perSubset");
  if (gpuMask) _checkSize(gpuMask, B * C * 4, "options.labeled");

  const rt = plan.rt;
  const S = r.subsetCount;
  const params = plan.scratch((K + 2 * S) * 4, "dice.params");
  const maskBuffer = gpuMask ?? plan.scratch(B * C * 4, "dice.labeled");
  const perSubset = outputs.perSubset ?? plan.scratch(r.subsetCount * 4, "dice.perSubset");
  const coef = plan.scratch(B * C * 16, "dice.coef");

  const rows = marginal ? B : B * K;
  const Q = marginal ? diceImageQuantities(C) : DICE_MAP_QUANTITIES;
  const { perThread, chunks } = diceTiling(V, rows * Q, DICE_FINALIZE_WG, marginal ? C + 1 : 1);
  const partials = plan.scratch(rows * Q * chunks * DICE_WG * 4, "dice.partials");
  const sums = plan.scratch(rows * Q * 4, "dice.sums");
  const work = plan.scratch(2 * S * 4, "dice.work");

  let resolved = r;
  const writeParams = (res: ResolvedDiceOptions) => {
    const data = new Uint32Array(K + 2 * S);
    data.set(res.classes, 0);
    const eps = subsetEpsilon(res);
    new Float32Array(data.buffer, K * 4, S).set(eps.numerator);
    new Float32Array(data.buffer, (K + S) * 4, S).set(eps.denominator);
    rt.write(params, data);
  };
  const writeMask = (mask: LabeledMask | undefined) => {
    if (!mask) return;
    const data = new Uint32Array(B * C);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) data[b * C + c] = mask[b][c] ? 1 : 0;
    rt.write(maskBuffer, data);
  };
  writeParams(r);
  writeMask(hostMask);

  const dispatches: Dispatch[] = [];
  // Tensors larger than a binding: groups of whole samples, bound as buffer ranges.
  const probsT = { buffer: probs.buffer, cTot: p.cTot, cOff: p.cOff, plane: V };
  const labelsT = { buffer: target, cTot: C, cOff: 0, plane: V };
  const gradT = { buffer: outputs.grad.buffer, cTot: g.cTot, cOff: g.cOff, plane: V };
  const op = "diceLossGpu";
  const perSample = marginal ? 1 : K;
  for (const ch of rowChunks(op, B, C, [probsT, labelsT], plan.limits, { wholeSamples: true })) {
    const [pw, yw] = ch.windows;
    const common = {
      V,
      C,
      K,
      cTot: p.cTot,
      cOff: pw.offAbs,
      perThread,
      chunks,
      row0: ch.n0 * perSample,
      rows: (ch.n0 + ch.nn) * perSample,
      yOff: yw.offAbs,
      one: 1,
    };
    dispatches.push(
      marginal
        ? plan.push(diceImagePartialsSpec(C), {
          probs: pw.binding,
          labels: yw.binding,
          partials,
        }, common)
        : plan.push(diceMapPartials, {
          probs: pw.binding,
          labels: yw.binding,
          classes: params,
          partials,
        }, common),
    );
  }
  const finalizeUniforms = {
    B,
    C,
    K,
    S: r.subsetCount,
    phi: PHI_CODE[r.phi],
    variant: VARIANT_CODE[r.variant],
    background: r.background,
    hasMask: labeled === undefined ? 0 : 1,
    items: rows * Q,
    chunks,
    one: 1,
  };
  const finalize = plan.push(diceFinalize, {
    partials,
    params,
    labeled: maskBuffer,
    sums,
    work,
    coef,
    loss: outputs.loss,
    perSubset,
  }, finalizeUniforms);
  dispatches.push(finalize);
  for (const ch of rowChunks(op, B, C, [labelsT, gradT], plan.limits, { wholeSamples: true })) {
    const [yw, gw] = ch.windows;
    dispatches.push(
      plan.push(diceGrad, { labels: yw.binding, coef, grad: gw.binding }, {
        V,
        C,
        cTot: g.cTot,
        cOff: gw.offAbs,
        perThread,
        chunks,
        row0: ch.n0 * C,
        rows: (ch.n0 + ch.nn) * C,
        yOff: yw.offAbs,
      }),
    );
  }

  return {
    get resolved() {
      return resolved;
    },
    subsetCount: r.subsetCount,
    lossReadback: { buffer: outputs.loss, offset: 0, size: 4 },
    perSubsetReadback: outputs.perSubset
      ? { buffer: outputs.perSubset, offset: 0, size: r.subsetCount * 4 }
      : undefined,
    sums,
    quantities: Q,
    dispatches,
    setLabeled(mask) {
      if (gpuMask) {
        throw new TypeError(
          "Cannot set the labelled mask: the op reads the caller's GPU buffer; write that buffer instead",
        );
      }
      resolveDiceOptions(shape, { ...rest, labeled: mask }); // validates the mask
      writeMask(mask);
      finalizeUniforms.hasMask = mask ? 1 : 0;
      rt.setUniforms(diceFinalize, finalize, finalizeUniforms);
    },
    setEpsilon(epsilon) {
      resolved = resolveDiceOptions(shape, { ...rest, labeled: hostMask, epsilon });
      writeParams(resolved);
    },
  };
}

function _checkSize(buffer: GPUBuffer, bytes: number, name: string): void {
  if (!(buffer instanceof GPUBuffer)) throw new TypeError(`Invalid ${name}: expected a GPUBuffer`);
  if (buffer.size < bytes) {
    throw new TypeError(`Invalid ${name}: buffer has ${buffer.size} bytes, needs ${bytes}`);
  }
}
