/**
 * Which training case each sample of a run uses. Samples are numbered globally
 * (`g = step·B + j`); epoch `e = ⌊g / N⌋` draws its N samples from its own seeded stream, so
 * a run resumed at any step sees exactly the samples an uninterrupted run would, whatever the
 * batch size or worker count. An epoch is one sample per training case, as in the paper.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";

/** Options of {@linkcode SampleSchedule}. */
export interface SampleScheduleOptions {
  /** Seed of the run. */
  seed: number;
  /** Group of each training case (e.g. "ED"/"ES"); needed for `groupRatio`. */
  groups?: readonly string[];
  /**
   * Relative sampling weight per group (ACDC ED:ES 3:1 → `{ ED: 3, ES: 1 }`). Without it an
   * epoch is a permutation of the training cases.
   */
  groupRatio?: Readonly<Record<string, number>>;
}

/** Maps global sample indices to case indices. */
export class SampleSchedule {
  /** Number of training cases N (= samples per epoch). */
  readonly cases: number;
  #o: SampleScheduleOptions;
  #cache = new Map<number, Int32Array>();

  /**
   * Create the schedule.
   *
   * @param cases Number of training cases.
   * @param options Seed and group weights.
   * @throws {RangeError} When there are no cases or the weights are unusable.
   */
  constructor(cases: number, options: SampleScheduleOptions) {
    if (!Number.isInteger(cases) || cases < 1) {
      throw new RangeError(`Cannot schedule samples: ${cases} training cases`);
    }
    if (options.groupRatio) {
      if (!options.groups || options.groups.length !== cases) {
        throw new RangeError("Cannot schedule samples: groupRatio needs one group per case");
      }
      const present = new Set(options.groups);
      const total = [...present].reduce((s, g) => s + (options.groupRatio![g] ?? 0), 0);
      if (!(total > 0)) {
        throw new RangeError("Cannot schedule samples: every present group has weight 0");
      }
    }
    this.cases = cases;
    this.#o = options;
  }

  /**
   * The case indices of one epoch.
   *
   * @param epoch Epoch number (0-based).
   * @returns N case indices.
   */
  epoch(epoch: number): Int32Array {
    const hit = this.#cache.get(epoch);
    if (hit) return hit;
    const rng = new Rng(this.#o.seed, 0x5eed0000 + epoch);
    const n = this.cases;
    let out: Int32Array;
    if (!this.#o.groupRatio) {
      const perm = rng.shuffle(Array.from({ length: n }, (_, i) => i));
      out = Int32Array.from(perm);
    } else {
      // Each sample picks a group by weight, then a case of that group uniformly.
      const groups = this.#o.groups!;
      const byGroup = new Map<string, number[]>();
      groups.forEach((g, i) => byGroup.set(g, [...(byGroup.get(g) ?? []), i]));
      const names = [...byGroup.keys()].filter((g) => (this.#o.groupRatio![g] ?? 0) > 0);
      const weights = names.map((g) => this.#o.groupRatio![g]);
      const total = weights.reduce((a, b) => a + b, 0);
      out = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        let u = rng.float() * total;
        let gi = 0;
        while (gi < names.length - 1 && u >= weights[gi]) u -= weights[gi++];
        const members = byGroup.get(names[gi])!;
        out[k] = members[rng.int(members.length)];
      }
    }
    if (this.#cache.size > 4) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(epoch, out);
    return out;
  }

  /**
   * Case index of global sample `g`.
   *
   * @param g Global sample index.
   * @returns The case index.
   */
  caseOf(g: number): number {
    return this.epoch(Math.floor(g / this.cases))[g % this.cases];
  }

  /**
   * Epoch that global sample `g` belongs to.
   *
   * @param g Global sample index.
   * @returns The epoch.
   */
  epochOf(g: number): number {
    return Math.floor(g / this.cases);
  }
}
