/**
 * Break a finished run's results down by a per-subject attribute of the dataset (ACDC: the
 * pathology group of `Info.cfg`): mean DSC, mean ΔV and the predicted share of the true volume
 * per experiment, labeling, B, group and subgroup. It shows *where* a configuration learns empty
 * maps — e.g. whether BI drops MYO at ES for every pathology or only where ES looks unlike ED.
 *
 * ```sh
 * deno task breakdown runs/acdc-full                # by pathology, the run's target class
 * deno task breakdown runs/acdc-full --classes RV,MYO,LV --json
 * ```
 *
 * @module
 */

import { listDataset } from "../data/list_dataset.ts";
import type { ResolvedRun } from "./run.ts";

/** The part of `results.json` that the breakdown reads. */
export interface BreakdownInput {
  /** Target class and its two groups (Table 1's). */
  target?: { className: string; groups: [string, string] };
  /** Per-case rows. */
  rows: {
    job: { experiment: string; labeling: string; batchSize: number; fold: number };
    subject: string;
    group: string;
    className: string;
    dsc: number | null;
    predVolumeMl: number;
    trueVolumeMl: number;
    deltaVolumeMl: number;
  }[];
}

/** One cell of the breakdown. */
export interface BreakdownRow {
  /** Labeling. */
  labeling: string;
  /** Batch size. */
  batchSize: number;
  /** Experiment id. */
  experiment: string;
  /** Group (e.g. ED/ES). */
  group: string;
  /** Subgroup (e.g. DCM, HCM, MINF, NOR, RV). */
  subgroup: string;
  /** Class name. */
  className: string;
  /** Cases. */
  n: number;
  /** Mean DSC over the cases with a defined DSC (null when none). */
  dsc: number | null;
  /** Mean ΔV = predicted − true volume [ml]. */
  deltaVolumeMl: number;
  /** Σ predicted / Σ true volume (0: empty predictions; null when the class is absent). */
  volumeRatio: number | null;
}

/** Options of {@linkcode breakdownResults}. */
export interface BreakdownOptions {
  /** Classes (default: the run's target class). */
  classes?: string[];
}

/**
 * Aggregate a run's rows per experiment, labeling, B, group, subgroup and class.
 *
 * @param results A run's `results.json`.
 * @param subgroupOf Subject → subgroup.
 * @param options Classes.
 * @returns The cells, sorted by labeling, B, experiment (run order), class, subgroup, group.
 * @throws {Error} When a subject has no subgroup, or no row matches the classes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { breakdownResults } from "./breakdown.ts";
 * const job = { experiment: "BI", labeling: "partial", batchSize: 2, fold: 0 };
 * const rows = [
 *   { job, subject: "p1", group: "ES", className: "MYO", dsc: 0, predVolumeMl: 0, trueVolumeMl: 90, deltaVolumeMl: -90 },
 *   { job, subject: "p2", group: "ES", className: "MYO", dsc: 0.8, predVolumeMl: 100, trueVolumeMl: 110, deltaVolumeMl: -10 },
 * ];
 * const cells = breakdownResults({ rows }, (s) => (s === "p1" ? "HCM" : "DCM"), { classes: ["MYO"] });
 * assert.deepEqual(cells.map((c) => [c.subgroup, c.dsc, c.volumeRatio]), [["DCM", 0.8, 100 / 110], ["HCM", 0, 0]]);
 * ```
 */
export function breakdownResults(
  results: BreakdownInput,
  subgroupOf: (subject: string) => string | undefined,
  options: BreakdownOptions = {},
): BreakdownRow[] {
  const classes = options.classes ??
    (results.target
      ? [results.target.className]
      : [...new Set(results.rows.map((r) => r.className))]);
  const order = new Map<string, number>();
  for (const r of results.rows) {
    if (!order.has(r.job.experiment)) order.set(r.job.experiment, order.size);
  }
  const acc = new Map<
    string,
    {
      row: Omit<BreakdownRow, "n" | "dsc" | "deltaVolumeMl" | "volumeRatio">;
      dsc: number[];
      dv: number;
      pred: number;
      truth: number;
      n: number;
    }
  >();
  for (const r of results.rows) {
    if (!classes.includes(r.className)) continue;
    const subgroup = subgroupOf(r.subject);
    if (subgroup === undefined) throw new Error(`Subject ${r.subject} has no subgroup`);
    const key = [r.job.labeling, r.job.batchSize, r.job.experiment, r.className, subgroup, r.group]
      .join("\u0000");
    let a = acc.get(key);
    if (!a) {
      a = {
        row: {
          labeling: r.job.labeling,
          batchSize: r.job.batchSize,
          experiment: r.job.experiment,
          group: r.group,
          subgroup,
          className: r.className,
        },
        dsc: [],
        dv: 0,
        pred: 0,
        truth: 0,
        n: 0,
      };
      acc.set(key, a);
    }
    if (r.dsc !== null && Number.isFinite(r.dsc)) a.dsc.push(r.dsc);
    a.dv += r.deltaVolumeMl;
    a.pred += r.predVolumeMl;
    a.truth += r.trueVolumeMl;
    a.n++;
  }
  if (acc.size === 0) {
    throw new Error(`No result rows for class(es) ${classes.join(", ")}`);
  }
  const cells = [...acc.values()].map(({ row, dsc, dv, pred, truth, n }) => ({
    ...row,
    n,
    dsc: dsc.length > 0 ? dsc.reduce((s, x) => s + x, 0) / dsc.length : null,
    deltaVolumeMl: dv / n,
    volumeRatio: truth > 0 ? pred / truth : null,
  }));
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return cells.sort((a, b) =>
    cmp(a.labeling, b.labeling) || a.batchSize - b.batchSize ||
    order.get(a.experiment)! - order.get(b.experiment)! || cmp(a.className, b.className) ||
    cmp(a.subgroup, b.subgroup) || cmp(a.group, b.group)
  );
}

/**
 * Markdown tables of a breakdown: one per labeling, B and class; a row per experiment and
 * subgroup, DSC, ΔV and predicted/true volume per group.
 *
 * @param cells From {@linkcode breakdownResults}.
 * @param groups Group order (default: sorted).
 * @returns The tables.
 */
export function breakdownTable(cells: BreakdownRow[], groups?: readonly string[]): string {
  const gs = groups ?? [...new Set(cells.map((c) => c.group))].sort();
  const f2 = (x: number | null) => (x === null ? "–" : x.toFixed(2));
  const out: string[] = [];
  const tables = new Map<string, BreakdownRow[]>();
  for (const c of cells) {
    const k = `${c.labeling} labels, B = ${c.batchSize}, ${c.className}`;
    tables.set(k, [...(tables.get(k) ?? []), c]);
  }
  for (const [title, list] of tables) {
    out.push(`### ${title}`, "");
    out.push(
      `| experiment | subgroup | n | ${gs.map((g) => `DSC ${g}`).join(" | ")} | ${
        gs.map((g) => `ΔV ${g} [ml]`).join(" | ")
      } | ${gs.map((g) => `V̂/V ${g}`).join(" | ")} |`,
    );
    out.push(
      `| --- | --- | ---: | ${gs.map(() => "---:").join(" | ")} | ${
        gs.map(() => "---:").join(" | ")
      } | ${gs.map(() => "---:").join(" | ")} |`,
    );
    const rowsBy = new Map<string, Map<string, BreakdownRow>>();
    for (const c of list) {
      const k = `${c.experiment}\u0000${c.subgroup}`;
      if (!rowsBy.has(k)) rowsBy.set(k, new Map());
      rowsBy.get(k)!.set(c.group, c);
    }
    for (const [k, byGroup] of rowsBy) {
      const [experiment, subgroup] = k.split("\u0000");
      const n = Math.max(...[...byGroup.values()].map((c) => c.n));
      const cell = (g: string, get: (c: BreakdownRow) => string) => {
        const c = byGroup.get(g);
        return c ? get(c) : "–";
      };
      out.push(
        `| ${experiment} | ${subgroup} | ${n} | ${
          gs.map((g) => cell(g, (c) => f2(c.dsc))).join(" | ")
        } | ${gs.map((g) => cell(g, (c) => c.deltaVolumeMl.toFixed(0))).join(" | ")} | ${
          gs.map((g) => cell(g, (c) => f2(c.volumeRatio))).join(" | ")
        } |`,
      );
    }
    out.push("");
  }
  return out.join("\n").trimEnd();
}

/**
 * Read each subject's subgroup from the run's dataset: the value of `meta[key]` of its records
 * (ACDC: `pathology`, from `Info.cfg`).
 *
 * @param run The run (`pipeline.json`): its dataset kind and root.
 * @param options `data` overrides the recorded root; `key` names the meta field.
 * @returns Subject → subgroup.
 * @throws {Error} When the dataset root is gone or its records have no such field.
 */
export async function subjectSubgroups(
  run: ResolvedRun & { source?: string },
  options: { data?: string; key?: string } = {},
): Promise<Map<string, string>> {
  const key = options.key ?? "pathology";
  const root = options.data ?? run.root;
  const kind = run.pipeline.dataset.kind;
  try {
    await Deno.stat(root);
  } catch {
    throw new Error(
      `The run's dataset ${root} is not there: pass --data DIR` +
        (run.phantom
          ? ` (the phantom is regenerated by \`deno task analyze ${
            run.source ?? "<pipeline.ts>"
          }\`)`
          : ""),
    );
  }
  const records = await listDataset(kind, root);
  const out = new Map<string, string>();
  for (const r of records) {
    const v = r.meta[key];
    if (typeof v === "string" || typeof v === "number") out.set(r.subject, String(v));
  }
  if (out.size === 0) {
    throw new Error(
      `The ${kind} cases in ${root} have no "${key}" field to break down by` +
        (kind === "brats" ? " (BRATS cases only have their group, HGG/LGG)" : ""),
    );
  }
  return out;
}
