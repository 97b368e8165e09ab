/**
 * Float64 reference 3-D convolution (stride 1, padding "same", odd kernels), NCDHW, weights in
 * PyTorch layout `[Cout, Cin, kD, kH, kW]`:
 *
 * `y[n, co, d, h, w] = b[co] + Σ_{ci, i, j, k} w[co, ci, i, j, k] · x[n, ci, d + i − pD, h + j − pH, w + k − pW]`
 * with `p = (k − 1)/2` and `x = 0` outside the volume (PyTorch's `conv3d(padding=p)`, a
 * cross-correlation). The input gradient is the adjoint of `x ↦ y − b`, the weight and bias
 * gradients those of the bilinear form `⟨y, dy⟩`.
 *
 * @module
 */

/** Shape of a reference convolution. */
export interface RefConv3dShape {
  /** Batch. */
  n: number;
  /** Input channels. */
  cin: number;
  /** Output channels. */
  cout: number;
  /** Depth. */
  d: number;
  /** Height. */
  h: number;
  /** Width. */
  w: number;
  /** Kernel extent `[kD, kH, kW]`, each odd. */
  kernel: readonly [number, number, number];
}

/** Weight and bias gradients. */
export interface RefConv3dGrads {
  /** `[Cout, Cin, kD, kH, kW]`. */
  dWeight: Float64Array;
  /** `[Cout]`. */
  dBias: Float64Array;
}

/**
 * Forward convolution in float64.
 *
 * @param x Input `[N, Cin, D, H, W]`.
 * @param weight `[Cout, Cin, kD, kH, kW]`.
 * @param bias `[Cout]`, or undefined for none.
 * @param s The shape.
 * @returns `y` `[N, Cout, D, H, W]`.
 * @throws {RangeError} When a kernel extent is even or an array is too short.
 */
export function conv3dForward(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  s: RefConv3dShape,
): Float64Array {
  _check(s, { x, weight });
  const S = s.d * s.h * s.w;
  const y = new Float64Array(s.n * s.cout * S);
  for (let n = 0; n < s.n; n++) {
    for (let co = 0; co < s.cout; co++) {
      const out = (n * s.cout + co) * S;
      const b = bias ? bias[co] : 0;
      for (let i = 0; i < S; i++) y[out + i] = b;
      for (let ci = 0; ci < s.cin; ci++) {
        _forEachTap(s, (t, od, oh, ow) => {
          const wv = weight[(co * s.cin + ci) * _taps(s) + t];
          _shiftedAxpy(s, y, out, x, (n * s.cin + ci) * S, wv, od, oh, ow);
        });
      }
    }
  }
  return y;
}

/**
 * Input gradient of {@linkcode conv3dForward} in float64 (its adjoint):
 * `dx[n, ci, p] = Σ_{co, taps} w[co, ci, t] · dy[n, co, p − offset(t)]`.
 *
 * @param dy Output gradient `[N, Cout, D, H, W]`.
 * @param weight `[Cout, Cin, kD, kH, kW]`.
 * @param s The shape.
 * @returns `dx` `[N, Cin, D, H, W]`.
 * @throws {RangeError} When a kernel extent is even or an array is too short.
 */
export function conv3dBackwardInput(
  dy: ArrayLike<number>,
  weight: ArrayLike<number>,
  s: RefConv3dShape,
): Float64Array {
  _check(s, { dy, weight });
  const S = s.d * s.h * s.w;
  const dx = new Float64Array(s.n * s.cin * S);
  for (let n = 0; n < s.n; n++) {
    for (let ci = 0; ci < s.cin; ci++) {
      const out = (n * s.cin + ci) * S;
      for (let co = 0; co < s.cout; co++) {
        _forEachTap(s, (t, od, oh, ow) => {
          const wv = weight[(co * s.cin + ci) * _taps(s) + t];
          // y[p] += w·x[p + o]  ⇒  dx[q] += w·dy[q − o].
          _shiftedAxpy(s, dx, out, dy, (n * s.cout + co) * S, wv, -od, -oh, -ow);
        });
      }
    }
  }
  return dx;
}

/**
 * Weight and bias gradients of {@linkcode conv3dForward} in float64:
 * `dW[co, ci, t] = Σ_{n, p} dy[n, co, p] · x[n, ci, p + offset(t)]`, `dB[co] = Σ_{n, p} dy[n, co, p]`.
 *
 * @param x Forward input `[N, Cin, D, H, W]`.
 * @param dy Output gradient `[N, Cout, D, H, W]`.
 * @param s The shape.
 * @returns The gradients.
 * @throws {RangeError} When a kernel extent is even or an array is too short.
 */
export function conv3dBackwardWeight(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  s: RefConv3dShape,
): RefConv3dGrads {
  _check(s, { x, dy });
  const S = s.d * s.h * s.w;
  const T = _taps(s);
  const dWeight = new Float64Array(s.cout * s.cin * T);
  const dBias = new Float64Array(s.cout);
  for (let n = 0; n < s.n; n++) {
    for (let co = 0; co < s.cout; co++) {
      const g = (n * s.cout + co) * S;
      for (let i = 0; i < S; i++) dBias[co] += dy[g + i];
      for (let ci = 0; ci < s.cin; ci++) {
        const xb = (n * s.cin + ci) * S;
        _forEachTap(s, (t, od, oh, ow) => {
          dWeight[(co * s.cin + ci) * T + t] += _shiftedDot(s, dy, g, x, xb, od, oh, ow);
        });
      }
    }
  }
  return { dWeight, dBias };
}

function _taps(s: RefConv3dShape): number {
  return s.kernel[0] * s.kernel[1] * s.kernel[2];
}

/** Calls `fn(tap, offsetD, offsetH, offsetW)` for every tap, offsets relative to the centre. */
function _forEachTap(
  s: RefConv3dShape,
  fn: (t: number, od: number, oh: number, ow: number) => void,
): void {
  const [kd, kh, kw] = s.kernel;
  let t = 0;
  for (let i = 0; i < kd; i++) {
    for (let j = 0; j < kh; j++) {
      for (let k = 0; k < kw; k++) fn(t++, i - (kd - 1) / 2, j - (kh - 1) / 2, k - (kw - 1) / 2);
    }
  }
}

/** `out[o + p] += a · src[s0 + p + (od, oh, ow)]` for every p whose shifted point is inside. */
function _shiftedAxpy(
  s: RefConv3dShape,
  out: Float64Array,
  o: number,
  src: ArrayLike<number>,
  s0: number,
  a: number,
  od: number,
  oh: number,
  ow: number,
): void {
  const { d: D, h: H, w: W } = s;
  for (let d = Math.max(0, -od); d < Math.min(D, D - od); d++) {
    for (let h = Math.max(0, -oh); h < Math.min(H, H - oh); h++) {
      const ro = o + (d * H + h) * W;
      const rs = s0 + ((d + od) * H + h + oh) * W + ow;
      for (let w = Math.max(0, -ow); w < Math.min(W, W - ow); w++) out[ro + w] += a * src[rs + w];
    }
  }
}

/** `Σ_p g[g0 + p] · src[s0 + p + (od, oh, ow)]` over points whose shifted point is inside. */
function _shiftedDot(
  s: RefConv3dShape,
  g: ArrayLike<number>,
  g0: number,
  src: ArrayLike<number>,
  s0: number,
  od: number,
  oh: number,
  ow: number,
): number {
  const { d: D, h: H, w: W } = s;
  let sum = 0;
  for (let d = Math.max(0, -od); d < Math.min(D, D - od); d++) {
    for (let h = Math.max(0, -oh); h < Math.min(H, H - oh); h++) {
      const rg = g0 + (d * H + h) * W;
      const rs = s0 + ((d + od) * H + h + oh) * W + ow;
      for (let w = Math.max(0, -ow); w < Math.min(W, W - ow); w++) sum += g[rg + w] * src[rs + w];
    }
  }
  return sum;
}

function _check(s: RefConv3dShape, arrays: Record<string, ArrayLike<number>>): void {
  if (!s.kernel.every((k) => Number.isInteger(k) && k >= 1 && k % 2 === 1)) {
    throw new RangeError(`Invalid kernel ${JSON.stringify(s.kernel)}: extents must be odd`);
  }
  const S = s.d * s.h * s.w;
  const need: Record<string, number> = {
    x: s.n * s.cin * S,
    dy: s.n * s.cout * S,
    weight: s.cout * s.cin * _taps(s),
  };
  for (const [name, a] of Object.entries(arrays)) {
    if (a.length < need[name]) {
      throw new RangeError(`Invalid ${name}: ${a.length} values, needs ${need[name]}`);
    }
  }
}
