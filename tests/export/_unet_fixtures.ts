/**
 * Fixtures of the ONNX export tests: seeded, non-trivial weights of any U-Net configuration
 * (checkpoint-style names, state tensors under `state/`), a phantom patch as input, and the
 * dicelab GPU forward pass of a network in inference mode.
 */

import { normalizeIntensities } from "../../lib/data/intensity.ts";
import { renderAcdcPatient } from "../../lib/data/phantom_acdc.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import type { GpuRuntime } from "../../lib/gpu/runtime.ts";
import type { NamedTensor } from "../../lib/nn/checkpoint.ts";
import { initialValues, ParamStore } from "../../lib/nn/param_store.ts";
import { buildUNetPlan } from "../../lib/nn/unet3d.ts";
import { type Triple, type UNetConfig, unetParams } from "../../lib/nn/unet_config.ts";
import { Rng } from "../_helpers/random.ts";

/**
 * Weights of a configuration: He-normal convolutions, and — unlike a fresh initialisation —
 * non-zero biases, norm scales in [0.5, 1.5], shifts in [−0.3, 0.3], PReLU slopes in
 * [−0.1, 0.4], batch-norm running means in [−0.3, 0.3] and variances in [0.5, 2].
 *
 * @param cfg Configuration.
 * @param seed Seed.
 * @returns Parameters (dicelab names) and state tensors (`state/<name>`), as in weights.ckpt.
 */
export function randomUNetTensors(cfg: UNetConfig, seed: number): NamedTensor[] {
  const { params, state } = unetParams(cfg);
  const values = initialValues(params, seed);
  const rng = new Rng(seed, 77);
  const fill = (n: number, lo: number, hi: number) =>
    Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
  const out: NamedTensor[] = params.map((p, i) => {
    const n = values[i].length;
    let data = values[i];
    if (p.name.endsWith(".bias")) data = fill(n, -0.2, 0.2);
    else if (p.name.endsWith(".scale")) data = fill(n, 0.5, 1.5);
    else if (p.name.endsWith(".shift")) data = fill(n, -0.3, 0.3);
    else if (p.name.endsWith(".prelu")) data = fill(n, -0.1, 0.4);
    return { name: p.name, shape: p.shape, data };
  });
  for (const s of state) {
    const data = s.name.endsWith(".runningMean") ? fill(s.size, -0.3, 0.3) : fill(s.size, 0.5, 2);
    out.push({ name: `state/${s.name}`, shape: [s.size], data });
  }
  return out;
}

let _phantom: { image: Float32Array; size: Triple } | undefined;

/**
 * Patches of the first ACDC-like phantom patient's end-diastolic frame, clipped to its
 * [0.5, 99.5] percentiles and z-scored as dicelab's preprocessing does (no resampling).
 *
 * @param patch Patch size [D, H, W].
 * @param count Number of patches (shifted in-plane by half a patch each).
 * @returns `[count, 1, D, H, W]` values.
 */
export function phantomPatches(patch: Triple, count: number): Float32Array {
  if (!_phantom) {
    const p = renderAcdcPatient(0, { patientsPerGroup: 1 });
    const [nx, ny, nz] = p.shape;
    const image = Float32Array.from(p.ed.image);
    normalizeIntensities(image, { channels: 1 });
    // NIfTI order (i fastest) is dicelab's [D = k, H = j, W = i].
    _phantom = { image, size: [nz, ny, nx] };
  }
  const { image, size } = _phantom;
  const [D, H, W] = patch;
  if (size.some((s, a) => s < patch[a] + (a === 0 ? 0 : (count - 1) * (patch[a] >> 1)))) {
    throw new RangeError(`Phantom of size ${size} is too small for ${count} patches ${patch}`);
  }
  const out = new Float32Array(count * D * H * W);
  for (let c = 0; c < count; c++) {
    const shift = c * (patch[1] >> 1);
    const z0 = (size[0] - D) >> 1;
    const y0 = ((size[1] - H) >> 1) - ((count - 1) * (patch[1] >> 1) >> 1) + shift;
    const x0 = ((size[2] - W) >> 1) - ((count - 1) * (patch[2] >> 1) >> 1) + shift;
    for (let z = 0; z < D; z++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          out[((c * D + z) * H + y) * W + x] =
            image[((z0 + z) * size[1] + y0 + y) * size[2] + x0 + x];
        }
      }
    }
  }
  return out;
}

/**
 * dicelab's GPU forward pass (`buildUNetPlan`, mode `"infer"`: batch norm on running statistics).
 *
 * @param rt Runtime.
 * @param cfg Configuration.
 * @param tensors Weights as from {@linkcode randomUNetTensors}.
 * @param input `[N, Cin, D, H, W]`.
 * @param batch N.
 * @param patch [D, H, W].
 * @returns Probabilities `[N, K, D, H, W]`.
 */
export async function gpuForward(
  rt: GpuRuntime,
  cfg: UNetConfig,
  tensors: readonly NamedTensor[],
  input: Float32Array,
  batch: number,
  patch: Triple,
): Promise<Float32Array> {
  const { params, state } = unetParams(cfg);
  const store = new ParamStore(rt, params, state);
  const pool = new BufferPool(rt.device);
  try {
    store.upload("params", tensors.filter((t) => !t.name.includes("/")));
    store.upload(
      "state",
      tensors.filter((t) => t.name.startsWith("state/")).map((t) => ({
        ...t,
        name: t.name.slice("state/".length),
      })),
    );
    const plan = buildUNetPlan(rt, pool, store, cfg, { batch, patch, mode: "infer" });
    try {
      rt.write(plan.input, input);
      const n = batch * cfg.outChannels * patch[0] * patch[1] * patch[2];
      const [probs] = await plan.plan.run([{ buffer: plan.probs.buffer, size: n * 4 }]);
      await rt.checkCompilation();
      return probs.slice(0, n);
    } finally {
      plan.dispose();
    }
  } finally {
    pool.destroy();
    store.destroy();
  }
}

/**
 * Largest absolute difference of two arrays of the same length.
 *
 * @param a First.
 * @param b Second.
 * @returns `max |a − b|` (Infinity on a length mismatch or a NaN).
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
