/**
 * Parameters, gradients, Adam moments and normalisation state of a network, each packed into
 * one flat GPU buffer with 256-byte aligned slots. One Adam dispatch updates every parameter;
 * layers bind their slices as buffer ranges.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import type { GpuRuntime } from "../gpu/runtime.ts";
import type { ParamSpec, StateSpec } from "./unet_config.ts";
import type { NamedTensor } from "./checkpoint.ts";

/** Slot alignment in floats (256 bytes: satisfies every adapter's storage-offset alignment). */
export const SLOT_ALIGN = 64;

/** Where one tensor lives in a flat buffer. */
export interface Slot {
  /** Offset in floats. */
  offset: number;
  /** Number of floats. */
  size: number;
}

/** A buffer range for binding one tensor. */
export interface BufferRange {
  /** The flat buffer. */
  buffer: GPUBuffer;
  /** Byte offset. */
  offset: number;
  /** Byte size. */
  size: number;
}

function _layout<T extends { name: string }>(items: T[], sizeOf: (t: T) => number) {
  const slots = new Map<string, Slot>();
  let offset = 0;
  for (const it of items) {
    const size = sizeOf(it);
    slots.set(it.name, { offset, size });
    offset += Math.ceil(Math.max(size, 1) / SLOT_ALIGN) * SLOT_ALIGN;
  }
  return { slots, total: Math.max(offset, SLOT_ALIGN) };
}

/**
 * He-normal / constant initial values of the parameters (seeded, one stream per tensor).
 *
 * @param specs Parameter specs.
 * @param seed Seed.
 * @returns One array per parameter.
 */
export function initialValues(specs: readonly ParamSpec[], seed: number): Float32Array[] {
  return specs.map((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    if (p.init.kind === "constant") out.fill(p.init.value);
    else {
      const rng = new Rng(seed, 1000 + i);
      const std = Math.sqrt(2 / p.init.fanIn);
      for (let j = 0; j < n; j++) out[j] = rng.normal() * std;
    }
    return out;
  });
}

/** Flat GPU storage of parameters, gradients, Adam moments and state tensors. */
export class ParamStore {
  /** Parameter specs in order. */
  readonly specs: readonly ParamSpec[];
  /** State specs in order. */
  readonly stateSpecs: readonly StateSpec[];
  /** Parameter slots by name. */
  readonly slots: ReadonlyMap<string, Slot>;
  /** State slots by name. */
  readonly stateSlots: ReadonlyMap<string, Slot>;
  /** Floats in the parameter buffer (padded). */
  readonly total: number;
  /** Parameters. */
  readonly params: GPUBuffer;
  /** Gradients (same layout). */
  readonly grads: GPUBuffer;
  /** Adam first moments. */
  readonly m: GPUBuffer;
  /** Adam second moments. */
  readonly v: GPUBuffer;
  /** 1 where L2 weight decay applies, 0 elsewhere (same layout). */
  readonly decayMask: GPUBuffer;
  /** Normalisation state (running statistics). */
  readonly state: GPUBuffer;
  #rt: GpuRuntime;

  /**
   * Allocate the buffers (contents zero; call {@linkcode ParamStore.initialize}).
   *
   * @param rt The runtime.
   * @param specs Parameter specs.
   * @param stateSpecs State specs.
   */
  constructor(rt: GpuRuntime, specs: readonly ParamSpec[], stateSpecs: readonly StateSpec[]) {
    this.#rt = rt;
    this.specs = specs;
    this.stateSpecs = stateSpecs;
    const p = _layout([...specs], (s) => s.shape.reduce((a, b) => a * b, 1));
    const s = _layout([...stateSpecs], (t) => t.size);
    this.slots = p.slots;
    this.stateSlots = s.slots;
    this.total = p.total;
    this.params = rt.createBuffer(p.total * 4, "params");
    this.grads = rt.createBuffer(p.total * 4, "grads");
    this.m = rt.createBuffer(p.total * 4, "adam.m");
    this.v = rt.createBuffer(p.total * 4, "adam.v");
    const mask = new Float32Array(p.total);
    for (const spec of specs) {
      if (!spec.decay) continue;
      const slot = p.slots.get(spec.name)!;
      mask.fill(1, slot.offset, slot.offset + slot.size);
    }
    this.decayMask = rt.createBuffer(mask, "decayMask");
    this.state = rt.createBuffer(s.total * 4, "state");
  }

  /** Number of learnable scalars. */
  get count(): number {
    return this.specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  }

  #slot(name: string): Slot {
    const slot = this.slots.get(name);
    if (!slot) throw new TypeError(`Unknown parameter "${name}"`);
    return slot;
  }

  /**
   * The parameter's range in the parameter buffer.
   *
   * @param name Parameter name.
   * @returns Buffer range.
   * @throws {TypeError} For an unknown name.
   */
  param(name: string): BufferRange {
    const s = this.#slot(name);
    return { buffer: this.params, offset: s.offset * 4, size: s.size * 4 };
  }

  /**
   * The parameter's gradient range.
   *
   * @param name Parameter name.
   * @returns Buffer range.
   * @throws {TypeError} For an unknown name.
   */
  grad(name: string): BufferRange {
    const s = this.#slot(name);
    return { buffer: this.grads, offset: s.offset * 4, size: s.size * 4 };
  }

  /**
   * A state tensor's range.
   *
   * @param name State name.
   * @returns Buffer range.
   * @throws {TypeError} For an unknown name.
   */
  stateRange(name: string): BufferRange {
    const s = this.stateSlots.get(name);
    if (!s) throw new TypeError(`Unknown state tensor "${name}"`);
    return { buffer: this.state, offset: s.offset * 4, size: s.size * 4 };
  }

  /**
   * Initialise parameters (He-normal weights, constants elsewhere), zero the moments and set
   * the state tensors to their initial values.
   *
   * @param seed Seed of the initialisation.
   */
  initialize(seed: number): void {
    const values = initialValues(this.specs, seed);
    const flat = new Float32Array(this.total);
    this.specs.forEach((p, i) => flat.set(values[i], this.slots.get(p.name)!.offset));
    this.#rt.write(this.params, flat);
    const zeros = new Float32Array(this.total);
    this.#rt.write(this.m, zeros);
    this.#rt.write(this.v, zeros);
    this.#rt.write(this.grads, zeros);
    const st = new Float32Array(this.state.size / 4);
    for (const s of this.stateSpecs) {
      const slot = this.stateSlots.get(s.name)!;
      st.fill(s.value, slot.offset, slot.offset + slot.size);
    }
    this.#rt.write(this.state, st);
  }

  /**
   * Download tensors as named arrays.
   *
   * @param which `"params"`, `"grads"`, `"m"`, `"v"` or `"state"`.
   * @returns One named tensor per parameter (or state tensor).
   */
  async download(which: "params" | "grads" | "m" | "v" | "state"): Promise<NamedTensor[]> {
    const buffer = which === "state" ? this.state : this[which];
    const flat = await this.#rt.read(buffer);
    if (which === "state") {
      return this.stateSpecs.map((s) => {
        const slot = this.stateSlots.get(s.name)!;
        return {
          name: s.name,
          shape: [s.size],
          data: flat.slice(slot.offset, slot.offset + slot.size),
        };
      });
    }
    return this.specs.map((p) => {
      const slot = this.slots.get(p.name)!;
      return {
        name: p.name,
        shape: p.shape,
        data: flat.slice(slot.offset, slot.offset + slot.size),
      };
    });
  }

  /**
   * Upload named tensors into one of the buffers.
   *
   * @param which Target buffer.
   * @param tensors Named tensors; every parameter (or state tensor) must be present.
   * @throws {TypeError} When a tensor is missing or has the wrong size.
   */
  upload(which: "params" | "m" | "v" | "state", tensors: readonly NamedTensor[]): void {
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const isState = which === "state";
    const slots = isState ? this.stateSlots : this.slots;
    const flat = new Float32Array((isState ? this.state.size : this.params.size) / 4);
    for (const [name, slot] of slots) {
      const t = byName.get(name);
      if (!t) throw new TypeError(`Cannot load ${which}: tensor "${name}" is missing`);
      if (t.data.length !== slot.size) {
        throw new TypeError(
          `Cannot load ${which}: tensor "${name}" has ${t.data.length} values, expected ${slot.size}`,
        );
      }
      flat.set(t.data, slot.offset);
    }
    this.#rt.write(isState ? this.state : this[which], flat);
  }

  /** Destroy every buffer. */
  destroy(): void {
    for (const b of [this.params, this.grads, this.m, this.v, this.decayMask, this.state]) {
      b.destroy();
    }
  }
}
