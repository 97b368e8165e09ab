/**
 * `results.json`, the input of every report: run metadata plus one row per case × class × job
 * (schema `dicelab.results/1`, documented in docs/report-schema.md).
 *
 * @module
 */

import { z } from "zod";
import type { CaseResult } from "../eval/case_result.ts";

/** Schema id of `results.json`. */
export const RESULTS_SCHEMA = "dicelab.results/1";

const finite = z.number().refine(Number.isFinite, { error: "expected a finite number" });
const name = z.string().min(1, { error: "expected a non-empty string" });

const CaseResultSchema = z.strictObject({
  job: z.strictObject({
    experiment: name,
    labeling: name,
    batchSize: z.number().int().positive(),
    fold: z.number().int().min(0),
  }),
  caseId: name,
  subject: name,
  group: name,
  className: name,
  // null when the empty-vs-empty convention left the DSC undefined (JSON has no NaN).
  dsc: finite.min(0).max(1).nullable(),
  predVolumeMl: finite.min(0),
  trueVolumeMl: finite.min(0),
  deltaVolumeMl: finite,
});

const RUN_RESULTS_SCHEMA = z.strictObject({
  schema: z.literal(RESULTS_SCHEMA, { error: `expected "${RESULTS_SCHEMA}"` }),
  pipeline: name.describe("Pipeline name"),
  dataset: name.describe("Dataset kind (its descriptor's kind in lib/data)"),
  createdAt: z.string().optional().describe("ISO time the results were written"),
  seed: z.number().int().optional().describe("Master seed of the run"),
  target: z.strictObject({
    className: name.describe('Class analysed in Table 1, e.g. "tumour" or "MYO"'),
    classIndex: z.number().int().min(1).optional().describe("Its label value"),
    groups: z.tuple([name, name]).describe(
      "The always-labelled group, then the group missing under partial labels",
    ),
  }),
  referenceLabeling: name.default("full").describe("Labeling that others are compared with"),
  labelings: z.array(z.strictObject({
    name,
    kind: z.string().optional(),
    description: z.string().optional(),
  })).min(1).describe("Labelings in display order"),
  experiments: z.array(z.strictObject({
    name,
    label: z.string().optional().describe('Display name, e.g. "I_ε"'),
    description: z.string().optional(),
  })).min(1).describe("Experiments (loss configurations) in display order"),
  spacing: z.tuple([finite, finite, finite]).optional().describe("Voxel spacing [d, h, w] in mm"),
  emptyDice: z.union([z.literal(1), z.literal("nan")]).optional().describe(
    'DSC when prediction and truth are both empty: 1, or "nan" (undefined, left out of means)',
  ),
  statistics: z.strictObject({
    resamples: z.number().int().positive().optional(),
    seed: z.number().int().optional(),
    alpha: z.number().gt(0).lt(1).optional(),
    correction: z.enum(["none", "holm", "bh"]).optional(),
  }).optional().describe("Defaults for the report's statistics"),
  rows: z.array(CaseResultSchema).describe("One row per case × class × job"),
});

/** One result row as stored (DSC is null where the empty-vs-empty convention left it undefined). */
export type StoredCaseResult = Omit<CaseResult, "dsc"> & { dsc: number | null };

/** Target of the analysis. */
export interface ResultsTarget {
  /** Class analysed in Table 1, e.g. `"tumour"` or `"MYO"`. */
  className: string;
  /** Its label value. */
  classIndex?: number;
  /** The always-labelled group, then the group missing under partial labels. */
  groups: [string, string];
}

/** A labeling as declared in `results.json`. */
export interface ResultsLabeling {
  /** Name used in `job.labeling`. */
  name: string;
  /** Kind (`"full"`, `"emptyGroup"`, `"removeClass"`). */
  kind?: string;
  /** Free text. */
  description?: string;
}

/** An experiment as declared in `results.json`. */
export interface ResultsExperiment {
  /** Name used in `job.experiment`. */
  name: string;
  /** Display name, e.g. `"I_ε"`. */
  label?: string;
  /** Free text, e.g. `"Φ = I, heuristic ε"`. */
  description?: string;
}

/** Defaults for the report's statistics. */
export interface ResultsStatistics {
  /** Resamples per test. */
  resamples?: number;
  /** Seed. */
  seed?: number;
  /** Significance level. */
  alpha?: number;
  /** Multiple-comparison adjustment. */
  correction?: "none" | "holm" | "bh";
}

/** A `results.json` as written (defaults may be omitted). */
export interface RunResultsInput {
  /** Schema id `dicelab.results/1`. */
  schema: typeof RESULTS_SCHEMA;
  /** Pipeline name. */
  pipeline: string;
  /** Dataset kind, e.g. `"brats"` or `"acdc"`. */
  dataset: string;
  /** ISO time the results were written. */
  createdAt?: string;
  /** Master seed of the run. */
  seed?: number;
  /** Target class and groups. */
  target: ResultsTarget;
  /** Labeling that the others are compared with. @default "full" */
  referenceLabeling?: string;
  /** Labelings in display order. */
  labelings: ResultsLabeling[];
  /** Experiments in display order. */
  experiments: ResultsExperiment[];
  /** Voxel spacing `[d, h, w]` in mm. */
  spacing?: [number, number, number];
  /** Defaults for the report's statistics. */
  statistics?: ResultsStatistics;
  /**
   * DSC when prediction and truth are both empty: 1 (absent: 1), or `"nan"` (undefined, stored
   * as null and left out of means, ROC and comparisons).
   */
  emptyDice?: 1 | "nan";
  /** One row per case × class × job. */
  rows: StoredCaseResult[];
}

/** A validated `results.json` with defaults filled in. */
export interface RunResults extends RunResultsInput {
  /** Labeling that the others are compared with. */
  referenceLabeling: string;
}

/**
 * Validate a parsed `results.json` and check that every row's job names a declared
 * experiment and labeling.
 *
 * @param value Parsed JSON.
 * @param source File name used in error messages.
 * @returns The results with defaults filled in.
 * @throws {TypeError} Listing every problem by field path.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRunResults } from "./results.ts";
 * const results = parseRunResults({
 *   schema: "dicelab.results/1",
 *   pipeline: "demo",
 *   dataset: "brats",
 *   target: { className: "tumour", groups: ["HGG", "LGG"] },
 *   labelings: [{ name: "full" }],
 *   experiments: [{ name: "I" }],
 *   rows: [],
 * });
 * assert(results.referenceLabeling === "full");
 * ```
 */
export function parseRunResults(value: unknown, source = "results.json"): RunResults {
  const parsed = RUN_RESULTS_SCHEMA.safeParse(value);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join(".") || "(root)"}: ${issue.message}`);
    }
  } else {
    const r = parsed.data;
    const labelings = new Set(r.labelings.map((l) => l.name));
    const experiments = new Set(r.experiments.map((e) => e.name));
    if (!labelings.has(r.referenceLabeling)) {
      problems.push(`referenceLabeling: "${r.referenceLabeling}" is not a declared labeling`);
    }
    r.rows.forEach((row, i) => {
      if (!labelings.has(row.job.labeling)) {
        problems.push(`rows.${i}.job.labeling: "${row.job.labeling}" is not declared`);
      }
      if (!experiments.has(row.job.experiment)) {
        problems.push(`rows.${i}.job.experiment: "${row.job.experiment}" is not declared`);
      }
    });
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).map((p) => `  ${p}`).join("\n");
    const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : "";
    throw new TypeError(
      `Cannot read results ${source}: ${problems.length} problem(s)\n${shown}${more}`,
    );
  }
  // The schema's output type must stay assignable to the documented interface.
  const results: RunResults = parsed.data!;
  return results;
}

/**
 * Read and validate `<runDir>/results.json`.
 *
 * @param runDir The run folder.
 * @returns The results.
 * @throws {Deno.errors.NotFound} When the file is missing.
 * @throws {SyntaxError} When it is not JSON.
 * @throws {TypeError} When it does not match the schema.
 */
export async function readRunResults(runDir: string): Promise<RunResults> {
  const path = `${runDir}/results.json`;
  const text = await Deno.readTextFile(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`Cannot read results ${path}: ${(err as Error).message}`);
  }
  return parseRunResults(value, path);
}
