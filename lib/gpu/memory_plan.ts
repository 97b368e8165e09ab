/**
 * Liveness planning of a step's scratch buffers (issue 17). A recording {@linkcode StepPlan}
 * notes, for every scratch buffer, the dispatches that bind it (first and last index, and
 * whether the first binding writes it); {@linkcode planMemory} then gives every scratch a
 * physical buffer with a greedy interval allocator, so that a buffer whose last reader has run
 * is reused by a later scratch. Buffers that carry values into the step or out of it are never
 * shared: those the host writes while the step is built (Adam's hyper-parameters, the Dice
 * op's parameters and masks, class lists), those first bound read-only (filled by the host
 * before each run), those bound by no dispatch, and those the builder keeps (the input and
 * target, read back or read by the caller: loss, telemetry, the probabilities). A first
 * binding that is read-write counts as a write: by the pool's contract (`BufferPool.acquire`:
 * contents are whatever the previous user left; tests poison them with NaN) no op reads
 * scratch it did not write in the same step.
 *
 * A dry runtime ({@linkcode dryRuntime}) mirrors an adapter's limits without a device: its
 * buffers are sized placeholders and its writes do nothing, so a step can be recorded and sized
 * without allocating GPU memory.
 *
 * @module
 */

import { sizeClass } from "./buffer_pool.ts";
import { GpuRuntime } from "./runtime.ts";

/** What a recording plan knows of one scratch buffer. */
export interface ScratchRecord {
  /** Requested bytes. */
  readonly bytes: number;
  /** Debug label. */
  readonly label: string;
  /**
   * Start of its lifetime: the number of dispatches recorded when it was taken. (Not its first
   * binding: an op may decide on buffer identity, e.g. use an input in place unless it is the
   * output's buffer, so two scratches that exist when one op is built never share.)
   */
  readonly first: number;
  /** Index of the first dispatch that binds it (−1: none). */
  firstBinding: number;
  /** Index of the last dispatch that binds it (−1: none). */
  last: number;
  /** Whether the first binding is write-only (the step does not read earlier contents). */
  writtenFirst: boolean;
  /** Kept: read back or read by the caller after the step, or written by the host. */
  kept: boolean;
}

const _HOST_WRITTEN = new WeakSet<GPUBuffer>();

/**
 * Whether the host wrote a placeholder buffer of a dry runtime (`queue.writeBuffer`).
 *
 * @param buffer A buffer.
 * @returns True for a dry buffer the host wrote.
 */
export function hostWritten(buffer: GPUBuffer): boolean {
  return _HOST_WRITTEN.has(buffer);
}

/** Physical buffers of a step and which scratch lives in which. */
export interface MemoryAssignment {
  /** Physical buffer index per scratch, in the order the scratches were taken. */
  readonly slot: readonly number[];
  /** Byte size of each physical buffer (a pool size class). */
  readonly sizes: readonly number[];
  /** Requested bytes per scratch (the planned build must ask for the same). */
  readonly bytes: readonly number[];
  /** Bytes of all physical buffers: the planned scratch memory of the step. */
  readonly peakBytes: number;
  /** Bytes the scratches would hold with one buffer each (the unplanned step). */
  readonly unplannedBytes: number;
}

/** Options of {@linkcode planMemory}. */
export interface PlanMemoryOptions {
  /**
   * Binding limit of the step: a scratch that fits one binding is only placed in a buffer that
   * fits one too (ops bind such buffers whole).
   */
  bindingLimit: number;
}

/**
 * Assign scratch buffers to physical buffers by liveness. Scratches are placed largest first
 * (ties: earliest first), each into the smallest existing buffer none of whose tenants is
 * live while it is, else into a new buffer of its size class; two scratches share a buffer
 * only if every dispatch binding one runs before the other is taken. A scratch
 * that fits one binding is only placed in a buffer that fits one too (ops bind such buffers
 * whole).
 *
 * @param records The recorded scratches.
 * @param options The binding limit.
 * @returns The assignment and its peak bytes.
 */
export function planMemory(
  records: readonly ScratchRecord[],
  options: PlanMemoryOptions,
): MemoryAssignment {
  const limit = options.bindingLimit;
  const slot = new Array<number>(records.length).fill(-1);
  const sizes: number[] = [];
  const tenants: number[][] = []; // per shared buffer: its tenants (record indices)
  const shared: boolean[] = [];
  const order: number[] = [];
  for (let i = 0; i < records.length; i++) {
    if (_shareable(records[i])) order.push(i);
    else {
      slot[i] = sizes.length;
      sizes.push(sizeClass(records[i].bytes));
      tenants.push([i]);
      shared.push(false);
    }
  }
  const need = records.map((r) => sizeClass(r.bytes));
  order.sort((a, b) => need[b] - need[a] || records[a].first - records[b].first || a - b);
  for (const i of order) {
    const r = records[i];
    let best = -1;
    for (let p = 0; p < sizes.length; p++) {
      if (!shared[p] || sizes[p] < need[i]) continue;
      if (need[i] <= limit && sizes[p] > limit) continue;
      if (best >= 0 && sizes[p] >= sizes[best]) continue;
      const free = tenants[p].every((t) => records[t].last < r.first || r.last < records[t].first);
      if (free) best = p;
    }
    if (best < 0) {
      best = sizes.length;
      sizes.push(need[i]);
      tenants.push([]);
      shared.push(true);
    }
    slot[i] = best;
    tenants[best].push(i);
  }
  return {
    slot,
    sizes,
    bytes: records.map((r) => r.bytes),
    peakBytes: sizes.reduce((s, b) => s + b, 0),
    unplannedBytes: need.reduce((s, b) => s + b, 0),
  };
}

function _shareable(r: ScratchRecord): boolean {
  return !r.kept && r.firstBinding >= 0 && r.writtenFirst;
}

/** The adapter limits a dry runtime mirrors. */
export interface DryLimits {
  /** `maxStorageBufferBindingSize` in bytes. @default 134217728 (128 MiB) */
  maxStorageBufferBindingSize?: number;
  /** `minStorageBufferOffsetAlignment` in bytes. @default 256 */
  minStorageBufferOffsetAlignment?: number;
  /** `maxComputeWorkgroupsPerDimension`. @default 65535 */
  maxComputeWorkgroupsPerDimension?: number;
  /** `maxBufferSize` in bytes. @default 268435456 (256 MiB) */
  maxBufferSize?: number;
  /** Whether the adapter is a CPU fallback (ops pick CPU-friendly blockings). @default false */
  isFallbackAdapter?: boolean;
}

/**
 * The limits of a real runtime, for {@linkcode dryRuntime}.
 *
 * @param rt A runtime on a device.
 * @returns Its limits and whether its adapter is a CPU fallback.
 */
export function runtimeLimits(rt: GpuRuntime): Required<DryLimits> {
  const l = rt.device.limits;
  return {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxBufferSize: l.maxBufferSize,
    isFallbackAdapter: Boolean(rt.device.adapterInfo?.isFallbackAdapter),
  };
}

/**
 * A runtime without a device: buffers are sized placeholders (no GPU memory) and writes only
 * mark the buffer written ({@linkcode hostWritten}). Only for recording plans (`new StepPlan(dryRuntime(...), pool, { record: true })`)
 * and parameter stores whose sizes are wanted; binding or running a dispatch on it fails.
 *
 * @param limits The adapter limits to mirror.
 * @returns The runtime.
 */
export function dryRuntime(limits: DryLimits = {}): GpuRuntime {
  const deviceLimits = {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize ?? 134217728,
    minStorageBufferOffsetAlignment: limits.minStorageBufferOffsetAlignment ?? 256,
    maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension ?? 65535,
    maxBufferSize: limits.maxBufferSize ?? 268435456,
  };
  const device = {
    label: "dry",
    limits: deviceLimits,
    adapterInfo: { isFallbackAdapter: limits.isFallbackAdapter ?? false },
    queue: { writeBuffer: (buffer: GPUBuffer) => void _HOST_WRITTEN.add(buffer) },
    createBuffer: (d: GPUBufferDescriptor) => dryBuffer(d.size, d.label ?? ""),
  };
  return new GpuRuntime(device as unknown as GPUDevice);
}

/**
 * A placeholder `GPUBuffer` of a size (passes `instanceof GPUBuffer`, holds no memory).
 *
 * @param size Byte size.
 * @param label Label.
 * @returns The placeholder.
 */
export function dryBuffer(size: number, label: string): GPUBuffer {
  return Object.create(GPUBuffer.prototype, {
    size: { value: size },
    label: { value: label },
    destroy: { value: () => {} },
  });
}
