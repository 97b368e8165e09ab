/**
 * A pool of storage buffers bucketed by size class, so that repeated allocations of the same
 * shapes (every training step, every sliding window) reuse GPU memory instead of growing it.
 *
 * @module
 */

import { STORAGE_USAGE } from "./runtime.ts";

/** Memory accounting of a {@linkcode BufferPool}. */
export interface BufferPoolStats {
  /** Bytes held by buffers currently handed out. */
  bytesInUse: number;
  /** Bytes held by free buffers waiting for reuse. */
  bytesFree: number;
  /** Buffers created since the pool was made. */
  created: number;
  /** Acquisitions served from the free lists. */
  reused: number;
}

/**
 * Round a byte size up to its size class: multiples of 256 bytes below 4 KiB, then four
 * classes per power of two (at most 25 % waste).
 *
 * @param bytes Requested size in bytes.
 * @returns The class size in bytes.
 */
export function sizeClass(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes < 0) {
    throw new RangeError(`Cannot size a buffer: ${bytes} bytes`);
  }
  const b = Math.max(256, Math.ceil(bytes));
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

/** Hands out storage buffers by size class and takes them back for reuse. */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<number, GPUBuffer[]>();
  #inUse = new Set<GPUBuffer>();
  #stats: BufferPoolStats = { bytesInUse: 0, bytesFree: 0, created: 0, reused: 0 };
  #poison: boolean;

  /**
   * Create a pool on a device.
   *
   * @param device The device that owns the buffers.
   * @param options `poison`: fill every acquired buffer with NaN (tests: a kernel that reads
   *   scratch it did not write then fails loudly instead of depending on earlier contents).
   */
  constructor(device: GPUDevice, options: { poison?: boolean } = {}) {
    this.#device = device;
    this.#poison = options.poison ?? false;
  }

  /**
   * Take a buffer of at least `bytes` bytes (storage, copy source and destination).
   * Its contents are whatever the previous user left.
   *
   * @param bytes Minimum size in bytes.
   * @param label Debug label for a newly created buffer.
   * @returns The buffer.
   */
  acquire(bytes: number, label?: string): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.#free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.#stats.bytesFree -= size;
      this.#stats.reused++;
    } else {
      buffer = this.#device.createBuffer({ label, size, usage: STORAGE_USAGE });
      this.#stats.created++;
    }
    this.#inUse.add(buffer);
    this.#stats.bytesInUse += size;
    if (this.#poison) {
      this.#device.queue.writeBuffer(buffer, 0, new Float32Array(size / 4).fill(NaN));
    }
    return buffer;
  }

  /**
   * Give a buffer back for reuse.
   *
   * @param buffer A buffer obtained from {@linkcode BufferPool.acquire}.
   * @throws {TypeError} When the buffer is not currently handed out by this pool.
   */
  release(buffer: GPUBuffer): void {
    if (!this.#inUse.delete(buffer)) {
      throw new TypeError(`Cannot release buffer "${buffer.label}": it is not in use in this pool`);
    }
    const size = buffer.size;
    this.#stats.bytesInUse -= size;
    this.#stats.bytesFree += size;
    const list = this.#free.get(size);
    if (list) list.push(buffer);
    else this.#free.set(size, [buffer]);
  }

  /** Destroy the free buffers (those in use stay valid). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#stats.bytesFree = 0;
  }

  /** Destroy every buffer of the pool, in use or free. */
  destroy(): void {
    this.trim();
    for (const b of this.#inUse) b.destroy();
    this.#inUse.clear();
    this.#stats.bytesInUse = 0;
  }

  /** Current memory accounting (a copy). */
  get stats(): BufferPoolStats {
    return { ...this.#stats };
  }
}
