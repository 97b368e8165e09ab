/**
 * Checks shared by the convolution ops (`conv3d.ts`, `conv_transpose3d.ts`): parameter sizes,
 * the plan's binding limit for one binding, u32 indexing, and whether the plan runs on a CPU
 * adapter (which selects the kernels' default blocking).
 *
 * @module
 */

import type { BufferArg } from "../runtime.ts";
import type { StepPlan } from "../step_plan.ts";
import { checkParam } from "./reduce.ts";

/**
 * Check that a parameter binding holds at least `floats` floats.
 *
 * @param op Op name for the error.
 * @param name Argument name.
 * @param buffer The binding.
 * @param floats Floats needed.
 * @throws {TypeError} When it is too small.
 */
export function checkFloats(op: string, name: string, buffer: BufferArg, floats: number): void {
  checkParam(op, name, buffer, floats);
}

/**
 * Whether `floats` floats fit one binding of the plan (its binding limit) and u32 indexing.
 *
 * @param plan The step plan.
 * @param floats Floats of the binding.
 * @returns True when they fit.
 */
export function fitsBinding(plan: StepPlan, floats: number): boolean {
  return floats * 4 <= plan.bindingLimit && floats < 2 ** 32;
}

/**
 * Check that one binding of `floats` floats fits the plan's binding limit and u32 indexing.
 *
 * @param plan The step plan.
 * @param op Op name for the error.
 * @param what What the binding holds (for the error).
 * @param floats Floats of the binding.
 * @throws {RangeError} When it does not fit.
 */
export function checkBinding(plan: StepPlan, op: string, what: string, floats: number): void {
  const limit = plan.bindingLimit;
  if (floats * 4 > limit) {
    throw new RangeError(
      `Cannot run ${op}: ${what} need ${floats * 4} bytes, the binding limit is ${limit}`,
    );
  }
  checkU32(op, floats);
}

/**
 * Check that `elements` can be indexed with u32.
 *
 * @param op Op name for the error.
 * @param elements Element count.
 * @throws {RangeError} When it is 2³² or more.
 */
export function checkU32(op: string, elements: number): void {
  if (elements >= 2 ** 32) {
    throw new RangeError(`Cannot run ${op}: ${elements} elements exceed u32 indexing`);
  }
}

/**
 * Whether the plan's device runs on a CPU / fallback adapter (llvmpipe).
 *
 * @param plan The step plan.
 * @returns True for a fallback adapter.
 */
export function isCpuAdapter(plan: StepPlan): boolean {
  return Boolean(plan.rt.device.adapterInfo?.isFallbackAdapter);
}
