/**
 * Seeded, splittable pseudo-random numbers (xoshiro128** seeded through splitmix32).
 *
 * `new Rng(seed, stream)` gives independent, reproducible streams: a bootstrap resample,
 * a patch or a phantom case seeds its own stream from `(seed, index)`, so results do not
 * depend on how work is split across workers.
 *
 * @module
 */

function _splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A seeded xoshiro128** generator. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | undefined;

  /**
   * Create a generator for `(seed, stream)`.
   *
   * @param seed Any integer (taken modulo 2^32).
   * @param stream Stream index; different streams of one seed are independent.
   */
  constructor(seed: number, stream = 0) {
    if (!Number.isFinite(seed) || !Number.isFinite(stream)) {
      throw new RangeError(`Cannot seed Rng: seed ${seed}, stream ${stream}`);
    }
    const st = { s: (Math.trunc(seed) ^ Math.imul(Math.trunc(stream) + 1, 0x632be5ab)) | 0 };
    // Mix the high bits of large seeds/streams in too.
    st.s = (st.s ^ Math.trunc(seed / 4294967296) ^
      Math.imul(Math.trunc(stream / 4294967296), 0x27d4eb2f)) | 0;
    this.#a = _splitmix32(st);
    this.#b = _splitmix32(st);
    this.#c = _splitmix32(st);
    this.#d = _splitmix32(st);
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul((Math.imul(this.#b, 5) << 7) | (Math.imul(this.#b, 5) >>> 25), 9) >>>
      0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = (this.#d << 11) | (this.#d >>> 21);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Uniform double in [lo, hi).
   *
   * @param lo Lower bound.
   * @param hi Upper bound.
   * @returns The sample.
   */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /**
   * Uniform integer in [0, n).
   *
   * @param n Exclusive upper bound (positive integer ≤ 2^32).
   * @returns The sample.
   */
  int(n: number): number {
    if (!(n > 0) || n > 4294967296 || !Number.isInteger(n)) {
      throw new RangeError(`Cannot draw Rng.int(n): n is ${n}`);
    }
    // Rejection sampling for exact uniformity.
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextU32(); while (x >= limit);
    return x % n;
  }

  /** Standard normal sample (Marsaglia polar method). */
  normal(): number {
    if (this.#spare !== undefined) {
      const s = this.#spare;
      this.#spare = undefined;
      return s;
    }
    let u: number, v: number, s: number;
    do {
      u = this.float() * 2 - 1;
      v = this.float() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.#spare = v * m;
    return u * m;
  }

  /**
   * Shuffle an array in place (Fisher–Yates).
   *
   * @param items The array.
   * @returns The same array.
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }
}
