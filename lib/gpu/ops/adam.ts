/**
 * Adam (optional L2 weight decay, bias correction) as a step-plan op over one flat parameter
 * buffer or a list of buffers. The update is bound once; per-step values (step count, bias
 * corrections, learning rate) sit in a 32-byte storage buffer that {@linkcode AdamUpdate.setStep}
 * rewrites with `queue.writeBuffer` before each run of the plan. Formulas in
 * `lib/gpu/kernels/adam.ts`.
 *
 * @module
 */

import { ADAM_HYPER_LENGTH, adamSpec } from "../kernels/adam.ts";
import type { Vec } from "../kernels/reduce.ts";
import type { BufferArg, Dispatch } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import { bufferOf, checkNoWriteAlias, checkParam, floatsOf } from "./reduce.ts";

/** One group of parameters updated together (e.g. a `ParamStore`'s flat buffers). */
export interface AdamGroup {
  /** Parameters (updated in place). */
  params: BufferArg;
  /** Gradients. */
  grads: BufferArg;
  /** First moments (in place; start at 0). */
  m: BufferArg;
  /** Second moments (in place; start at 0). */
  v: BufferArg;
  /** 1 where weight decay applies, 0 elsewhere. @default decay applies everywhere */
  decayMask?: BufferArg;
  /** Number of parameters. @default every float of `params` */
  count?: number;
}

/** Hyper-parameters of Adam (torch.optim.Adam's names and defaults). */
export interface AdamOptions {
  /** Learning rate (can be changed every step with `setStep`). @default 1e-3 */
  lr?: number;
  /** First-moment decay β1. @default 0.9 */
  beta1?: number;
  /** Second-moment decay β2. @default 0.999 */
  beta2?: number;
  /** Added to the bias-corrected √v. @default 1e-8 */
  eps?: number;
  /** L2 weight decay λ, added to the gradient as λ·p. @default 0 */
  weightDecay?: number;
}

/** The bound Adam update returned by {@linkcode adamUpdate}. */
export interface AdamUpdate {
  /** The per-step values buffer (8 floats; see `ADAM_HYPER`). */
  readonly hyper: GPUBuffer;
  /** The dispatches, one per group. */
  readonly dispatches: readonly Dispatch[];
  /** The resolved hyper-parameters (`lr` is the initial one). */
  readonly options: Readonly<Required<AdamOptions>>;
  /**
   * Write the values of step `step` (1 for the first update) before running the plan.
   *
   * @param step The step number t ≥ 1 (bias corrections use β^t).
   * @param lr Learning rate of this step. @default the current one
   */
  setStep(step: number, lr?: number): void;
}

/**
 * Per-step values of the `hyper` buffer, computed in float64:
 * `[lr/(1 − β1^t), √(1 − β2^t), 1 − β1, β2, 1 − β2, eps, λ, 0]`.
 *
 * @param step The step number t ≥ 1.
 * @param options Hyper-parameters.
 * @returns The 8 floats.
 * @throws {RangeError} When `step` is not a positive integer or a hyper-parameter is out of
 *   range.
 */
export function adamHyper(step: number, options: AdamOptions = {}): Float32Array {
  const o = resolveAdamOptions(options);
  if (!Number.isInteger(step) || step < 1) {
    throw new RangeError(`Cannot compute Adam step values: step ${step} is not an integer ≥ 1`);
  }
  const bc1 = 1 - o.beta1 ** step;
  const bc2 = 1 - o.beta2 ** step;
  const out = new Float32Array(ADAM_HYPER_LENGTH);
  out.set([o.lr / bc1, Math.sqrt(bc2), 1 - o.beta1, o.beta2, 1 - o.beta2, o.eps, o.weightDecay]);
  return out;
}

/**
 * Hyper-parameters with defaults, validated.
 *
 * @param options Hyper-parameters.
 * @returns Every field set.
 * @throws {RangeError} When a value is out of range (lr, eps, λ ≥ 0; β in [0, 1)).
 */
export function resolveAdamOptions(options: AdamOptions = {}): Required<AdamOptions> {
  const o = {
    lr: options.lr ?? 1e-3,
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-8,
    weightDecay: options.weightDecay ?? 0,
  };
  for (const k of ["lr", "eps", "weightDecay"] as const) {
    if (!(o[k] >= 0) || !Number.isFinite(o[k])) {
      throw new RangeError(`Cannot configure Adam: ${k} = ${o[k]} is not a finite value ≥ 0`);
    }
  }
  for (const k of ["beta1", "beta2"] as const) {
    if (!(o[k] >= 0 && o[k] < 1)) {
      throw new RangeError(`Cannot configure Adam: ${k} = ${o[k]} is outside [0, 1)`);
    }
  }
  return o;
}

/**
 * Push an in-place Adam update of every group (one dispatch per group) sharing one per-step
 * values buffer, initialised for step 1.
 *
 * @param plan The step plan (the values buffer is its scratch).
 * @param groups Parameter groups.
 * @param options Hyper-parameters.
 * @returns The bound update; call `setStep(t, lr)` before each run.
 * @throws {TypeError} When a group's buffers are too small or alias each other.
 * @throws {RangeError} When a hyper-parameter is out of range.
 * @example
 * ```ts ignore
 * const adam = adamUpdate(plan, [{ params: store.params, grads: store.grads, m: store.m,
 *   v: store.v, decayMask: store.decayMask, count: store.total }], { lr: 1e-3 });
 * for (let t = 1; t <= steps; t++) { adam.setStep(t, lrAt(t)); await plan.run(); }
 * ```
 */
export function adamUpdate(
  plan: StepPlan,
  groups: readonly AdamGroup[],
  options: AdamOptions = {},
): AdamUpdate {
  const op = "adamUpdate";
  const resolved = resolveAdamOptions(options);
  const prepared = groups.map((g, i) => {
    const count = g.count ?? floatsOf(g.params);
    for (
      const [name, arg] of Object.entries({ params: g.params, grads: g.grads, m: g.m, v: g.v })
    ) {
      checkParam(op, `groups[${i}].${name}`, arg, count);
    }
    const read: Record<string, BufferArg> = { grad: g.grads };
    if (g.decayMask) {
      checkParam(op, `groups[${i}].decayMask`, g.decayMask, count);
      read.mask = g.decayMask;
    }
    const written = { param: g.params, m: g.m, v: g.v };
    checkNoWriteAlias(op, written, read);
    const aligned = [g.params, g.grads, g.m, g.v, ...(g.decayMask ? [g.decayMask] : [])]
      .every((b) => b instanceof GPUBuffer || (b.offset ?? 0) % 16 === 0);
    const vec: Vec = count % 4 === 0 && aligned ? 4 : 1;
    return { buffers: { ...written, ...read }, masked: Boolean(g.decayMask), vec, count };
  });
  const hyper = plan.scratch(ADAM_HYPER_LENGTH * 4, `${op}.hyper`);
  let lr = resolved.lr;
  plan.rt.write(hyper, adamHyper(1, resolved));
  const dispatches = prepared.flatMap((g) => {
    const spec = adamSpec({ decayMask: g.masked, vec: g.vec });
    return _ranges(plan, g.buffers, g.count).map(({ buffers, count }) =>
      plan.push(spec, { ...buffers, hyper }, { count: count / g.vec })
    );
  });
  return {
    hyper,
    dispatches,
    options: resolved,
    setStep(step: number, stepLr?: number): void {
      if (stepLr !== undefined) lr = stepLr;
      plan.rt.write(hyper, adamHyper(step, { ...resolved, lr }));
    },
  };
}

/**
 * The bindings of an Adam group, split into ranges of at most the plan's binding limit: one
 * range (the buffers as given) when they fit, else consecutive ranges whose offsets advance by
 * a multiple of the storage offset alignment. Adam is elementwise, so every range computes
 * exactly what the whole dispatch would.
 */
function _ranges(
  plan: StepPlan,
  buffers: Record<string, BufferArg>,
  count: number,
): { buffers: Record<string, BufferArg>; count: number }[] {
  const limit = plan.bindingLimit;
  const fits = Object.values(buffers).every((b) =>
    (b instanceof GPUBuffer ? b.size : b.size ?? b.buffer.size - (b.offset ?? 0)) <= limit
  );
  if (fits) return [{ buffers, count }];
  const quantum = Math.max(4, plan.rt.storageAlignment / 4); // floats
  const per = Math.floor(limit / 4 / quantum) * quantum;
  const out: { buffers: Record<string, BufferArg>; count: number }[] = [];
  for (let start = 0; start < count; start += per) {
    const n = Math.min(per, count - start);
    const part: Record<string, BufferArg> = {};
    for (const [name, b] of Object.entries(buffers)) {
      part[name] = {
        buffer: bufferOf(b),
        offset: (b instanceof GPUBuffer ? 0 : b.offset ?? 0) + start * 4,
        size: n * 4,
      };
    }
    out.push({ buffers: part, count: n });
  }
  return out;
}
