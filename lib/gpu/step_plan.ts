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

import { type BufferPool, sizeClass } from "./buffer_pool.ts";
import { bindingOf, type KernelSpec } from "./kernel_spec.ts";
import {
  dryBuffer,
  hostWritten,
  type MemoryAssignment,
  planMemory,
  type ScratchRecord,
} from "./memory_plan.ts";
import type { BufferArg, Dispatch, GpuRuntime } from "./runtime.ts";
import type { BindingLimits } from "./tensor.ts";

/** A range to copy back to the host after the plan's dispatches. */
export interface Readback {
  /** Source buffer. */
  buffer: GPUBuffer;
  /** Source byte offset (multiple of 4). @default 0 */
  offset?: number;
  /** Bytes to read (multiple of 4). */
  size: number;
}

/** Options of a {@linkcode StepPlan}. */
export interface StepPlanOptions {
  /**
   * Largest byte size of one storage binding the plan's ops may bind. Ops split their
   * dispatches (per sample, per channel range, per depth slab) so that no binding exceeds it;
   * tests lower it (e.g. to 64 KiB) to run the chunked paths on small tensors. It is clamped
   * to the device's `maxStorageBufferBindingSize`.
   * @default the device's `maxStorageBufferBindingSize`
   */
  bindingLimit?: number;
  /**
   * Record instead of binding: scratch buffers are placeholders (no GPU memory), dispatches
   * are noted (which scratch each binds, and how) but not bound, and the plan cannot run.
   * {@linkcode StepPlan.memoryPlan} then plans the scratch by liveness. Use a
   * `dryRuntime` (`memory_plan.ts`) so that build-time writes go nowhere.
   * @default false
   */
  record?: boolean;
  /**
   * Physical buffers planned by a recording of the same build: the n-th scratch request is
   * served by its assigned (shared) pool buffer. The build must request the same sizes in the
   * same order as the recording did.
   */
  assignment?: MemoryAssignment;
}

/** Ordered dispatches plus the scratch buffers they use. */
export class StepPlan {
  /** The runtime the plan is bound on. */
  readonly rt: GpuRuntime;
  /** Pool scratch buffers come from. */
  readonly pool: BufferPool;
  #dispatches: Dispatch[] = [];
  #scratch: GPUBuffer[] = [];
  #record: boolean;
  #records: ScratchRecord[] = [];
  #recordOf = new Map<GPUBuffer, ScratchRecord>();
  #assignment?: MemoryAssignment;
  #physical: GPUBuffer[] = [];
  #taken = 0;

  /**
   * Create an empty plan.
   *
   * @param rt The runtime.
   * @param pool The buffer pool for scratch buffers.
   */
  constructor(rt: GpuRuntime, pool: BufferPool, options: StepPlanOptions = {}) {
    this.rt = rt;
    this.pool = pool;
    const limit = options.bindingLimit ?? rt.maxBindingSize;
    if (!Number.isInteger(limit) || limit < rt.storageAlignment) {
      throw new RangeError(
        `Cannot create a step plan: binding limit ${limit} is not an integer of at least ` +
          `${rt.storageAlignment} bytes`,
      );
    }
    this.bindingLimit = Math.min(limit, rt.maxBindingSize);
    this.#record = options.record ?? false;
    this.#assignment = options.assignment;
    if (this.#record && this.#assignment) {
      throw new TypeError("Cannot create a step plan: a recording plan takes no assignment");
    }
  }

  /** Largest byte size of one storage binding (see {@linkcode StepPlanOptions.bindingLimit}). */
  readonly bindingLimit: number;

  /** Limits the plan's ops split their work by: binding size and offset alignment (bytes). */
  get limits(): BindingLimits {
    return { bindingLimit: this.bindingLimit, alignment: this.rt.storageAlignment };
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
    if (this.#record) return this.#note(spec, buffers, uniforms);
    const d = this.rt.bind(spec, buffers, uniforms, { bindingLimit: this.bindingLimit });
    this.#dispatches.push(d);
    return d;
  }

  #note<U extends string>(
    spec: KernelSpec<U>,
    buffers: Readonly<Record<string, BufferArg>>,
    uniforms: Readonly<Record<U, number>>,
  ): Dispatch {
    const index = this.#dispatches.length;
    for (const [name, decl] of Object.entries(spec.bindings)) {
      const arg = buffers[name];
      if (!arg) {
        throw new TypeError(`Cannot bind kernel ${spec.name}: buffer "${name}" is missing`);
      }
      const r = this.#recordOf.get(arg instanceof GPUBuffer ? arg : arg.buffer);
      if (!r) continue;
      if (r.firstBinding < 0 || r.firstBinding === index) {
        const write = bindingOf(decl).access !== "read";
        r.writtenFirst = r.firstBinding < 0 ? write : r.writtenFirst && write;
        r.firstBinding = index;
      }
      r.last = index;
    }
    const d = {
      name: spec.name,
      workgroups: spec.dispatch(uniforms),
    } as unknown as Dispatch;
    this.#dispatches.push(d);
    return d;
  }

  /**
   * Mark buffers as read after the step (readbacks, outputs the caller reads): their scratch
   * is never shared. Other buffers are ignored.
   *
   * @param buffers Buffers of this plan.
   */
  keep(...buffers: GPUBuffer[]): void {
    for (const b of buffers) {
      const r = this.#recordOf.get(b);
      if (r) r.kept = true;
    }
  }

  /** The scratch buffers a recording plan has noted, in request order. */
  get scratchRecords(): readonly ScratchRecord[] {
    return this.#records;
  }

  /**
   * Plan the recorded scratch by liveness (see `planMemory` in `memory_plan.ts`).
   *
   * @returns The assignment to build the same step with.
   * @throws {TypeError} When the plan is not a recording.
   */
  memoryPlan(): MemoryAssignment {
    if (!this.#record) throw new TypeError("Cannot plan memory: the step plan is not a recording");
    for (const [b, r] of this.#recordOf) if (hostWritten(b)) r.kept = true;
    return planMemory(this.#records, { bindingLimit: this.bindingLimit });
  }

  /** Byte size of the plan's largest scratch buffer (planned, recorded or taken). */
  get largestScratch(): number {
    if (this.#assignment) return Math.max(0, ...this.#assignment.sizes);
    if (this.#record) return Math.max(0, ...this.#records.map((r) => sizeClass(r.bytes)));
    return Math.max(0, ...this.#scratch.map((b) => b.size));
  }

  /**
   * Check that a build with an assignment took every scratch its recording took.
   *
   * @throws {TypeError} When it took fewer.
   */
  checkAssignment(): void {
    const a = this.#assignment;
    if (a && this.#taken !== a.bytes.length) {
      throw new TypeError(
        `Cannot use the memory plan: the build took ${this.#taken} scratches, the recording ` +
          `${a.bytes.length}`,
      );
    }
  }

  /**
   * Bytes of the plan's scratch buffers: with an assignment the planned (shared) buffers,
   * else one pool buffer per request.
   */
  get scratchBytes(): number {
    if (this.#assignment) return this.#assignment.peakBytes;
    if (this.#record) return this.#records.reduce((s, r) => s + sizeClass(r.bytes), 0);
    return this.#scratch.reduce((s, b) => s + b.size, 0);
  }

  /**
   * A scratch buffer owned by the plan (from the pool; returned on dispose).
   *
   * @param bytes Minimum size in bytes.
   * @param label Debug label.
   * @returns The buffer (contents undefined).
   */
  scratch(bytes: number, label?: string): GPUBuffer {
    if (this.#record) {
      const b = dryBuffer(sizeClass(bytes), label ?? "");
      const r = {
        bytes,
        label: label ?? "",
        first: this.#dispatches.length,
        firstBinding: -1,
        last: -1,
        writtenFirst: false,
        kept: false,
      };
      this.#records.push(r);
      this.#recordOf.set(b, r);
      return b;
    }
    const a = this.#assignment;
    if (a) {
      const k = this.#taken++;
      if (k >= a.bytes.length || a.bytes[k] !== bytes) {
        throw new TypeError(
          `Cannot take scratch ${k} ("${label}", ${bytes} bytes): the memory plan recorded ` +
            (k < a.bytes.length ? `${a.bytes[k]} bytes` : `${a.bytes.length} scratches`),
        );
      }
      const p = a.slot[k];
      if (!this.#physical[p]) {
        this.#physical[p] = this.pool.acquire(a.sizes[p], label);
        this.#scratch.push(this.#physical[p]);
      }
      return this.#physical[p];
    }
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
    return await this.submit(readbacks);
  }

  /**
   * Record and submit the plan without waiting: the returned promise resolves with the
   * readbacks when the GPU has finished. Several submissions may be in flight at once (each
   * uses its own staging buffers), which hides the host's map latency behind the next step.
   * Queue writes made after `submit` returns are ordered after this submission.
   *
   * @param readbacks Ranges to read after the dispatches.
   * @returns A promise of one float32 array per readback range.
   */
  submit(readbacks: readonly Readback[] = []): Promise<Float32Array[]> {
    if (this.#record) throw new TypeError("Cannot run a recording step plan");
    const device = this.rt.device;
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    this.rt.encode(pass, this.#dispatches);
    pass.end();
    const bytes = readbacks.reduce((s, r) => s + Math.ceil(r.size / 16) * 16, 0);
    const staging = bytes > 0 ? this.#takeStaging(bytes) : undefined;
    let at = 0;
    const offsets: number[] = [];
    for (const r of readbacks) {
      encoder.copyBufferToBuffer(r.buffer, r.offset ?? 0, staging!, at, r.size);
      offsets.push(at);
      at += Math.ceil(r.size / 16) * 16;
    }
    device.queue.submit([encoder.finish()]);
    if (!staging) return device.queue.onSubmittedWorkDone().then(() => []);
    return staging.mapAsync(GPUMapMode.READ).then(() => {
      const out = readbacks.map((r, i) =>
        new Float32Array(staging.getMappedRange(offsets[i], Math.ceil(r.size / 4) * 4).slice(0))
      );
      staging.unmap();
      this.#freeStaging.push(staging);
      return out;
    });
  }

  #freeStaging: GPUBuffer[] = [];
  #allStaging: GPUBuffer[] = [];

  #takeStaging(size: number): GPUBuffer {
    const i = this.#freeStaging.findIndex((b) => b.size >= size);
    if (i >= 0) return this.#freeStaging.splice(i, 1)[0];
    const b = this.rt.device.createBuffer({
      size: Math.max(16, Math.ceil(size / 16) * 16),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.#allStaging.push(b);
    return b;
  }

  /** Release the dispatches' uniform buffers, the staging buffers and the scratch buffers. */
  dispose(): void {
    if (!this.#record) this.rt.release(this.#dispatches);
    this.#dispatches = [];
    for (const b of this.#scratch) this.pool.release(b);
    this.#scratch = [];
    this.#physical = [];
    for (const b of this.#allStaging) b.destroy();
    this.#allStaging = [];
    this.#freeStaging = [];
  }
}
