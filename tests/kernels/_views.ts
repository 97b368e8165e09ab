/**
 * Test helpers for kernels that take NCDHW views: embed a dense tensor as a channel slice of
 * a larger buffer, poison output slices with NaN while filling the other channels with
 * sentinels, and check that a kernel wrote its whole slice and nothing else.
 */

import { assertClose, type CloseOptions } from "../_helpers/assert_close.ts";
import { poisoned } from "../_helpers/gpu.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import { StepPlan, type StepPlanOptions } from "../../lib/gpu/step_plan.ts";
import type { Shape5, TensorView } from "../../lib/gpu/tensor.ts";

/** Where a view sits in its buffer: total channels per sample and first channel. */
export interface Placement {
  /** Channels of the buffer per sample. */
  cTot: number;
  /** First channel of the view. */
  cOff: number;
}

/** A view plus the host copy of its whole buffer. */
export interface HostView {
  /** The GPU view. */
  view: TensorView;
  /** Host copy of the whole buffer as uploaded. */
  full: Float32Array;
  /** Placement in the buffer. */
  place: Placement;
}

const SENTINEL = 12345.5;

/**
 * Copy a dense `[N, C, D, H, W]` tensor into channels `[cOff, cOff + C)` of a buffer with
 * `cTot` channels per sample; other channels get `fill`.
 */
export function embed(
  dense: ArrayLike<number>,
  shape: Shape5,
  place: Placement,
  fill = SENTINEL,
): Float32Array {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const out = new Float32Array(n * place.cTot * s).fill(fill);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const src = (i * c + j) * s;
      const dst = (i * place.cTot + place.cOff + j) * s;
      for (let k = 0; k < s; k++) out[dst + k] = dense[src + k];
    }
  }
  return out;
}

/** Dense copy of channels `[cOff, cOff + C)` of a whole-buffer array. */
export function extract(full: ArrayLike<number>, shape: Shape5, place: Placement): Float32Array {
  const [n, c, d, h, w] = shape;
  const s = d * h * w;
  const out = new Float32Array(n * c * s);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const src = (i * place.cTot + place.cOff + j) * s;
      const dst = (i * c + j) * s;
      for (let k = 0; k < s; k++) out[dst + k] = full[src + k];
    }
  }
  return out;
}

/** Upload a dense tensor as a channel slice (other channels hold sentinels). */
export function inputView(
  rt: GpuRuntime,
  dense: ArrayLike<number>,
  shape: Shape5,
  place: Placement = { cTot: shape[1], cOff: 0 },
): HostView {
  const full = embed(dense, shape, place);
  const buffer = rt.createBuffer(full);
  return {
    view: { buffer, shape, channelStride: place.cTot, channelOffset: place.cOff },
    full,
    place,
  };
}

/** An output slice poisoned with NaN (other channels hold sentinels). */
export function outputView(
  rt: GpuRuntime,
  shape: Shape5,
  place: Placement = { cTot: shape[1], cOff: 0 },
): HostView {
  return inputView(rt, poisoned(shape.reduce((a, b) => a * b, 1)), shape, place);
}

/**
 * Read a view back, check that every channel outside it kept its uploaded value, and return
 * the dense slice.
 */
export async function readView(rt: GpuRuntime, hv: HostView): Promise<Float32Array> {
  const full = await rt.read(hv.view.buffer, hv.full.byteLength);
  const [n, c, d, h, w] = hv.view.shape;
  const s = d * h * w;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < hv.place.cTot; j++) {
      if (j >= hv.place.cOff && j < hv.place.cOff + c) continue;
      const base = (i * hv.place.cTot + j) * s;
      for (let k = 0; k < s; k++) {
        if (!Object.is(full[base + k], hv.full[base + k])) {
          throw new Error(
            `Channel ${j} of sample ${i} outside the view changed at ${k}: ` +
              `${hv.full[base + k]} → ${full[base + k]}`,
          );
        }
      }
    }
  }
  const dense = extract(full, hv.view.shape, hv.place);
  recordOutput(dense);
  return dense;
}

/** Read a view and compare it with a float64 reference. */
export async function assertView(
  rt: GpuRuntime,
  hv: HostView,
  expected: ArrayLike<number>,
  options: CloseOptions,
): Promise<void> {
  assertClose(await readView(rt, hv), expected, options);
}

/**
 * A fresh plan with its own pool; `done()` runs nothing and frees everything. `options`
 * (e.g. a small `bindingLimit`) go to the plan: the ops then take their chunked paths. Inside
 * {@linkcode assertChunkedAgrees} the plan gets that test's binding limit by default.
 */
export function newPlan(
  rt: GpuRuntime,
  options: StepPlanOptions = {},
): { plan: StepPlan; done: () => void } {
  const pool = new BufferPool(rt.device);
  const plan = new StepPlan(rt, pool, { bindingLimit: _mode.limit, ...options });
  return {
    plan,
    done: () => {
      _mode.dispatches += plan.dispatches.length;
      plan.dispose();
      pool.destroy();
    },
  };
}

const _mode: { limit?: number; record?: Float32Array[]; dispatches: number } = { dispatches: 0 };

/**
 * Record an output for {@linkcode assertChunkedAgrees} and return it.
 *
 * @param values Values read back from the GPU.
 * @returns `values`.
 */
export function recorded(values: Float32Array): Float32Array {
  recordOutput(values);
  return values;
}

/** Keep a copy of an output for {@linkcode assertChunkedAgrees} (no-op outside it). */
export function recordOutput(values: Float32Array): void {
  _mode.record?.push(values.slice());
}

/**
 * Run a test body twice — with the device's binding limit, then with `bindingLimit` on every
 * plan made by {@linkcode newPlan} (so the ops split their dispatches into chunks) — and check
 * that the chunked run made more dispatches and read back the same outputs (every
 * {@linkcode readView} and `ParamSlots.read`): bit for bit by default, or within `tolerance`
 * where chunking changes a summation order. The body's own reference checks run in both modes.
 *
 * @param bindingLimit The small binding limit in bytes.
 * @param body The test body (creates its own data from a fixed seed).
 * @param tolerance Closeness of the chunked outputs to the unchunked ones. @default exact
 */
export async function assertChunkedAgrees(
  bindingLimit: number,
  body: () => Promise<void>,
  tolerance?: CloseOptions,
): Promise<void> {
  const runs: { outputs: Float32Array[]; dispatches: number }[] = [];
  for (const limit of [undefined, bindingLimit]) {
    Object.assign(_mode, { limit, record: [], dispatches: 0 });
    try {
      await body();
      runs.push({ outputs: _mode.record!, dispatches: _mode.dispatches });
    } finally {
      Object.assign(_mode, { limit: undefined, record: undefined, dispatches: 0 });
    }
  }
  const [a, b] = runs;
  if (!(b.dispatches > a.dispatches)) {
    throw new Error(
      `The binding limit ${bindingLimit} made no chunks: ${b.dispatches} dispatches, ` +
        `${a.dispatches} unchunked`,
    );
  }
  if (a.outputs.length !== b.outputs.length || a.outputs.length === 0) {
    throw new Error(`Read ${a.outputs.length} outputs unchunked, ${b.outputs.length} chunked`);
  }
  a.outputs.forEach((expected, i) => {
    if (tolerance) {
      assertClose(b.outputs[i], expected, { ...tolerance, label: `chunked output ${i}` });
      return;
    }
    for (let k = 0; k < expected.length; k++) {
      if (!Object.is(b.outputs[i][k], expected[k])) {
        throw new Error(
          `Chunked output ${i} differs at ${k}: ${b.outputs[i][k]} vs ${expected[k]} unchunked`,
        );
      }
    }
  });
}

/** Placements exercised by the view tests: whole buffer and an offset slice. */
export function placements(c: number): Placement[] {
  return [{ cTot: c, cOff: 0 }, { cTot: c + 3, cOff: 2 }];
}

/** Destroy the buffers of host views. */
export function destroyViews(...views: HostView[]): void {
  for (const v of views) v.view.buffer.destroy();
}
