// Shared pieces of the phantom generators: smooth random fields, Gaussian blur, rotations,
// noise and int16 quantisation. Private to lib/data.

import type { Rng } from "../core/rng.ts";

/** A smooth random field on a voxel grid (NIfTI order, i fastest), values in about [−1, 1]. */
export function _smoothField(
  rng: Rng,
  shape: readonly [number, number, number],
  cells: readonly [number, number, number],
): Float32Array {
  const [nx, ny, nz] = shape;
  const [cx, cy, cz] = cells.map((c) => Math.max(1, Math.round(c)));
  const lx = cx + 1, ly = cy + 1, lz = cz + 1;
  const lattice = new Float32Array(lx * ly * lz);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.uniform(-1, 1);
  // Per-axis lattice cell and smoothstep weight of every voxel coordinate.
  const axis = (n: number, c: number) => {
    const i0 = new Int32Array(n);
    const t = new Float32Array(n);
    for (let v = 0; v < n; v++) {
      const u = n > 1 ? (v / (n - 1)) * c : 0;
      const f = Math.min(c - 1, Math.floor(u));
      const s = u - f;
      i0[v] = f;
      t[v] = s * s * (3 - 2 * s);
    }
    return { i0, t };
  };
  const ax = axis(nx, cx), ay = axis(ny, cy), az = axis(nz, cz);
  const out = new Float32Array(nx * ny * nz);
  let o = 0;
  for (let k = 0; k < nz; k++) {
    const z0 = az.i0[k], tz = az.t[k];
    for (let j = 0; j < ny; j++) {
      const y0 = ay.i0[j], ty = ay.t[j];
      const b00 = (z0 * ly + y0) * lx, b01 = (z0 * ly + y0 + 1) * lx;
      const b10 = ((z0 + 1) * ly + y0) * lx, b11 = ((z0 + 1) * ly + y0 + 1) * lx;
      for (let i = 0; i < nx; i++, o++) {
        const x0 = ax.i0[i], tx = ax.t[i];
        const v00 = lattice[b00 + x0] + tx * (lattice[b00 + x0 + 1] - lattice[b00 + x0]);
        const v01 = lattice[b01 + x0] + tx * (lattice[b01 + x0 + 1] - lattice[b01 + x0]);
        const v10 = lattice[b10 + x0] + tx * (lattice[b10 + x0 + 1] - lattice[b10 + x0]);
        const v11 = lattice[b11 + x0] + tx * (lattice[b11 + x0 + 1] - lattice[b11 + x0]);
        const v0 = v00 + ty * (v01 - v00), v1 = v10 + ty * (v11 - v10);
        out[o] = v0 + tz * (v1 - v0);
      }
    }
  }
  return out;
}

/** Separable Gaussian blur (edges clamped) of a volume in NIfTI order, σ in voxels per axis. */
export function _blur(
  volume: Float32Array,
  shape: readonly [number, number, number],
  sigma: readonly [number, number, number],
): Float32Array {
  let cur = volume;
  const strides = [1, shape[0], shape[0] * shape[1]];
  for (let a = 0; a < 3; a++) {
    const s = sigma[a];
    if (!(s > 0)) continue;
    const r = Math.max(1, Math.ceil(2.5 * s));
    const k = new Float32Array(2 * r + 1);
    let sum = 0;
    for (let t = -r; t <= r; t++) sum += k[t + r] = Math.exp(-(t * t) / (2 * s * s));
    for (let t = 0; t < k.length; t++) k[t] /= sum;
    const n = shape[a], stride = strides[a];
    const out = new Float32Array(cur.length);
    const line = new Float64Array(n + 2 * r);
    const block = stride * n;
    for (let b0 = 0; b0 < cur.length; b0 += block) {
      for (let inner = 0; inner < stride; inner++) {
        const base = b0 + inner;
        // Copy the line with clamped borders, then convolve without branches.
        for (let pos = 0; pos < n; pos++) line[pos + r] = cur[base + pos * stride];
        for (let t = 0; t < r; t++) {
          line[t] = line[r];
          line[n + r + t] = line[n + r - 1];
        }
        for (let pos = 0; pos < n; pos++) {
          let acc = 0;
          for (let t = 0; t < k.length; t++) acc += k[t] * line[pos + t];
          out[base + pos * stride] = acc;
        }
      }
    }
    cur = out;
  }
  return cur;
}

/** Rotation matrix R = Rz(c) · Ry(b) · Rx(a) (radians). */
export function _rotation(a: number, b: number, c: number): number[][] {
  const ca = Math.cos(a), sa = Math.sin(a), cb = Math.cos(b), sb = Math.sin(b);
  const cc = Math.cos(c), sc = Math.sin(c);
  const rx = [[1, 0, 0], [0, ca, -sa], [0, sa, ca]];
  const ry = [[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]];
  const rz = [[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]];
  const mul = (p: number[][], q: number[][]) =>
    [0, 1, 2].map((i) =>
      [0, 1, 2].map((j) => p[i][0] * q[0][j] + p[i][1] * q[1][j] + p[i][2] * q[2][j])
    );
  return mul(rz, mul(ry, rx));
}

/** Round to int16 after scaling, clamped to [lo, 32767]. */
export function _toInt16(values: Float32Array, gain: number, lo = 0): Int16Array {
  const out = new Int16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i] * gain);
    out[i] = v < lo ? lo : v > 32767 ? 32767 : v;
  }
  return out;
}

/** A value drawn log-uniformly in [lo, hi]. */
export function _logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
}
