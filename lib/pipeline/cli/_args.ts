/**
 * The CLI's shared flags and their parsing (internal to lib/pipeline/cli): the usage error, the
 * option table, and helpers that turn flag values into numbers, lists and shards.
 *
 * @module
 */

import { parseShard, type Shard } from "../jobs.ts";
import { MAX_SEED } from "../schema.ts";

/** A usage error: the CLI prints it with the usage text and exits 2. */
export class UsageError extends Error {}

/** Every flag of every command (`node:util` parseArgs options). */
export const CLI_OPTIONS = {
  data: { type: "string" },
  out: { type: "string" },
  quick: { type: "boolean" },
  folds: { type: "string" },
  only: { type: "string" },
  resume: { type: "boolean" },
  seed: { type: "string" },
  shard: { type: "string" },
  workers: { type: "string" },
  expect: { type: "string" },
  run: { type: "string" },
  update: { type: "boolean" },
  json: { type: "boolean" },
  pairs: { type: "string" },
  classes: { type: "string" },
  resamples: { type: "string" },
  by: { type: "string" },
  model: { type: "string" },
  input: { type: "string" },
  tta: { type: "string" },
  probabilities: { type: "boolean" },
  step: { type: "string" },
  config: { type: "string" },
  format: { type: "string" },
  "memory-limit": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The parsed flag values. */
export interface CliValues {
  /** `--data DIR`. */
  data?: string;
  /** `--out DIR`. */
  out?: string;
  /** `--quick`. */
  quick?: boolean;
  /** `--folds N`. */
  folds?: string;
  /** `--only A,B`. */
  only?: string;
  /** `--resume`. */
  resume?: boolean;
  /** `--seed N`. */
  seed?: string;
  /** `--shard i/n`. */
  shard?: string;
  /** `--workers N`. */
  workers?: string;
  /** `--expect FILE`. */
  expect?: string;
  /** `--run DIR`. */
  run?: string;
  /** `--update`. */
  update?: boolean;
  /** `--json`. */
  json?: boolean;
  /** `--pairs A:B,...`. */
  pairs?: string;
  /** `--classes C,...`. */
  classes?: string;
  /** `--resamples N`. */
  resamples?: string;
  /** `--by FIELD`. */
  by?: string;
  /** `--model RUN|JOB|FILE` (predict). */
  model?: string;
  /** `--input DIR|FILE` (predict). */
  input?: string;
  /** `--tta mirror|none` (predict). */
  tta?: string;
  /** `--probabilities` (predict). */
  probabilities?: boolean;
  /** `--step F` (predict). */
  step?: string;
  /** `--config LABELING/EXPERIMENT/B` (predict, export). */
  config?: string;
  /** `--format dicelab|onnx` (export). */
  format?: string;
  /** `--memory-limit BYTES` (run, plan). */
  "memory-limit"?: string;
  /** `--help`. */
  help?: boolean;
}

/**
 * An integer flag value.
 *
 * @param v The value, if given.
 * @param flag The flag, for the message.
 * @returns The integer, or undefined when absent.
 * @throws {UsageError} When it is not an integer.
 */
export function intFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) {
    throw new UsageError(`Invalid ${flag}: expected an integer, got "${v}"`);
  }
  return n;
}

/**
 * A positive-integer flag value (`--workers`, `--resamples`).
 *
 * @param v The value, if given.
 * @param flag The flag, for the message.
 * @returns The integer, or undefined when absent.
 * @throws {UsageError} When it is not an integer ≥ 1.
 */
export function positiveIntFlag(v: string | undefined, flag: string): number | undefined {
  const n = intFlag(v, flag);
  if (n !== undefined && n < 1) {
    throw new UsageError(`Invalid ${flag}: expected a positive integer, got "${v}"`);
  }
  return n;
}

/**
 * A `--seed` value: an integer in 0..{@linkcode MAX_SEED}.
 *
 * @param v The value, if given.
 * @returns The seed, or undefined when absent.
 * @throws {UsageError} When it is out of range.
 */
export function seedFlag(v: string | undefined): number | undefined {
  const n = intFlag(v, "--seed");
  if (n !== undefined && !(n >= 0 && n <= MAX_SEED)) {
    throw new UsageError(`Invalid --seed: expected an integer in 0..${MAX_SEED}, got "${v}"`);
  }
  return n;
}

/**
 * A `--shard i/n` value.
 *
 * @param text The value.
 * @returns The shard.
 * @throws {UsageError} When it is not `i/n` with 1 ≤ i ≤ n.
 */
export function shardFlag(text: string): Shard {
  try {
    return parseShard(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * "the first n fold(s)" or "every fold" for a `--folds` selection.
 *
 * @param folds The selection.
 * @returns The phrase.
 */
export function foldsText(folds: number | undefined): string {
  return folds ? `the first ${folds} fold(s)` : "every fold";
}

/**
 * A comma-separated flag value as a list.
 *
 * @param v The value.
 * @returns The items, or undefined when absent or empty.
 */
export function listFlag(v: string | undefined): string[] | undefined {
  const items = v?.split(",").map((s) => s.trim()).filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

/**
 * An experiment selection for messages and comparison.
 *
 * @param list The selection.
 * @returns `"A,B"` (sorted) or `"(all)"`.
 */
export function listText(list: readonly string[] | undefined): string {
  return list ? [...list].sort().join(",") : "(all)";
}

/**
 * Read a JSON file named by a flag.
 *
 * @param path The file.
 * @param flag What it is, for the message.
 * @returns The parsed value.
 * @throws {UsageError} When the file cannot be read.
 * @throws {Error} When it is not JSON.
 */
export async function readJsonFlag(path: string, flag: string): Promise<unknown> {
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`Cannot read ${flag} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * A `--folds` selection of a model's folds: `all` or a comma-separated list of fold numbers.
 *
 * @param v The value, if given.
 * @returns The folds (sorted, unique), or undefined for all.
 * @throws {UsageError} When it is neither.
 */
export function foldListFlag(v: string | undefined): number[] | undefined {
  if (v === undefined || v.trim() === "all") return undefined;
  const items = v.split(",").map((s) => s.trim());
  if (items.length === 0 || items.some((s) => !/^\d+$/.test(s))) {
    throw new UsageError(`Invalid --folds: expected "all" or fold numbers like 0,2, got "${v}"`);
  }
  return [...new Set(items.map(Number))].sort((a, b) => a - b);
}

/**
 * A `--step` value: a fraction of the window in (0, 1].
 *
 * @param v The value, if given.
 * @returns The step, or undefined when absent.
 * @throws {UsageError} When it is not a number in (0, 1].
 */
export function stepFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !(n > 0 && n <= 1)) {
    throw new UsageError(`Invalid --step: expected a fraction of the window in (0, 1], got "${v}"`);
  }
  return n;
}

/**
 * Parse a byte count: a positive number, optionally with a unit (`6e9`, `6GB`, `512MiB`).
 *
 * @param v The flag value, if given.
 * @param flag The flag's name for errors.
 * @returns Bytes, or undefined when not given.
 * @throws {UsageError} When it is not a positive byte count.
 */
export function bytesFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*(k|m|g|t|ki|mi|gi|ti)?b?$/i.exec(v.trim());
  const scale: Record<string, number> = {
    "": 1,
    k: 1e3,
    m: 1e6,
    g: 1e9,
    t: 1e12,
    ki: 2 ** 10,
    mi: 2 ** 20,
    gi: 2 ** 30,
    ti: 2 ** 40,
  };
  const bytes = m ? Number(m[1]) * scale[(m[2] ?? "").toLowerCase()] : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new UsageError(`Invalid ${flag}: "${v}" (expected bytes, e.g. 6e9, 6GB or 512MiB)`);
  }
  return Math.floor(bytes);
}
