/**
 * K-fold cross-validation splits by subject: every subject (and so every case of it, e.g. the
 * ED and ES frames of an ACDC patient) sits in exactly one fold, as in the paper's five-fold
 * scheme (Tilborghs, Bertels et al. 2022, Sect. 3 "Statistical performance").
 *
 * @module
 */

import { writeJsonAtomic } from "../core/atomic_write.ts";
import { Rng } from "../core/rng.ts";

/**
 * Fold assignment rule: `"random"` (seeded shuffle), or the name of a fixed rule whose
 * assignment function is passed as {@linkcode KFoldOptions.assign} (a dataset's own rule).
 */
export type FoldRule = string;

/** A serialisable fold split (written as `folds.json` in a run folder). */
export interface FoldSplit {
  /** Format version. */
  version: 1;
  /** How the folds were assigned. */
  rule: FoldRule;
  /** Number of folds K. */
  folds: number;
  /** Seed of the random rule; `null` for deterministic rules. */
  seed: number | null;
  /** Subject → fold index in [0, K), keys sorted. */
  assignments: Record<string, number>;
}

/** Options of {@linkcode kFoldSplit}. */
export interface KFoldOptions {
  /**
   * Number of folds K.
   * @default 5
   */
  folds?: number;
  /**
   * Seed of the random rule.
   * @default 1
   */
  seed?: number;
  /**
   * Assignment rule.
   * @default "random"
   */
  rule?: FoldRule;
  /**
   * The fixed rule's assignment (subject, K) → fold; required for every rule but `"random"`
   * (e.g. `acdcFold` from lib/data for the ACDC rule).
   */
  assign?: (subject: string, folds: number) => number;
  /**
   * Subject → stratum (e.g. `"HGG"` / `"LGG"`) for the random rule: each stratum is spread
   * evenly over the folds, so every fold has about the same share of each group.
   */
  strata?: Record<string, string>;
}

/**
 * Split subjects into K folds. The random rule sorts the unique subject ids, shuffles them with
 * `new Rng(seed, stream)` (one stream per stratum) and deals them round-robin, so fold sizes
 * differ by at most one and the split does not depend on the input order.
 *
 * @param subjects Subject ids (duplicates are merged).
 * @param options Folds, seed, rule and strata.
 * @returns The split.
 * @throws {RangeError} When the random rule has fewer subjects than folds, K is not a positive
 *   integer, a fixed rule has no `assign`, or `assign` rejects a subject.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kFoldSplit } from "./folds.ts";
 * const split = kFoldSplit(["s1", "s2", "s3", "s4", "s5", "s6"], { folds: 3, seed: 7 });
 * assert(Object.values(split.assignments).filter((f) => f === 0).length === 2);
 * ```
 */
export function kFoldSplit(subjects: Iterable<string>, options: KFoldOptions = {}): FoldSplit {
  const folds = options.folds ?? 5;
  const rule = options.rule ?? "random";
  const seed = options.seed ?? 1;
  _checkFolds(folds);
  const unique = [...new Set(subjects)].sort();
  const assignments: Record<string, number> = {};
  if (rule !== "random") {
    if (!options.assign) {
      throw new RangeError(`Cannot split into folds: rule "${rule}" needs its assign function`);
    }
    for (const s of unique) {
      const f = options.assign(s, folds);
      if (!Number.isInteger(f) || f < 0 || f >= folds) {
        throw new RangeError(`Cannot split into folds: rule "${rule}" put ${s} in fold ${f}`);
      }
      assignments[s] = f;
    }
    return { version: 1, rule, folds, seed: null, assignments };
  }
  if (unique.length < folds) {
    throw new RangeError(`Cannot split into ${folds} folds: only ${unique.length} subject(s)`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`Cannot split into folds: seed is ${seed}`);
  const strata = new Map<string, string[]>();
  for (const s of unique) {
    const key = options.strata?.[s] ?? "";
    if (!strata.has(key)) strata.set(key, []);
    strata.get(key)!.push(s);
  }
  // Continue the round-robin across strata so overall fold sizes stay balanced too.
  let next = 0;
  [...strata.keys()].sort().forEach((key, stream) => {
    const members = new Rng(seed, stream).shuffle(strata.get(key)!);
    for (const s of members) assignments[s] = next++ % folds;
  });
  const sorted: Record<string, number> = {};
  for (const s of unique) sorted[s] = assignments[s];
  return { version: 1, rule, folds, seed, assignments: sorted };
}

/**
 * Training and test subjects of one fold.
 *
 * @param split The split.
 * @param fold Fold index in [0, K).
 * @returns Sorted subject lists: `test` are the subjects of `fold`, `train` all others.
 * @throws {RangeError} When `fold` is out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { foldSubjects, kFoldSplit } from "./folds.ts";
 * const split = kFoldSplit(["s1", "s2", "s3", "s4"], { folds: 2, seed: 3 });
 * assert.equal(foldSubjects(split, 0).test.length, 2);
 * ```
 */
export function foldSubjects(split: FoldSplit, fold: number): { train: string[]; test: string[] } {
  if (!Number.isInteger(fold) || fold < 0 || fold >= split.folds) {
    throw new RangeError(`Cannot select fold ${fold}: the split has ${split.folds} folds`);
  }
  const train: string[] = [];
  const test: string[] = [];
  for (const [s, f] of Object.entries(split.assignments)) (f === fold ? test : train).push(s);
  return { train: train.sort(), test: test.sort() };
}

/**
 * Write a split as JSON (e.g. `<run>/folds.json`), atomically.
 *
 * @param path Target file; its directory must exist.
 * @param split The split.
 * @returns Resolves when the file is in place.
 * @throws {Deno.errors.NotFound} When the directory does not exist.
 */
export async function writeFoldSplit(path: string, split: FoldSplit): Promise<void> {
  await writeJsonAtomic(path, split);
}

/**
 * Validate a parsed `folds.json`.
 *
 * @param value Parsed JSON.
 * @param source File name used in error messages.
 * @returns The split.
 * @throws {TypeError} When a field has the wrong type or a fold index is out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kFoldSplit, parseFoldSplit } from "./folds.ts";
 * const split = kFoldSplit(["a", "b", "c"], { folds: 3 });
 * assert.deepEqual(parseFoldSplit(JSON.parse(JSON.stringify(split))), split);
 * ```
 */
export function parseFoldSplit(value: unknown, source = "folds.json"): FoldSplit {
  const v = value as Partial<FoldSplit> | null;
  const fail = (field: string, state: string) =>
    new TypeError(`Cannot read fold split ${source}: ${field} ${state}`);
  if (!v || typeof v !== "object") throw fail("value", "is not an object");
  if (v.version !== 1) throw fail("version", `is ${JSON.stringify(v.version)}, expected 1`);
  if (typeof v.rule !== "string" || v.rule === "") {
    throw fail("rule", `is ${JSON.stringify(v.rule)}`);
  }
  if (!Number.isInteger(v.folds) || v.folds! < 1) throw fail("folds", `is ${v.folds}`);
  if (v.seed !== null && !Number.isInteger(v.seed)) throw fail("seed", `is ${v.seed}`);
  if (!v.assignments || typeof v.assignments !== "object") {
    throw fail("assignments", "is not an object");
  }
  for (const [s, f] of Object.entries(v.assignments)) {
    if (!Number.isInteger(f) || f < 0 || f >= v.folds!) {
      throw fail(`assignments.${s}`, `is ${f}, expected a fold in [0, ${v.folds})`);
    }
  }
  return v as FoldSplit;
}

function _checkFolds(folds: number): void {
  if (!Number.isInteger(folds) || folds < 1) {
    throw new RangeError(`Cannot split into folds: folds is ${folds}`);
  }
}
