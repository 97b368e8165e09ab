/**
 * Shared WebGPU fixture for tests. Every machine of this project has an adapter (llvmpipe),
 * so GPU tests run everywhere; outside CI a missing adapter marks them ignored (never
 * passed), and in CI (`CI` set) they run and fail with the acquisition error.
 */

import { GpuUnavailableError, requestGpu } from "../../lib/gpu/device.ts";
import { GpuRuntime } from "../../lib/gpu/runtime.ts";

let _error: unknown;
let _runtime: GpuRuntime | undefined;
try {
  const ctx = await requestGpu();
  _runtime = new GpuRuntime(ctx.device);
} catch (err) {
  if (!(err instanceof GpuUnavailableError)) throw err;
  _error = err;
}

/** The shared runtime, or undefined when no adapter exists. */
export const gpu: GpuRuntime | undefined = _runtime;

const inCi = (() => {
  try {
    return Boolean(Deno.env.get("CI"));
  } catch {
    return false;
  }
})();

/** The runtime, or throw the acquisition error (for tests that run in CI without an adapter). */
export function requireGpu(): GpuRuntime {
  if (_runtime) return _runtime;
  throw _error ?? new Error("No GPU runtime");
}

/**
 * Register a test that needs the GPU: ignored outside CI when there is no adapter,
 * failing in CI.
 *
 * @param name Test name.
 * @param fn Test body receiving the runtime.
 */
export function gpuTest(name: string, fn: (rt: GpuRuntime) => Promise<void> | void): void {
  Deno.test({
    name,
    ignore: !_runtime && !inCi,
    // The device and its pipelines outlive single tests by design.
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => fn(requireGpu()),
  });
}

/** Float32 NaN bit pattern used to poison outputs before a kernel runs. */
export function poisoned(length: number): Float32Array {
  return new Float32Array(length).fill(NaN);
}
