/**
 * A step plan: the dispatches of a whole computation (e.g. one training step), bound once and
 * recorded into one command buffer with one submit each time it runs, plus the scratch
 * buffers those dispatches own.
 *
 * Ops (`lib/gpu/ops/*`) append to a plan; the trainer runs the plan every step and reads back
 * only a few bytes (the loss).
 *
 * @module
 */

import type { BufferPool } from "./buffer_pool.ts";
import type { KernelSpec } from "./kernel_spec.ts";
import type { BufferArg, Dispatch, GpuRuntime } from "./runtime.ts";

/** A range to copy back to the host after the plan's dispatches. */
export interface Readback {
  /** Source buffer. */
  buffer: GPUBuffer;
  /** Source byte offset (multiple of 4). @default 0 */
  offset?: number;
  /** Bytes to read (multiple of 4). */
  size: number;
}

/** Ordered dispatches plus the scratch buffers they use. */
export class StepPlan {
  /** The runtime the plan is bound on. */
  readonly rt: GpuRuntime;
  /** Pool scratch buffers come from. */
  readonly pool: BufferPool;
  #dispatches: Dispatch[] = [];
  #scratch: GPUBuffer[] = [];
  #staging = new Map<number, GPUBuffer>();

  /**
   * Create an empty plan.
   *
   * @param rt The runtime.
   * @param pool The buffer pool for scratch buffers.
   */
  constructor(rt: GpuRuntime, pool: BufferPool) {
    this.rt = rt;
    this.pool = pool;
  }

  /** Dispatches in recording order. */
  get dispatches(): readonly Dispatch[] {
    return this.#dispatches;
  }

  /**
   * Bind a kernel and append it to the plan.
   *
   * @param spec The kernel spec.
   * @param buffers Buffers per binding name.
   * @param uniforms Uniform values.
   * @returns The dispatch (to update its uniforms later with `rt.setUniforms`).
   */
  push<U extends string>(
    spec: KernelSpec<U>,
    buffers: Readonly<Record<string, BufferArg>>,
    uniforms: Readonly<Record<U, number>>,
  ): Dispatch {
    const d = this.rt.bind(spec, buffers, uniforms);
    this.#dispatches.push(d);
    return d;
  }

  /**
   * A scratch buffer owned by the plan (from the pool; returned on dispose).
   *
   * @param bytes Minimum size in bytes.
   * @param label Debug label.
   * @returns The buffer (contents undefined).
   */
  scratch(bytes: number, label?: string): GPUBuffer {
    const b = this.pool.acquire(bytes, label);
    this.#scratch.push(b);
    return b;
  }

  /**
   * Record all dispatches into one compute pass, copy the readback ranges, submit once and
   * return the read bytes.
   *
   * @param readbacks Ranges to read after the dispatches.
   * @returns One float32 array per readback range.
   */
  async run(readbacks: readonly Readback[] = []): Promise<Float32Array[]> {
    const device = this.rt.device;
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    this.rt.encode(pass, this.#dispatches);
    pass.end();
    const stagings: GPUBuffer[] = [];
    let slot = 0;
    for (const r of readbacks) {
      const staging = this.#stagingFor(slot++, r.size);
      encoder.copyBufferToBuffer(r.buffer, r.offset ?? 0, staging, 0, r.size);
      stagings.push(staging);
    }
    device.queue.submit([encoder.finish()]);
    const out: Float32Array[] = [];
    await Promise.all(stagings.map((s) => s.mapAsync(GPUMapMode.READ)));
    for (let i = 0; i < stagings.length; i++) {
      const size = readbacks[i].size;
      out.push(new Float32Array(stagings[i].getMappedRange(0, size).slice(0)));
      stagings[i].unmap();
    }
    if (readbacks.length === 0) await device.queue.onSubmittedWorkDone();
    return out;
  }

  #stagingFor(slot: number, size: number): GPUBuffer {
    const have = this.#staging.get(slot);
    if (have && have.size >= size) return have;
    have?.destroy();
    const b = this.rt.device.createBuffer({
      size: Math.max(16, Math.ceil(size / 16) * 16),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#staging.set(slot, b);
    return b;
  }

  /** Release the dispatches' uniform buffers, the staging buffers and the scratch buffers. */
  dispose(): void {
    this.rt.release(this.#dispatches);
    this.#dispatches = [];
    for (const b of this.#scratch) this.pool.release(b);
    this.#scratch = [];
    for (const b of this.#staging.values()) b.destroy();
    this.#staging.clear();
  }
}
