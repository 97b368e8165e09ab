/**
 * Reproduction checks: compare a run's Table 1 cells and ROC AUCs (and the paper's
 * qualitative claims) with a stored reference within stated tolerances, print a diff table,
 * and fail on a regression — the command a scheduled CI job calls.
 *
 * Reference file (`dicelab.reference/1`):
 * ```json
 * { "schema": "dicelab.reference/1", "pipeline": "acdc", "quick": true, "folds": 2,
 *   "tolerances": { "dsc": 0.08, "deltaVolumeMl": 3, "auc": 0.15 },
 *   "cells": [{ "labeling": "partial", "experiment": "I", "batchSize": 2, "group": "ES",
 *               "metric": "dsc", "value": 0.84 }],
 *   "claims": [{ "id": "I keeps MYO_ES", "kind": "ratio", "a": {…cell…}, "b": {…cell…},
 *                "min": 0.8 }] }
 * ```
 * A cell's metric is `dsc` or `deltaVolumeMl` (mean over the group's test cases of the target
 * class, pooled over folds) or `auc` (volume ROC of the labeling and configuration).
 * `folds` (optional) says the reference was made from the first n folds only (`--folds n`),
 * `only` (optional) from these experiments only (`--only A,B`); `reproduce` then runs the same.
 *
 * @module
 */

import { z } from "zod";
import type { Pipeline } from "./pipeline_types.ts";
import { writeJsonAtomic } from "../core/atomic_write.ts";
import { rocCurve } from "../eval/roc.ts";

const CellRef = z.strictObject({
  labeling: z.string(),
  experiment: z.string(),
  batchSize: z.number().int().positive(),
  group: z.string().optional(),
  metric: z.enum(["dsc", "deltaVolumeMl", "auc"]),
});

const ReferenceSchema: z.ZodType<Reference, unknown> = z.strictObject({
  schema: z.literal("dicelab.reference/1"),
  pipeline: z.string(),
  quick: z.boolean().default(false),
  folds: z.number().int().positive().optional(),
  only: z.array(z.string().min(1)).min(1).optional(),
  note: z.string().optional(),
  tolerances: z.strictObject({
    dsc: z.number().nonnegative(),
    deltaVolumeMl: z.number().nonnegative(),
    auc: z.number().nonnegative(),
  }),
  cells: z.array(CellRef.extend({ value: z.number().nullable() })),
  claims: z.array(z.strictObject({
    id: z.string(),
    description: z.string().optional(),
    kind: z.enum(["ratio", "below", "above"]),
    a: CellRef,
    b: CellRef.optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })).default([]),
});

/** A cell address: a Table 1 cell (DSC or ΔV of a group) or a volume-ROC AUC. */
export interface CellAddress {
  /** Labeling. */
  labeling: string;
  /** Experiment. */
  experiment: string;
  /** Batch size. */
  batchSize: number;
  /** Group (DSC and ΔV cells). */
  group?: string;
  /** Metric. */
  metric: "dsc" | "deltaVolumeMl" | "auc";
}

/** A claim of the paper as a bound on a cell or a ratio of two cells. */
export interface ReferenceClaim {
  /** Short statement. */
  id: string;
  /** Longer explanation. */
  description?: string;
  /** `ratio`: a/b; `below`/`above`: a. */
  kind: "ratio" | "below" | "above";
  /** First cell. */
  a: CellAddress;
  /** Second cell (ratio). */
  b?: CellAddress;
  /** Lower bound. */
  min?: number;
  /** Upper bound. */
  max?: number;
}

/** A reference file (`dicelab.reference/1`). */
export interface Reference {
  /** Format id. */
  schema: "dicelab.reference/1";
  /** Pipeline name. */
  pipeline: string;
  /** Whether the run used `--quick`. */
  quick: boolean;
  /** The run used only the first n folds (`--folds n`); absent: every fold. */
  folds?: number;
  /** The run used only these experiments (`--only`); absent: every experiment. */
  only?: string[];
  /** Provenance note. */
  note?: string;
  /** Allowed absolute deviations per metric. */
  tolerances: { dsc: number; deltaVolumeMl: number; auc: number };
  /** Expected cell values (null: no cases). */
  cells: (CellAddress & { value: number | null })[];
  /** The paper's claims. */
  claims: ReferenceClaim[];
}

/** The part of a run's results.json that reproduction checks read. */
export interface ResultsLike {
  /** Pipeline name. */
  pipeline: string;
  /** Table 1's class and groups. */
  target: { className: string; groups: [string, string] };
  /** Per-case rows. */
  rows: {
    job: { experiment: string; labeling: string; batchSize: number; fold: number };
    group: string;
    className: string;
    dsc: number | null;
    predVolumeMl: number;
    deltaVolumeMl: number;
  }[];
}

/**
 * The value of a cell in a run's results (NaN when the run has no such cases).
 *
 * @param r Results.
 * @param c Cell address.
 * @returns The value.
 */
export function cellValue(r: ResultsLike, c: CellAddress): number {
  const rows = r.rows.filter((x) =>
    x.className === r.target.className && x.job.labeling === c.labeling &&
    x.job.experiment === c.experiment && x.job.batchSize === c.batchSize
  );
  if (c.metric === "auc") {
    const [pos] = r.target.groups;
    const scored = rows.filter((x) => r.target.groups.includes(x.group));
    if (scored.length === 0) return NaN;
    return rocCurve(scored.map((x) => x.predVolumeMl), scored.map((x) => x.group === pos)).auc;
  }
  const xs = rows.filter((x) => x.group === c.group).map((x) =>
    c.metric === "dsc" ? x.dsc : x.deltaVolumeMl
  ).filter((v): v is number => v !== null);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** One line of the comparison. */
export interface DiffLine {
  /** What was compared. */
  what: string;
  /** Expected (reference or bound). */
  expected: string;
  /** Actual value. */
  actual: string;
  /** Pass or fail. */
  ok: boolean;
}

function _name(c: CellAddress): string {
  return `${c.labeling}/${c.experiment}/B${c.batchSize}${c.group ? `/${c.group}` : ""} ${c.metric}`;
}

/**
 * Parse a reference file.
 *
 * @param value Parsed JSON.
 * @param source File name for errors.
 * @returns The reference.
 * @throws {TypeError} Listing every schema problem by field path.
 */
export function parseReference(value: unknown, source = "reference"): Reference {
  const r = ReferenceSchema.safeParse(value);
  if (!r.success) {
    throw new TypeError(
      `Invalid reference ${source}:\n${
        r.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n")
      }`,
    );
  }
  return r.data;
}

/**
 * Compare results with a reference.
 *
 * @param results The run's results.json content.
 * @param ref The reference.
 * @returns Diff lines (cells, then claims) and whether everything passed.
 */
export function compareWithReference(
  results: ResultsLike,
  ref: Reference,
): { lines: DiffLine[]; ok: boolean } {
  const lines: DiffLine[] = [];
  for (const c of ref.cells) {
    const actual = cellValue(results, c);
    const tol = ref.tolerances[c.metric];
    const ok = c.value === null
      ? Number.isNaN(actual)
      : Number.isFinite(actual) && Math.abs(actual - c.value) <= tol;
    lines.push({
      what: _name(c),
      expected: c.value === null ? "n/a" : `${c.value.toFixed(3)} ± ${tol}`,
      actual: Number.isFinite(actual) ? actual.toFixed(3) : "n/a",
      ok,
    });
  }
  for (const cl of ref.claims) {
    const a = cellValue(results, cl.a);
    const b = cl.b ? cellValue(results, cl.b) : NaN;
    const v = cl.kind === "ratio" ? a / b : a;
    const okMin = cl.min === undefined || v >= cl.min;
    const okMax = cl.max === undefined || v <= cl.max;
    lines.push({
      what: `claim: ${cl.id}`,
      expected: `${cl.kind === "ratio" ? "ratio " : ""}${
        cl.min !== undefined ? `≥ ${cl.min}` : ""
      }${cl.min !== undefined && cl.max !== undefined ? " and " : ""}${
        cl.max !== undefined ? `≤ ${cl.max}` : ""
      }`,
      actual: Number.isFinite(v) ? v.toFixed(3) : "n/a",
      ok: Number.isFinite(v) && okMin && okMax,
    });
  }
  return { lines, ok: lines.every((l) => l.ok) };
}

/**
 * Format diff lines as a fixed-width table.
 *
 * @param lines The lines.
 * @returns The table text.
 */
export function diffTable(lines: readonly DiffLine[]): string {
  const rows = [
    ["", "cell / claim", "expected", "actual"],
    ...lines.map((l) => [
      l.ok ? "ok" : "FAIL",
      l.what,
      l.expected,
      l.actual,
    ]),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}

/**
 * Write a reference from a run's results: every Table 1 cell (DSC and ΔV per group) and the
 * AUC of each non-reference labeling and configuration, with the given tolerances and claims.
 *
 * @param path Target file.
 * @param results The run's results.
 * @param options Tolerances, claims, quick flag, note.
 * @returns The reference written.
 */
export async function writeReference(
  path: string,
  results: ResultsLike,
  options: {
    quick: boolean;
    folds?: number;
    only?: string[];
    tolerances: Reference["tolerances"];
    claims?: Reference["claims"];
    note?: string;
  },
): Promise<Reference> {
  const keys = new Map<string, CellAddress>();
  for (const row of results.rows) {
    const base = {
      labeling: row.job.labeling,
      experiment: row.job.experiment,
      batchSize: row.job.batchSize,
    };
    for (const group of results.target.groups) {
      for (const metric of ["dsc", "deltaVolumeMl"] as const) {
        const c = { ...base, group, metric };
        keys.set(_name(c), c);
      }
    }
    if (row.job.labeling !== "full") {
      const c = { ...base, metric: "auc" as const };
      keys.set(_name(c), c);
    }
  }
  const cells = [...keys.values()].map((c) => {
    const v = cellValue(results, c);
    return { ...c, value: Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : null };
  });
  const ref: Reference = {
    schema: "dicelab.reference/1",
    pipeline: results.pipeline,
    quick: options.quick,
    ...(options.folds !== undefined ? { folds: options.folds } : {}),
    ...(options.only !== undefined ? { only: options.only } : {}),
    note: options.note,
    tolerances: options.tolerances,
    cells,
    claims: options.claims ?? [],
  };
  await writeJsonAtomic(path, ref);
  return ref;
}

/**
 * Why a reference cannot check a pipeline: it was made from another pipeline (by name), or it
 * names labelings, experiments or batch sizes the pipeline does not have.
 *
 * @param ref The reference.
 * @param p The pipeline to be run.
 * @returns The problems (empty when the reference fits).
 */
export function referenceMismatch(ref: Reference, p: Pipeline): string[] {
  const out: string[] = [];
  if (ref.pipeline !== p.name) {
    out.push(`it was made from pipeline "${ref.pipeline}", not "${p.name}"`);
  }
  const missing = new Set<string>();
  for (const c of ref.cells) {
    const exp = p.experiments[c.experiment];
    if (!(c.labeling in p.labelings)) missing.add(`labeling "${c.labeling}"`);
    if (!exp) missing.add(`experiment "${c.experiment}"`);
    else if (!(exp.batchSizes ?? p.training.batchSizes).includes(c.batchSize)) {
      missing.add(`batch size ${c.batchSize} of experiment "${c.experiment}"`);
    }
  }
  if (missing.size > 0) {
    out.push(`its cells name ${[...missing].slice(0, 5).join(", ")}, which the pipeline lacks`);
  }
  return out;
}
