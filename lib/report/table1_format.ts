/**
 * Table 1 as Markdown and as an HTML fragment. Means are shown like the paper (DSC with two
 * decimals, ΔV in whole ml); cells significantly inferior to the reference labeling are in
 * italics and marked with an asterisk.
 *
 * @module
 */

import { escapeXml } from "./line_plot.ts";
import type { Table1, Table1Cell, Table1Metric } from "./table1.ts";

const METRIC_NAMES: Record<Table1Metric, string> = { dsc: "DSC", deltaVolumeMl: "ΔV [ml]" };

/**
 * Format a mean for display: DSC with 2 decimals, ΔV rounded to whole ml, "–" when absent.
 *
 * @param metric The metric.
 * @param value The mean, or null.
 * @returns The text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMean } from "./table1_format.ts";
 * assert(formatMean("dsc", 0.8873) === "0.89");
 * assert(formatMean("deltaVolumeMl", -0.4) === "0");
 * ```
 */
export function formatMean(metric: Table1Metric, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  const s = metric === "dsc" ? value.toFixed(2) : value.toFixed(0);
  return s === "-0" || s === "-0.00" ? s.slice(1) : s;
}

/**
 * The sentence explaining the marks and the test.
 *
 * @param table The table.
 * @returns One paragraph of plain text.
 */
export function table1Legend(table: Table1): string {
  const s = table.statistics;
  const [g1, g2] = table.target.groups;
  const test = s.test === "signFlipPermutation"
    ? `paired sign-flip permutation test, ${s.resamples} sign vectors`
    : `paired ${
      s.test === "pairedBootstrap-centred" ? "centred" : "studentized"
    } bootstrap of the mean difference, ${s.resamples} resamples`;
  const correction = s.correction === "none"
    ? "no multiple-comparison adjustment"
    : s.correction === "holm"
    ? `Holm adjustment over ${s.comparisons} comparisons`
    : `Benjamini–Hochberg adjustment over ${s.comparisons} comparisons`;
  const dv = s.deltaVolume === "signed"
    ? "ΔV is compared as signed ΔV (inferior: mean farther from 0)"
    : "ΔV is compared as |ΔV| (inferior: larger)";
  const omitted = table.rows.some((r) => r.cells.some((c) => c.n < c.cases))
    ? ` A DSC is undefined when prediction and truth are both empty (emptyDice "nan"): such cases are left out of the means and of the paired comparisons, and a mean over fewer cases than the cell has says "n = used of all".`
    : "";
  return `Mean DSC and mean ΔV = predicted − true volume [ml] of ${table.target.className}. ` +
    `${g1} is always labelled in training; ${g2} is replaced by empty maps under partial labelling. ` +
    `Compared with ${table.referenceLabeling} labelling for the same experiment, B and group over the same cases, ` +
    `inferior results (p < ${s.alpha}) are in italics and marked *: ${test} (seed ${s.seed}), ${correction}; ${dv}.` +
    omitted;
}

/**
 * The count a cell shows next to its mean: `"n = 18 of 20"` when some cases were left out as
 * undefined, else nothing.
 *
 * @param cell The cell.
 * @returns The text, or `""`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatCount } from "./table1_format.ts";
 * assert(formatCount({ n: 18, cases: 20 }) === "n = 18 of 20");
 * assert(formatCount({ n: 20, cases: 20 }) === "");
 * ```
 */
export function formatCount(cell: Pick<Table1Cell, "n" | "cases">): string {
  return cell.n < cell.cases ? `n = ${cell.n} of ${cell.cases}` : "";
}

/**
 * Table 1 as a GitHub-flavoured Markdown table with its legend.
 *
 * @param table The table.
 * @param title Heading text. @default "Table 1"
 * @returns Markdown text ending in a newline.
 */
export function table1Markdown(table: Table1, title = "Table 1"): string {
  const header = ["Labeling", "B"];
  const align = ["---", "---:"];
  for (const metric of table.metrics) {
    for (const group of table.target.groups) {
      for (const e of table.experiments) {
        header.push(`${METRIC_NAMES[metric]} ${group} ${e.label}`);
        align.push("---:");
      }
    }
  }
  const esc = (s: string) => s.replaceAll("|", "\\|");
  const lines = [
    `# ${esc(title)}`,
    "",
    table1Legend(table),
    "",
    `| ${header.map(esc).join(" | ")} |`,
    `| ${align.join(" | ")} |`,
  ];
  for (const row of table.rows) {
    const cells = row.cells.map((c) => {
      const v = formatMean(c.metric, c.mean);
      const count = formatCount(c);
      return (c.comparison?.inferior ? `_${v}_\\*` : v) + (count ? ` (${count})` : "");
    });
    lines.push(`| ${[esc(row.labeling), String(row.batchSize), ...cells].join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Table 1 as an HTML `<table id="table1">` with a three-level header (metric, group,
 * experiment); each compared cell carries its p-values in a `title` tooltip.
 *
 * @param table The table.
 * @returns HTML fragment.
 */
export function table1Html(table: Table1): string {
  const E = table.experiments.length, G = table.target.groups.length;
  const h: string[] = [];
  h.push(`<table id="table1" class="table1">`);
  h.push(`<caption>${escapeXml(table1Legend(table))}</caption>`);
  h.push(`<thead>`);
  h.push(
    `<tr><th rowspan="3" scope="col">Labeling</th><th rowspan="3" scope="col">B</th>${
      table.metrics.map((m) => `<th colspan="${E * G}" scope="colgroup">${METRIC_NAMES[m]}</th>`)
        .join("")
    }</tr>`,
  );
  h.push(
    `<tr>${
      table.metrics.map(() =>
        table.target.groups.map((g) => `<th colspan="${E}" scope="colgroup">${escapeXml(g)}</th>`)
          .join("")
      ).join("")
    }</tr>`,
  );
  h.push(
    `<tr>${
      table.metrics.map(() =>
        table.target.groups.map(() =>
          table.experiments.map((e) => `<th scope="col">${escapeXml(e.label)}</th>`).join("")
        ).join("")
      ).join("")
    }</tr>`,
  );
  h.push(`</thead><tbody>`);
  const spans = new Map<string, number>();
  for (const r of table.rows) spans.set(r.labeling, (spans.get(r.labeling) ?? 0) + 1);
  let previous = "";
  for (const row of table.rows) {
    const first = row.labeling !== previous;
    previous = row.labeling;
    const head = first
      ? `<th scope="rowgroup" rowspan="${spans.get(row.labeling)}">${escapeXml(row.labeling)}</th>`
      : "";
    h.push(
      `<tr class="${first ? "group-start" : ""}">${head}<td class="b">${row.batchSize}</td>${
        row.cells.map(_cellHtml).join("")
      }</tr>`,
    );
  }
  h.push(`</tbody></table>`);
  return h.join("\n");
}

function _cellHtml(c: Table1Cell): string {
  const count = formatCount(c);
  const v = escapeXml(formatMean(c.metric, c.mean)) +
    (count ? ` <small class="count">(${escapeXml(count)})</small>` : "");
  const cmp = c.comparison;
  if (!cmp) return `<td>${v}</td>`;
  const tip = `n = ${cmp.n}, difference ${cmp.difference.toPrecision(3)}` +
    (cmp.ci ? ` [${cmp.ci[0].toPrecision(3)}, ${cmp.ci[1].toPrecision(3)}]` : "") +
    `, p = ${cmp.p.toPrecision(3)}, adjusted p = ${cmp.pAdjusted.toPrecision(3)}`;
  return cmp.inferior
    ? `<td class="inferior" title="${escapeXml(tip)}"><em>${v}</em><sup>*</sup></td>`
    : `<td title="${escapeXml(tip)}">${v}</td>`;
}
