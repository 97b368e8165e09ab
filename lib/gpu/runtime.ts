/**
 * Kernel runtime: compiles specs into cached pipelines, binds buffers and uniforms into
 * reusable dispatches, and records many dispatches into one command buffer.
 *
 * @module
 */

import {
  bindingOf,
  generateWgsl,
  type KernelSpec,
  uniformByteSize,
  type Workgroups,
} from "./kernel_spec.ts";

/** A buffer, or a range of one, bound to a storage binding. */
export type BufferArg = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Limits a binding is checked against in {@linkcode GpuRuntime.bind}. */
export interface BindLimits {
  /**
   * Largest byte size of one storage binding: the device's `maxStorageBufferBindingSize`, or
   * less (tests lower it to exercise the chunked paths of the ops on small tensors).
   * @default the device's `maxStorageBufferBindingSize`
   */
  bindingLimit?: number;
}

/** A bound, reusable kernel call: pipeline, bind group and workgroup counts. */
export interface Dispatch {
  /** Kernel name (for labels and profiling). */
  readonly name: string;
  /** The compiled pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** The bind group holding the buffers and the uniform buffer. */
  readonly bindGroup: GPUBindGroup;
  /** Workgroups per dimension. */
  readonly workgroups: Workgroups;
  /** The uniform buffer owned by this dispatch (destroyed by {@linkcode GpuRuntime.release}). */
  readonly uniformBuffer?: GPUBuffer;
}

/** Usage of every buffer the runtime creates: storage, and copies both ways. */
export const STORAGE_USAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST

/** A compiled pipeline and its bind group layout. */
export interface CompiledKernel {
  /** The pipeline. */
  pipeline: GPUComputePipeline;
  /** Its bind group layout. */
  layout: GPUBindGroupLayout;
}

/** Compiles, caches and runs {@linkcode KernelSpec}s on one device. */
export class GpuRuntime {
  /** The device kernels run on. */
  readonly device: GPUDevice;
  #cache = new Map<string, CompiledKernel>();
  #maxWorkgroups: number;

  /**
   * Wrap a device.
   *
   * @param device The WebGPU device.
   */
  constructor(device: GPUDevice) {
    this.device = device;
    this.#maxWorkgroups = device.limits.maxComputeWorkgroupsPerDimension;
  }

  /** The device's `maxStorageBufferBindingSize` in bytes. */
  get maxBindingSize(): number {
    return this.device.limits.maxStorageBufferBindingSize;
  }

  /** The device's `minStorageBufferOffsetAlignment` in bytes (offsets of bound ranges). */
  get storageAlignment(): number {
    return this.device.limits.minStorageBufferOffsetAlignment;
  }

  /** Number of distinct pipelines compiled so far. */
  get pipelineCount(): number {
    return this.#cache.size;
  }

  /**
   * The compiled pipeline of a spec, compiled once per distinct WGSL source.
   *
   * @param spec The kernel spec.
   * @returns Pipeline and bind group layout.
   * @throws {SyntaxError} When the WGSL fails to compile (the message holds the compiler log).
   */
  compile(spec: KernelSpec): CompiledKernel {
    const code = generateWgsl(spec);
    const hit = this.#cache.get(code);
    if (hit) return hit;
    const printWanted = _printWanted(spec.name);
    if (printWanted) console.error(`// ---- ${spec.name} ----\n${code}`);
    const entries: GPUBindGroupLayoutEntry[] = [];
    let binding = 0;
    for (const decl of Object.values(spec.bindings)) {
      const { access } = bindingOf(decl);
      entries.push({
        binding: binding++,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: access === "read" ? "read-only-storage" : "storage" },
      });
    }
    if (Object.keys(spec.uniforms).length > 0) {
      entries.push({
        binding: binding++,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform" },
      });
    }
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ label: spec.name, code });
    const layout = this.device.createBindGroupLayout({ label: spec.name, entries });
    const pipeline = this.device.createComputePipeline({
      label: spec.name,
      layout: this.device.createPipelineLayout({ label: spec.name, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    // Compilation errors surface asynchronously; checkCompilation() awaits them for tests.
    this.#pendingScopes.push(
      this.device.popErrorScope().then((err) => {
        if (err) {
          this.#compileErrors.push(
            `Cannot compile WGSL kernel ${spec.name}: ${err.message}\n${_numbered(code)}`,
          );
        }
      }),
    );
    const compiled = { pipeline, layout };
    this.#cache.set(code, compiled);
    return compiled;
  }

  #pendingScopes: Promise<void>[] = [];
  #compileErrors: string[] = [];

  /**
   * Wait for every pending compile and throw the first compilation error, if any.
   *
   * @throws {SyntaxError} With the compiler message and the numbered WGSL source.
   */
  async checkCompilation(): Promise<void> {
    const pending = this.#pendingScopes;
    this.#pendingScopes = [];
    await Promise.all(pending);
    if (this.#compileErrors.length > 0) {
      const msg = this.#compileErrors.join("\n\n");
      this.#compileErrors = [];
      throw new SyntaxError(msg);
    }
  }

  /**
   * Bind buffers and uniform values to a spec, producing a reusable dispatch.
   *
   * @param spec The kernel spec.
   * @param buffers One buffer (or range) per binding name of the spec.
   * @param uniforms One value per uniform field of the spec.
   * @returns The dispatch; record it as often as needed, release it when done.
   * @throws {TypeError} When a binding or uniform is missing or unknown.
   * @param limits The binding limit to check every storage binding against.
   * @throws {RangeError} When the dispatch exceeds the device's workgroup-count limit, a
   *   binding is larger than the binding limit, or its offset is not a multiple of the
   *   device's `minStorageBufferOffsetAlignment`.
   */
  bind<U extends string>(
    spec: KernelSpec<U>,
    buffers: Readonly<Record<string, BufferArg>>,
    uniforms: Readonly<Record<U, number>>,
    limits: BindLimits = {},
  ): Dispatch {
    const { pipeline, layout } = this.compile(spec as KernelSpec);
    const entries: GPUBindGroupEntry[] = [];
    const limit = Math.min(limits.bindingLimit ?? Infinity, this.maxBindingSize);
    const align = this.storageAlignment;
    let binding = 0;
    for (const name of Object.keys(spec.bindings)) {
      const arg = buffers[name];
      if (!arg) {
        throw new TypeError(`Cannot bind kernel ${spec.name}: buffer "${name}" is missing`);
      }
      const resource = arg instanceof GPUBuffer ? { buffer: arg } : arg;
      const offset = resource.offset ?? 0;
      const size = resource.size ?? resource.buffer.size - offset;
      if (offset % align !== 0) {
        throw new RangeError(
          `Cannot bind kernel ${spec.name}: buffer "${name}" starts at byte ${offset}, not a ` +
            `multiple of the storage offset alignment ${align}`,
        );
      }
      if (size > limit) {
        throw new RangeError(
          `Cannot bind kernel ${spec.name}: buffer "${name}" binds ${size} bytes, the binding ` +
            `limit is ${limit}`,
        );
      }
      entries.push({ binding: binding++, resource });
    }
    for (const name of Object.keys(buffers)) {
      if (!(name in spec.bindings)) {
        throw new TypeError(`Cannot bind kernel ${spec.name}: "${name}" is not a binding`);
      }
    }
    let uniformBuffer: GPUBuffer | undefined;
    const names = Object.keys(spec.uniforms) as U[];
    if (names.length > 0) {
      uniformBuffer = this.device.createBuffer({
        label: `${spec.name}.u`,
        size: uniformByteSize(spec as KernelSpec),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(uniformBuffer, 0, packUniforms(spec, uniforms));
      entries.push({ binding: binding++, resource: { buffer: uniformBuffer } });
    }
    const workgroups = spec.dispatch(uniforms);
    for (const n of workgroups) {
      if (!Number.isInteger(n) || n < 0 || n > this.#maxWorkgroups) {
        throw new RangeError(
          `Cannot dispatch kernel ${spec.name}: workgroup count ${n} is outside 0..${this.#maxWorkgroups}`,
        );
      }
    }
    const bindGroup = this.device.createBindGroup({ label: spec.name, layout, entries });
    return { name: spec.name, pipeline, bindGroup, workgroups, uniformBuffer };
  }

  /**
   * Rewrite the uniform values of a dispatch (same spec, same workgroup counts).
   *
   * @param spec The spec the dispatch was bound with.
   * @param dispatch The dispatch.
   * @param uniforms New uniform values.
   */
  setUniforms<U extends string>(
    spec: KernelSpec<U>,
    dispatch: Dispatch,
    uniforms: Readonly<Record<U, number>>,
  ): void {
    if (!dispatch.uniformBuffer) return;
    this.device.queue.writeBuffer(dispatch.uniformBuffer, 0, packUniforms(spec, uniforms));
  }

  /**
   * Record dispatches into a compute pass, in order.
   *
   * @param pass The open compute pass.
   * @param dispatches The dispatches to record.
   */
  encode(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
    for (const d of dispatches) {
      if (d.workgroups[0] === 0 || d.workgroups[1] === 0 || d.workgroups[2] === 0) continue;
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
  }

  /**
   * Run dispatches in one command buffer and one submit; optionally copy ranges to
   * readback buffers in the same submit.
   *
   * @param dispatches The dispatches, in order.
   * @returns A promise that resolves when the GPU has finished.
   */
  async run(dispatches: readonly Dispatch[]): Promise<void> {
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    this.encode(pass, dispatches);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
  }

  /**
   * Create a storage buffer (storage, copy source and destination), optionally filled.
   *
   * @param sizeOrData Byte size, or data to upload (its byte length is rounded up to 4).
   * @param label Debug label.
   * @returns The buffer.
   */
  createBuffer(sizeOrData: number | ArrayBufferView, label?: string): GPUBuffer {
    const bytes = typeof sizeOrData === "number" ? sizeOrData : sizeOrData.byteLength;
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const buffer = this.device.createBuffer({ label, size, usage: STORAGE_USAGE });
    if (typeof sizeOrData !== "number") this.write(buffer, sizeOrData);
    return buffer;
  }

  /**
   * Write data into a buffer through the queue.
   *
   * @param buffer Destination.
   * @param data Bytes to write (length a multiple of 4).
   * @param byteOffset Destination offset.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.device.queue.writeBuffer(
      buffer,
      byteOffset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /**
   * Read a buffer (or a range of it) back to the host as float32.
   *
   * @param buffer Source buffer (needs COPY_SRC).
   * @param byteLength Bytes to read; defaults to the whole buffer.
   * @param byteOffset Source offset.
   * @returns A copy of the data.
   */
  async read(buffer: GPUBuffer, byteLength = buffer.size, byteOffset = 0): Promise<Float32Array> {
    const bytes = await this.readBytes(buffer, byteLength, byteOffset);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }

  /**
   * Read raw bytes of a buffer back to the host.
   *
   * @param buffer Source buffer (needs COPY_SRC).
   * @param byteLength Bytes to read (multiple of 4).
   * @param byteOffset Source offset (multiple of 4).
   * @returns A copy of the bytes.
   */
  async readBytes(
    buffer: GPUBuffer,
    byteLength = buffer.size,
    byteOffset = 0,
  ): Promise<Uint8Array> {
    const staging = this.device.createBuffer({
      size: byteLength,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, byteLength);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Uint8Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /**
   * Destroy the uniform buffer owned by a dispatch.
   *
   * @param dispatches Dispatches that will not be recorded again.
   */
  release(dispatches: readonly Dispatch[]): void {
    for (const d of dispatches) d.uniformBuffer?.destroy();
  }
}

/**
 * Pack uniform values into the bytes of the spec's uniform struct.
 *
 * @param spec The kernel spec.
 * @param values One value per uniform field.
 * @returns The bytes, sized by {@linkcode uniformByteSize}.
 * @throws {TypeError} When a field is missing or a value is not representable.
 */
export function packUniforms<U extends string>(
  spec: KernelSpec<U>,
  values: Readonly<Record<U, number>>,
): ArrayBuffer {
  const bytes = new ArrayBuffer(uniformByteSize(spec as KernelSpec));
  const view = new DataView(bytes);
  let offset = 0;
  for (const [name, type] of Object.entries(spec.uniforms) as [U, string][]) {
    const v = values[name];
    if (typeof v !== "number" || Number.isNaN(v)) {
      throw new TypeError(`Cannot pack uniforms of ${spec.name}: "${name}" is ${v}`);
    }
    if (type === "f32") view.setFloat32(offset, v, true);
    else if (type === "u32") {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new TypeError(`Cannot pack uniforms of ${spec.name}: "${name}" = ${v} is not a u32`);
      }
      view.setUint32(offset, v, true);
    } else {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
        throw new TypeError(`Cannot pack uniforms of ${spec.name}: "${name}" = ${v} is not an i32`);
      }
      view.setInt32(offset, v, true);
    }
    offset += 4;
  }
  return bytes;
}

function _printWanted(name: string): boolean {
  let wanted: string | undefined;
  try {
    wanted = Deno.env.get("DICELAB_PRINT_WGSL");
  } catch {
    return false; // no env permission: never print
  }
  if (!wanted) return false;
  return wanted === "*" || wanted.split(",").some((w) => name.startsWith(w.trim()));
}

function _numbered(code: string): string {
  return code.split("\n").map((l, i) => `${String(i + 1).padStart(4)}  ${l}`).join("\n");
}
