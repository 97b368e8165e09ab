/**
 * Parameters packed like `lib/nn/param_store.ts`: named tensors in one flat GPU buffer at
 * 256-byte aligned slots, bound as buffer ranges. Tests use it so kernels see parameters and
 * gradients exactly as the trainer binds them (several ranges of one buffer).
 */

import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { recordOutput } from "./_views.ts";

const ALIGN = 64; // floats = 256 bytes

/** Named tensors in one flat buffer. */
export class ParamSlots {
  /** The flat buffer. */
  readonly buffer: GPUBuffer;
  #rt: GpuRuntime;
  #slots = new Map<string, { offset: number; size: number }>();

  /**
   * Pack tensors; a `null` entry gets `size` NaNs (an output to be written).
   *
   * @param rt The runtime.
   * @param tensors Named contents.
   * @param size Length of `null` entries.
   */
  constructor(
    rt: GpuRuntime,
    tensors: Record<string, ArrayLike<number> | null>,
    size = 0,
  ) {
    this.#rt = rt;
    let offset = 0;
    for (const [name, t] of Object.entries(tensors)) {
      const n = t ? t.length : size;
      this.#slots.set(name, { offset, size: n });
      offset += Math.ceil(Math.max(n, 1) / ALIGN) * ALIGN;
    }
    const flat = new Float32Array(Math.max(offset, ALIGN)).fill(NaN);
    for (const [name, t] of Object.entries(tensors)) {
      const s = this.#slots.get(name)!;
      if (t) flat.set(Array.from(t), s.offset);
    }
    this.buffer = rt.createBuffer(flat);
  }

  /** The binding range of one tensor. */
  range(name: string): { buffer: GPUBuffer; offset: number; size: number } {
    const s = this.#slots.get(name);
    if (!s) throw new TypeError(`Unknown slot ${name}`);
    return { buffer: this.buffer, offset: s.offset * 4, size: Math.max(s.size, 1) * 4 };
  }

  /** Read one tensor back. */
  async read(name: string): Promise<Float32Array> {
    const r = this.range(name);
    const values = await this.#rt.read(this.buffer, r.size, r.offset);
    recordOutput(values);
    return values;
  }

  /** Destroy the buffer. */
  destroy(): void {
    this.buffer.destroy();
  }
}
