/**
 * A run's results broken down by a per-subject attribute (ACDC: the pathology group of
 * `Info.cfg`): mean DSC, mean ΔV and the predicted share of the true volume per experiment,
 * labeling, B, group and subgroup, as Markdown and HTML tables. It shows *where* a configuration
 * learns empty maps — e.g. whether BI drops MYO at ES for every pathology or only where ES looks
 * unlike ED. The subgroups come from the dataset (`subjectSubgroups` in lib/pipeline).
 *
 * @module
 */

import { escapeXml } from "./line_plot.ts";

/** What the breakdown's columns mean (the CLI's and the report's legend). */
export const BREAKDOWN_LEGEND =
  "Mean DSC, mean ΔV = predicted − true volume and V̂/V = Σ predicted / Σ true volume " +
  "(0: empty predictions)";

/** The part of `results.json` that the breakdown reads. */
export interface BreakdownInput {
  /** Target class and its two groups (Table 1's). */
  target?: { className: string; groups: [string, string] };
  /** Experiments with their display labels. */
  experiments?: { name: string; label?: string }[];
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
  /** Cases with a defined DSC, i.e. in the DSC mean (n minus the undefined ones). */
  dscN: number;
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
      row: Omit<BreakdownRow, "n" | "dsc" | "dscN" | "deltaVolumeMl" | "volumeRatio">;
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
    dscN: dsc.length,
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
 * @param labels Display labels of experiments by id (default: the ids).
 * @returns The tables.
 */
export function breakdownTable(
  cells: BreakdownRow[],
  groups?: readonly string[],
  labels: Readonly<Record<string, string>> = {},
): string {
  const out: string[] = [];
  for (const { title, header, rows } of _grids(cells, groups, labels)) {
    out.push(`### ${title}`, "", `| ${header.join(" | ")} |`);
    out.push(`| ${header.map((_, i) => (i < 2 ? "---" : "---:")).join(" | ")} |`);
    for (const r of rows) out.push(`| ${r.join(" | ")} |`);
    out.push("");
  }
  return out.join("\n").trimEnd();
}

/**
 * HTML tables of a breakdown (the report's "by pathology" section): as
 * {@linkcode breakdownTable}, one table per labeling, B and class.
 *
 * @param cells From {@linkcode breakdownResults}.
 * @param groups Group order (default: sorted).
 * @param labels Display labels of experiments by id (default: the ids).
 * @returns The tables' HTML.
 */
export function breakdownHtml(
  cells: BreakdownRow[],
  groups?: readonly string[],
  labels: Readonly<Record<string, string>> = {},
): string {
  const out: string[] = [];
  const row = (tag: string, items: string[]) =>
    `<tr>${items.map((x) => `<${tag}>${escapeXml(x)}</${tag}>`).join("")}</tr>`;
  for (const { title, header, rows } of _grids(cells, groups, labels)) {
    out.push(
      `<h3>${escapeXml(title)}</h3><div class="scroll"><table class="breakdown"><thead>`,
      row("th", header),
      `</thead><tbody>`,
      ...rows.map((r) => row("td", r)),
      `</tbody></table></div>`,
    );
  }
  return out.join("\n");
}

/** The tables as text cells: a title, a header and rows (experiment, subgroup, n, metrics). */
function _grids(
  cells: BreakdownRow[],
  groups: readonly string[] | undefined,
  labels: Readonly<Record<string, string>>,
): { title: string; header: string[]; rows: string[][] }[] {
  const gs = groups ?? [...new Set(cells.map((c) => c.group))].sort();
  const f2 = (x: number | null) => (x === null ? "–" : x.toFixed(2));
  const header = [
    "experiment",
    "subgroup",
    "n",
    ...gs.map((g) => `DSC ${g}`),
    ...gs.map((g) => `ΔV ${g} [ml]`),
    ...gs.map((g) => `V̂/V ${g}`),
  ];
  return [..._tables(cells)].map(([title, rows]) => ({
    title,
    header,
    rows: rows.map(({ experiment, subgroup, n, byGroup }) => {
      const per = (get: (c: BreakdownRow) => string) =>
        gs.map((g) => {
          const c = byGroup.get(g);
          return c ? get(c) : "–";
        });
      return [
        labels[experiment] ?? experiment,
        subgroup,
        String(n),
        ...per((c) => f2(c.dsc)),
        ...per((c) => _ml(c.deltaVolumeMl)),
        ...per((c) => f2(c.volumeRatio)),
      ];
    }),
  }));
}

/** ΔV in whole ml, without a "-0". */
function _ml(x: number): string {
  const r = Math.sign(x) * Math.round(Math.abs(x)); // half away from zero, as toFixed
  return r === 0 ? "0" : r.toFixed(0);
}

interface _Row {
  experiment: string;
  subgroup: string;
  n: number;
  byGroup: Map<string, BreakdownRow>;
}

/** Cells grouped into tables (labeling, B, class) and rows (experiment, subgroup). */
function _tables(cells: BreakdownRow[]): Map<string, _Row[]> {
  const tables = new Map<string, Map<string, _Row>>();
  for (const c of cells) {
    const title = `${c.labeling} labels, B = ${c.batchSize}, ${c.className}`;
    if (!tables.has(title)) tables.set(title, new Map());
    const rows = tables.get(title)!;
    const k = `${c.experiment}\u0000${c.subgroup}`;
    if (!rows.has(k)) {
      rows.set(k, { experiment: c.experiment, subgroup: c.subgroup, n: 0, byGroup: new Map() });
    }
    const r = rows.get(k)!;
    r.byGroup.set(c.group, c);
    r.n = Math.max(r.n, c.n);
  }
  return new Map([...tables].map(([t, rows]) => [t, [...rows.values()]]));
}
