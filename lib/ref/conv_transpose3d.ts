/**
 * Float64 reference 2×2×2 transposed convolution with stride 2 (PyTorch's
 * `ConvTranspose3d(kernel_size=2, stride=2)`), NCDHW, weights `[Cin, Cout, 2, 2, 2]`:
 *
 * `y[n, co, 2d + a, 2h + b, 2w + c] = bias[co] + Σ_ci x[n, ci, d, h, w] · W[ci, co, a, b, c]`.
 *
 * Each output voxel has exactly one source voxel; the input gradient is the adjoint
 * (`dx[n, ci, d, h, w] = Σ_{co, a, b, c} dy[n, co, 2d + a, 2h + b, 2w + c] · W[ci, co, a, b, c]`).
 *
 * @module
 */

/** Shape of a reference transposed convolution (input volume `d × h × w`). */
export interface RefConvTranspose3dShape {
  /** Batch. */
  n: number;
  /** Input channels. */
  cin: number;
  /** Output channels. */
  cout: number;
  /** Input depth. */
  d: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
}

/** Weight and bias gradients. */
export interface RefConvTranspose3dGrads {
  /** `[Cin, Cout, 2, 2, 2]`. */
  dWeight: Float64Array;
  /** `[Cout]`. */
  dBias: Float64Array;
}

/**
 * Forward transposed convolution in float64.
 *
 * @param x Input `[N, Cin, D, H, W]`.
 * @param weight `[Cin, Cout, 2, 2, 2]`.
 * @param bias `[Cout]`, or undefined for none.
 * @param s The shape.
 * @returns `y` `[N, Cout, 2D, 2H, 2W]`.
 */
export function convTranspose3dForward(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  s: RefConvTranspose3dShape,
): Float64Array {
  const y = new Float64Array(s.n * s.cout * 8 * s.d * s.h * s.w);
  _forEachPair(s, (xi, yi, ci, co, t) => {
    y[yi] += x[xi] * weight[(ci * s.cout + co) * 8 + t];
  });
  if (bias) {
    const S2 = 8 * s.d * s.h * s.w;
    for (let n = 0; n < s.n; n++) {
      for (let co = 0; co < s.cout; co++) {
        for (let i = 0; i < S2; i++) y[(n * s.cout + co) * S2 + i] += bias[co];
      }
    }
  }
  return y;
}

/**
 * Input gradient of {@linkcode convTranspose3dForward} in float64.
 *
 * @param dy Output gradient `[N, Cout, 2D, 2H, 2W]`.
 * @param weight `[Cin, Cout, 2, 2, 2]`.
 * @param s The shape.
 * @returns `dx` `[N, Cin, D, H, W]`.
 */
export function convTranspose3dBackwardInput(
  dy: ArrayLike<number>,
  weight: ArrayLike<number>,
  s: RefConvTranspose3dShape,
): Float64Array {
  const dx = new Float64Array(s.n * s.cin * s.d * s.h * s.w);
  _forEachPair(s, (xi, yi, ci, co, t) => {
    dx[xi] += dy[yi] * weight[(ci * s.cout + co) * 8 + t];
  });
  return dx;
}

/**
 * Weight and bias gradients of {@linkcode convTranspose3dForward} in float64.
 *
 * @param x Forward input `[N, Cin, D, H, W]`.
 * @param dy Output gradient `[N, Cout, 2D, 2H, 2W]`.
 * @param s The shape.
 * @returns The gradients.
 */
export function convTranspose3dBackwardWeight(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  s: RefConvTranspose3dShape,
): RefConvTranspose3dGrads {
  const dWeight = new Float64Array(s.cin * s.cout * 8);
  const dBias = new Float64Array(s.cout);
  _forEachPair(s, (xi, yi, ci, co, t) => {
    dWeight[(ci * s.cout + co) * 8 + t] += x[xi] * dy[yi];
  });
  const S2 = 8 * s.d * s.h * s.w;
  for (let n = 0; n < s.n; n++) {
    for (let co = 0; co < s.cout; co++) {
      for (let i = 0; i < S2; i++) dBias[co] += dy[(n * s.cout + co) * S2 + i];
    }
  }
  return { dWeight, dBias };
}

/** Calls `fn(xIndex, yIndex, ci, co, tap)` for every input voxel, channel pair and tap. */
function _forEachPair(
  s: RefConvTranspose3dShape,
  fn: (xi: number, yi: number, ci: number, co: number, t: number) => void,
): void {
  const { d: D, h: H, w: W } = s;
  for (let n = 0; n < s.n; n++) {
    for (let ci = 0; ci < s.cin; ci++) {
      for (let co = 0; co < s.cout; co++) {
        for (let d = 0; d < D; d++) {
          for (let h = 0; h < H; h++) {
            for (let w = 0; w < W; w++) {
              const xi = (((n * s.cin + ci) * D + d) * H + h) * W + w;
              for (let t = 0; t < 8; t++) {
                const a = t >> 2, b = (t >> 1) & 1, c = t & 1;
                const yi = (((n * s.cout + co) * 2 * D + 2 * d + a) * 2 * H + 2 * h + b) * 2 * W +
                  2 * w + c;
                fn(xi, yi, ci, co, t);
              }
            }
          }
        }
      }
    }
  }
}
