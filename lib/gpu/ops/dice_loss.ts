/**
 * The Dice-loss family as a step-plan op: loss value, 1 − sDSC per subset and the gradient
 * w.r.t. the probabilities, for every Φ ∈ {I, CI, BI, BCI}, every ε form (scalar, numerator/
 * denominator pair, per class), the plain, leaf, marginal and labelSetMarginal variants, a
 * voxel mask, the squared denominator and label sets, matching the float64 reference
 * `diceLoss` (`lib/loss/dice_loss.ts`, Tilborghs, Bertels et al. 2022, Eq. 3–4):
 *   `L = 1 − (1/|Φ|) Σ_φ (2Σ_φ m yŷ + ε_nr) / (Σ_φ m (y + ŷ) + ε_dr)` (`y² + ŷ²` when squared).
 *
 * Three dispatches (partials, finalisation, gradient; see `lib/gpu/kernels/dice.ts`), bound
 * once. Per step the trainer writes the new targets into `target` (and the per-step inputs it
 * uses: the labelled maps with `setLabeled`, the voxel mask with `setMask`, the label-set
 * index with `setLabelSets`, or its own GPU buffers), runs the plan, and reads back 4 bytes:
 * ```ts ignore
 * const dice = diceLossGpu(plan, probsView, target, { phi: "I", epsilon, mask }, { loss, grad });
 * // every step:
 * rt.write(target, batchTargets);
 * dice.setMask(batchMask); // [B, ...spatial] 0/1, e.g. label ≠ ignore label
 * const [lossValue] = await plan.run([dice.lossReadback]);
 * ```
 * The voxel mask, the squared denominator and labelSetMarginal select generated kernels at
 * binding; without them the op binds the original kernels (same dispatches, same bits).
 *
 * @module
 */

import {
  type DiceLossOptions,
  type DiceMask,
  type EpsilonInput,
  type LabelSetIndex,
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
  diceGradSpec,
  diceImagePartialsSpec,
  diceImageQuantities,
  type DiceKernelFeatures,
  diceMapPartials,
  diceMapPartialsSpec,
  PHI_CODE,
  VARIANT_CODE,
} from "../kernels/dice.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import type { Readback, StepPlan } from "../step_plan.ts";
import {
  type BindingLimits,
  layoutOf,
  type RowChunk,
  rowChunks,
  type TensorView,
} from "../tensor.ts";

/** A `[B][C]` labelled mask given on the host. */
export type LabeledMask = ReadonlyArray<ReadonlyArray<boolean>>;

/**
 * Options of {@linkcode diceLossGpu}: those of `diceLoss`, with GPU buffers allowed for the
 * labelled maps, the voxel mask and the label-set index (the caller rewrites them each step).
 */
export interface DiceLossGpuOptions
  extends Omit<DiceLossOptions, "labeled" | "mask" | "labelSetIndex"> {
  /**
   * Which maps are labelled (leaf and marginal only): `[B][C]` booleans, or a GPU buffer of
   * `B·C` u32 (`b·C + c`, nonzero = labelled) that the caller rewrites each step.
   * @default a map is missing when its target is empty (computed on the GPU)
   */
  labeled?: GPUBuffer | LabeledMask;
  /**
   * Voxel mask (ignore label): a host array as `diceLoss` takes it (0/1, `[B, ...spatial]` or
   * `[B, C, ...spatial]`; the op uploads it and `setMask` replaces it), or a GPU buffer of
   * u32 (nonzero = counted; float32 0.0/1.0 reads the same) in the layout `maskLayout`.
   * Ignored voxels leave every sum and get a zero gradient.
   * @default every voxel counted
   */
  mask?: DiceMask | GPUBuffer;
  /**
   * Layout of a GPU `mask`: `"voxel"` (`[B·V]`, `b·V + i`) or `"map"` (`[B·C·V]`, like the
   * target). A host mask's layout comes from its length.
   * @default "voxel"
   */
  maskLayout?: "voxel" | "map";
  /**
   * Per-voxel label set `[B, ...spatial]` (0 = leaf label, s ≥ 1 = `labelSets[s − 1]`): a
   * host array (the op uploads it and `setLabelSets` replaces it) or a GPU buffer of `B·V`
   * u32. Only the labelSetMarginal variant reads it on the GPU; with the plain and leaf
   * variants label sets need only the zero target rows (which the GPU does not check).
   */
  labelSetIndex?: LabelSetIndex | GPUBuffer;
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
   * Per-map (plain, leaf, labelSetMarginal: rows `b·K + k`, `(Σyŷ, Σy, Σŷ, any)`) or
   * per-image (marginal: rows `b`, `C² + 3C` quantities) sums of the last run, float32
   * `[row·Q + q]`; `any > 0` exactly when the target map is not empty (on counted voxels).
   * With a mask every sum runs over the counted voxels; squared, the map rows hold Σy², Σŷ²
   * and the image rows `C² + C(C + 1) + C` quantities (see `diceImagePartialsSpec`);
   * labelSetMarginal sums the merged (ŷ', y').
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
   * Replace the host-side voxel mask for the next runs (only when the op was given a host
   * mask; the layout must stay the same). `undefined` counts every voxel.
   *
   * @param mask 0/1 per voxel, as `options.mask`, or undefined.
   * @throws {TypeError} When the op has no host mask or the mask's length or layout differs.
   * @throws {RangeError} When a value is not 0 or 1.
   */
  setMask(mask: DiceMask | undefined): void;
  /**
   * Replace the host-side label-set index (and optionally the sets, no more of them than at
   * binding) for the next runs; only when the op was given a host `labelSetIndex`.
   *
   * @param labelSetIndex `[B, ...spatial]` indices, as `options.labelSetIndex`.
   * @param labelSets New channel lists. @default the current sets
   * @throws {TypeError} When the op has no host index or the arguments are malformed.
   * @throws {RangeError} On an index above the number of sets or more sets than at binding.
   */
  setLabelSets(
    labelSetIndex: LabelSetIndex,
    labelSets?: ReadonlyArray<ReadonlyArray<number>>,
  ): void;
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
 * @param options Φ, ε, kept classes, variant, background, labelled maps, voxel mask, squared
 *   denominator and label sets, as `diceLoss` (masks and indices may be GPU buffers).
 * @param outputs Loss buffer, optional per-subset buffer and the gradient view.
 * @returns The bound op: readback ranges, the sums buffer and setters for per-step values.
 * @throws {TypeError} On mismatched shapes, too small buffers or malformed options.
 * @throws {RangeError} On unknown Φ or variant, negative ε, out-of-range classes, C > 32, a
 *   per-map mask with a merging variant, or a squared merging variant whose gradient would
 *   overwrite the probabilities it reads.
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
  const {
    labeled,
    mask: maskOption,
    maskLayout: gpuMaskLayout,
    labelSetIndex: indexOption,
    ...rest
  } = options ?? {};
  const gpuMask = labeled instanceof GPUBuffer ? labeled : undefined;
  const hostMask = gpuMask ? undefined : labeled as LabeledMask | undefined;
  const gpuVoxelMask = maskOption instanceof GPUBuffer ? maskOption : undefined;
  const hostVoxelMask = gpuVoxelMask ? undefined : maskOption as DiceMask | undefined;
  const gpuIndex = indexOption instanceof GPUBuffer ? indexOption : undefined;
  let hostIndex = gpuIndex ? undefined : indexOption as LabelSetIndex | undefined;
  const [B, C, V] = [p.n, p.c, p.spatial];
  if (gpuMaskLayout !== undefined && gpuMaskLayout !== "voxel" && gpuMaskLayout !== "map") {
    throw new TypeError(
      `Invalid options.maskLayout: expected "voxel" or "map", got ${JSON.stringify(gpuMaskLayout)}`,
    );
  }
  // GPU buffers are validated through host stand-ins of their layout (all 0: valid values).
  const maskLength = gpuVoxelMask
    ? (gpuMaskLayout === "map" ? B * C * V : B * V)
    : hostVoxelMask?.length ?? 0;
  const r = resolveDiceOptions(shape, {
    ...rest,
    labeled: hostMask,
    mask: gpuVoxelMask ? new Uint8Array(maskLength) : hostVoxelMask,
    labelSetIndex: gpuIndex ? new Uint8Array(B * V) : hostIndex,
  });
  const K = r.classes.length;
  const marginal = r.variant === "marginal";
  const setMarginal = r.variant === "labelSetMarginal";
  const squared = r.squaredDenominator;
  if (marginal && r.maskLayout === "map") {
    throw new RangeError(
      `Invalid options.mask: the "marginal" variant merges channels and takes a [B, ...spatial] mask, got one per map voxel`,
    );
  }
  if (setMarginal && r.maskLayout === "map") {
    throw new RangeError(
      `Invalid options.mask: the "labelSetMarginal" variant merges channels and takes a [B, ...spatial] mask, got one per map voxel`,
    );
  }
  const features: DiceKernelFeatures = {
    mask: r.maskLayout,
    squared,
    labelSets: setMarginal,
  };
  // Without any of the new options the op binds the original kernels, unchanged.
  const plainKernels = r.maskLayout === "none" && !squared && !setMarginal;
  const aliased = outputs.grad.buffer === probs.buffer;
  if (aliased && squared) {
    if (marginal || setMarginal) {
      throw new RangeError(
        `Cannot bind the Dice loss on the GPU: with squaredDenominator the ${r.variant} gradient reads ` +
          `the probabilities of other channels, so outputs.grad cannot overwrite probs`,
      );
    }
    if (g.cTot !== p.cTot || g.cOff !== p.cOff) {
      throw new TypeError(
        `Invalid outputs.grad: it shares the probabilities' buffer but not their view ` +
          `(channels ${g.cOff}..${g.cOff + g.c - 1} of ${g.cTot} vs ${p.cOff}..${
            p.cOff + p.c - 1
          } of ${p.cTot})`,
      );
    }
  }
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
  if (gpuVoxelMask) _checkSize(gpuVoxelMask, maskLength * 4, "options.mask");
  if (gpuIndex) _checkSize(gpuIndex, B * V * 4, "options.labelSetIndex");

  const rt = plan.rt;
  const S = r.subsetCount;
  // Set members after ε; room for as many sets as at binding (setLabelSets may change them).
  const setCapacity = setMarginal ? r.labelSets.length : 0;
  const setsOff = K + 2 * S;
  const params = plan.scratch((setsOff + setCapacity) * 4, "dice.params");
  const maskBuffer = gpuMask ?? plan.scratch(B * C * 4, "dice.labeled");
  const perSubset = outputs.perSubset ?? plan.scratch(r.subsetCount * 4, "dice.perSubset");
  const coef = plan.scratch(B * C * 16, "dice.coef");
  const voxelMask = r.maskLayout === "none"
    ? undefined
    : gpuVoxelMask ?? plan.scratch(maskLength * 4, "dice.mask");
  const setIndex = setMarginal
    ? gpuIndex ?? plan.scratch(B * V * 4, "dice.labelSetIndex")
    : undefined;

  const rows = marginal ? B : B * K;
  const Q = marginal ? diceImageQuantities(C, squared) : DICE_MAP_QUANTITIES;
  const perVoxelLoops = marginal ? C + 1 : setMarginal ? 2 * C + 2 : plainKernels ? 1 : 2;
  const { perThread, chunks } = diceTiling(V, rows * Q, DICE_FINALIZE_WG, perVoxelLoops);
  const partials = plan.scratch(rows * Q * chunks * DICE_WG * 4, "dice.partials");
  const sums = plan.scratch(rows * Q * 4, "dice.sums");
  const work = plan.scratch(2 * S * 4, "dice.work");

  let resolved = r;
  const writeParams = (res: ResolvedDiceOptions) => {
    const data = new Uint32Array(setsOff + setCapacity);
    data.set(res.classes, 0);
    const eps = subsetEpsilon(res);
    new Float32Array(data.buffer, K * 4, S).set(eps.numerator);
    new Float32Array(data.buffer, (K + S) * 4, S).set(eps.denominator);
    if (setMarginal) {
      res.labelSets.forEach((set, s) => {
        data[setsOff + s] = set.reduce((bits, c) => (bits | (1 << c)) >>> 0, 0);
      });
    }
    rt.write(params, data);
  };
  const writeMask = (mask: LabeledMask | undefined) => {
    if (!mask) return;
    const data = new Uint32Array(B * C);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) data[b * C + c] = mask[b][c] ? 1 : 0;
    rt.write(maskBuffer, data);
  };
  const writeVoxelMask = (mask: DiceMask | undefined) => {
    const data = new Uint32Array(maskLength);
    if (!mask) data.fill(1);
    else for (let i = 0; i < maskLength; i++) data[i] = mask[i] !== 0 ? 1 : 0;
    rt.write(voxelMask!, data);
  };
  const writeIndex = (index: LabelSetIndex) => {
    if (!setIndex) return;
    rt.write(setIndex, index instanceof Uint32Array ? index : Uint32Array.from(index));
  };
  writeParams(r);
  writeMask(hostMask);
  if (hostVoxelMask) writeVoxelMask(hostVoxelMask);
  if (hostIndex) writeIndex(hostIndex);

  const dispatches: Dispatch[] = [];
  // Tensors larger than a binding: groups of whole samples, bound as buffer ranges.
  const probsT = { buffer: probs.buffer, cTot: p.cTot, cOff: p.cOff, plane: V };
  const labelsT = { buffer: target, cTot: C, cOff: 0, plane: V };
  const gradT = { buffer: outputs.grad.buffer, cTot: g.cTot, cOff: g.cOff, plane: V };
  // A per-map mask is chunked like the target; per-voxel buffers (`[B·V]`) by their samples.
  const maskMapT = r.maskLayout === "map"
    ? [{ buffer: voxelMask!, cTot: C, cOff: 0, plane: V }]
    : [];
  const op = "diceLossGpu";
  const perSample = marginal ? 1 : K;
  const featureArgs = (ch: RowChunk, single: boolean, maskWindow?: number) => {
    const buffers: Record<string, BufferArg> = {};
    let vShift = 0;
    if (r.maskLayout === "voxel") {
      const w = _voxelWindow(op, voxelMask!, ch, V, plan.limits, single);
      buffers.mask = w.binding;
      vShift = w.shift;
    }
    if (setIndex) {
      const w = _voxelWindow(op, setIndex, ch, V, plan.limits, single);
      buffers.setIndex = w.binding;
      vShift = w.shift;
    }
    if (r.maskLayout === "map") buffers.mask = ch.windows[maskWindow!].binding;
    const mOff = r.maskLayout === "map" ? ch.windows[maskWindow!].offAbs : 0;
    return { buffers, uniforms: { vShift, mOff, setsOff } };
  };
  const partialChunks = rowChunks(op, B, C, [probsT, labelsT, ...maskMapT], plan.limits, {
    wholeSamples: true,
  });
  for (const ch of partialChunks) {
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
    const base = { probs: pw.binding, labels: yw.binding, partials };
    if (plainKernels) {
      dispatches.push(
        marginal
          ? plan.push(diceImagePartialsSpec(C), base, { ...common, mOff: 0, vShift: 0, setsOff })
          : plan.push(diceMapPartials, { ...base, classes: params }, common),
      );
      continue;
    }
    const extra = featureArgs(ch, partialChunks.length === 1, 2);
    const uniforms = { ...common, ...extra.uniforms };
    dispatches.push(
      marginal
        ? plan.push(diceImagePartialsSpec(C, features), { ...base, ...extra.buffers }, uniforms)
        : plan.push(
          diceMapPartialsSpec(features),
          { ...base, classes: params, ...extra.buffers },
          uniforms,
        ),
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
    squared: squared ? 1 : 0,
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
  // The squared gradient reads the probabilities (from the gradient's own binding when the
  // gradient overwrites them).
  const readsProbs = squared && !aliased;
  const gradTensors = [labelsT, gradT, ...maskMapT, ...(readsProbs ? [probsT] : [])];
  const gradChunks = rowChunks(op, B, C, gradTensors, plan.limits, { wholeSamples: true });
  for (const ch of gradChunks) {
    const [yw, gw] = ch.windows;
    const common = {
      V,
      C,
      cTot: g.cTot,
      cOff: gw.offAbs,
      perThread,
      chunks,
      row0: ch.n0 * C,
      rows: (ch.n0 + ch.nn) * C,
      yOff: yw.offAbs,
    };
    if (plainKernels) {
      dispatches.push(plan.push(diceGrad, { labels: yw.binding, coef, grad: gw.binding }, common));
      continue;
    }
    const extra = featureArgs(ch, gradChunks.length === 1, 2);
    const buffers: Record<string, BufferArg> = {
      labels: yw.binding,
      coef,
      grad: gw.binding,
      ...extra.buffers,
    };
    if (readsProbs) buffers.probs = ch.windows[2 + maskMapT.length].binding;
    if (setMarginal) buffers.params = params;
    const pw = readsProbs ? ch.windows[2 + maskMapT.length] : gw;
    dispatches.push(
      plan.push(diceGradSpec(features, aliased), buffers, {
        ...common,
        ...extra.uniforms,
        pTot: readsProbs ? p.cTot : g.cTot,
        pOff: pw.offAbs,
      }),
    );
  }

  // Light re-validation for ε and the labelled mask (the voxel mask and the label sets were
  // checked at binding and are checked by their own setters).
  const light = (o: Partial<DiceLossOptions>) =>
    resolveDiceOptions(shape, {
      ...rest,
      labelSets: undefined,
      variant: setMarginal ? "plain" : r.variant,
      labeled: hostMask,
      ...o,
    });
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
      light({ labeled: mask }); // validates the mask
      writeMask(mask);
      finalizeUniforms.hasMask = mask ? 1 : 0;
      rt.setUniforms(diceFinalize, finalize, finalizeUniforms);
    },
    setMask(mask) {
      if (!hostVoxelMask) {
        throw new TypeError(
          gpuVoxelMask
            ? "Cannot set the voxel mask: the op reads the caller's GPU buffer; write that buffer instead"
            : "Cannot set the voxel mask: the op was bound without one (pass options.mask to bind the masked kernels)",
        );
      }
      if (mask !== undefined) {
        if (mask.length !== maskLength) {
          throw new TypeError(
            `Invalid mask: length ${mask.length} differs from the bound mask's ${maskLength}`,
          );
        }
        resolveDiceOptions(shape, { mask }); // validates the values
      }
      writeVoxelMask(mask);
    },
    setLabelSets(labelSetIndex, labelSets) {
      if (!hostIndex) {
        throw new TypeError(
          gpuIndex
            ? "Cannot set the label sets: the op reads the caller's GPU index buffer; write that buffer instead"
            : "Cannot set the label sets: the op was bound without options.labelSetIndex",
        );
      }
      const sets = labelSets ?? resolved.labelSets;
      if (setMarginal && sets.length > setCapacity) {
        throw new RangeError(
          `Invalid labelSets: ${sets.length} sets, the op was bound with room for ${setCapacity}`,
        );
      }
      const check = resolveDiceOptions(shape, {
        variant: r.variant,
        labelSets: sets,
        labelSetIndex,
      });
      resolved = { ...resolved, labelSets: check.labelSets };
      hostIndex = labelSetIndex;
      writeIndex(labelSetIndex);
      if (setMarginal) writeParams(resolved);
    },
    setEpsilon(epsilon) {
      const e = light({ epsilon });
      resolved = {
        ...resolved,
        epsNumerator: e.epsNumerator,
        epsDenominator: e.epsDenominator,
        epsPerClass: e.epsPerClass,
      };
      writeParams(resolved);
    },
  };
}

/**
 * The binding of a per-voxel `[B·V]` u32 buffer for a chunk of whole samples: the whole
 * buffer when the op runs unchunked, else the aligned range holding the chunk's samples, and
 * the element index of its first element (`shift`, subtracted by the kernels).
 */
function _voxelWindow(
  op: string,
  buffer: GPUBuffer,
  ch: RowChunk,
  V: number,
  limits: BindingLimits,
  single: boolean,
): { binding: BufferArg; shift: number } {
  const end = (ch.n0 + ch.nn) * V * 4;
  if (single) {
    return {
      binding: buffer.size <= limits.bindingLimit ? buffer : { buffer, offset: 0, size: end },
      shift: 0,
    };
  }
  const start = Math.floor((ch.n0 * V * 4) / limits.alignment) * limits.alignment;
  if (end - start > limits.bindingLimit) {
    throw new RangeError(
      `Cannot run ${op}: ${ch.nn} sample(s) of the per-voxel mask or label-set index ` +
        `(${end - start} bytes) exceed the binding limit ${limits.bindingLimit}`,
    );
  }
  return { binding: { buffer, offset: start, size: end - start }, shift: start / 4 };
}

function _checkSize(buffer: GPUBuffer, bytes: number, name: string): void {
  if (!(buffer instanceof GPUBuffer)) throw new TypeError(`Invalid ${name}: expected a GPUBuffer`);
  if (buffer.size < bytes) {
    throw new TypeError(`Invalid ${name}: buffer has ${buffer.size} bytes, needs ${bytes}`);
  }
}
