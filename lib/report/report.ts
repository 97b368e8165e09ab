/**
 * The run report: from `results.json` (and `examples/`), Table 1, the ROC figure and example
 * overlays, written as `table1.md`, `report.json`, `roc.svg`, `overlay_*.png` and one
 * self-contained `report.html`, each atomically. Schemas: docs/report-schema.md.
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../core/atomic_write.ts";
import { BootstrapPool } from "../eval/bootstrap_pool.ts";
import { readExamples } from "./examples.ts";
import { type OverlayExample, type OverlayOptions, overlayPng } from "./overlay.ts";
import { breakdownResults } from "./breakdown.ts";
import { reportHtml } from "./report_html.ts";
import { readRunResults, type RunResults } from "./results.ts";
import { buildRocSeries, rocFigureSvg } from "./roc_figure.ts";
import { buildTable1, type Table1Options } from "./table1.ts";
import { REPORT_SCHEMA, type ReportFigure, type ReportJson } from "./report_json.ts";
import { table1Markdown } from "./table1_format.ts";

/** Options of {@linkcode buildReport}. */
export interface ReportOptions extends Table1Options {
  /** Level of the AUC intervals. @default 0.95 */
  level?: number;
  /** Page title. @default `dicelab report: ${pipeline}` */
  title?: string;
  /** Overlay rendering. */
  overlay?: OverlayOptions;
  /** Extra figures appended to the HTML page. */
  figures?: ReportFigure[];
  /**
   * Subjects' subgroups (e.g. ACDC pathology) for a breakdown of the target class: `by` names
   * the attribute, `of` maps subject → subgroup (every subject of the results).
   */
  subgroups?: { by: string; of: Readonly<Record<string, string>> };
  /**
   * Problems of the run shown above Table 1 (diverged jobs, collapsed trainings), one line
   * each; `report.json` has `warnings` only when there are some.
   */
  warnings?: readonly string[];
}

/** A report in memory. */
export interface Report {
  /** `report.json` content. */
  json: ReportJson;
  /** `table1.md` content. */
  markdown: string;
  /** `report.html` content. */
  html: string;
  /** `roc.svg` content, or null without partial labelings. */
  rocSvg: string | null;
  /** Overlay PNGs. */
  overlays: { file: string; png: Uint8Array }[];
}

/**
 * Build the report in memory.
 *
 * @param results Parsed `results.json`.
 * @param examples Example cases for overlays (may be empty).
 * @param options Statistics, AUC level, title, overlay rendering, extra figures.
 * @returns The report's files.
 * @throws {RangeError} See {@linkcode buildTable1}.
 * @throws {TypeError} When an example's arrays have the wrong size.
 */
export async function buildReport(
  results: RunResults,
  examples: readonly OverlayExample[],
  options: ReportOptions = {},
): Promise<Report> {
  const level = options.level ?? 0.95;
  const [table1, curves] = await Promise.all([
    buildTable1(results, options),
    buildRocSeries(results, {
      resamples: options.resamples,
      seed: options.seed,
      level,
      pool: options.pool,
    }),
  ]);
  const [g1, g2] = results.target.groups;
  const rocSvg = curves.length ? rocFigureSvg(curves, { positiveGroup: g1 }) : null;
  const used = new Set<string>();
  const overlays: Report["overlays"] = [];
  const exampleJson: ReportJson["examples"] = [];
  for (const ex of examples) {
    const img = overlayPng(ex, options.overlay);
    let base = `overlay_${ex.caseId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    for (let k = 2; used.has(base); k++) {
      base = `overlay_${ex.caseId.replace(/[^A-Za-z0-9_-]/g, "_")}_${k}`;
    }
    used.add(base);
    const file = `${base}.png`;
    overlays.push({ file, png: img.png });
    exampleJson.push({
      caseId: ex.caseId,
      group: ex.group ?? null,
      title: ex.title ?? null,
      file,
      slice: img.slice,
      width: img.width,
      height: img.height,
      panels: img.panels,
    });
  }
  let breakdown: ReportJson["breakdown"] = null;
  if (options.subgroups) {
    const { by, of } = options.subgroups;
    // Cells of the target class (breakdownResults' default).
    const cells = breakdownResults(results, (subject) => of[subject]);
    breakdown = { by, className: results.target.className, cells };
  }
  const json: ReportJson = {
    schema: REPORT_SCHEMA,
    pipeline: results.pipeline,
    dataset: results.dataset,
    createdAt: results.createdAt ?? null,
    emptyDice: results.emptyDice ?? 1,
    target: {
      className: results.target.className,
      classIndex: results.target.classIndex ?? null,
      groups: [g1, g2],
    },
    table1,
    roc: { positiveGroup: g1, negativeGroup: g2, score: "predVolumeMl", level, curves },
    examples: exampleJson,
    breakdown,
    ...(options.warnings?.length ? { warnings: [...options.warnings] } : {}),
    files: {
      markdown: "table1.md",
      html: "report.html",
      roc: rocSvg ? "roc.svg" : null,
      overlays: overlays.map((o) => o.file),
    },
  };
  const title = options.title ?? `dicelab report: ${results.pipeline}`;
  const markdown =
    (options.warnings?.length
      ? options.warnings.map((w) => `> **Warning:** ${w}\n`).join("") + "\n"
      : "") + table1Markdown(table1, `Table 1: ${results.pipeline} (${results.dataset})`);
  const html = reportHtml({ title, json, rocSvg, overlays, figures: options.figures ?? [] });
  return { json, markdown, html, rocSvg, overlays };
}

/** Options of {@linkcode writeReport}. */
export interface WriteReportOptions extends ReportOptions {
  /** Output folder (created if missing). @default runDir */
  outDir?: string;
  /**
   * Bootstrap workers when no `pool` is given: `"auto"` sizes the pool to the machine, 0 runs
   * in process. Results are identical either way.
   * @default "auto"
   */
  workers?: number | "auto";
}

/**
 * Read a run folder and write its report files atomically: `table1.md`, `report.json`,
 * `roc.svg`, `overlay_*.png` and `report.html`.
 *
 * @param runDir The run folder holding `results.json` (and optionally `examples/`).
 * @param options Output folder, workers and the {@linkcode ReportOptions}.
 * @returns The `report.json` content.
 * @throws {Deno.errors.NotFound} When `results.json` is missing.
 * @throws {SyntaxError} When a file does not parse.
 * @throws {TypeError} When `results.json` or an example does not match its schema.
 */
export async function writeReport(
  runDir: string,
  options: WriteReportOptions = {},
): Promise<ReportJson> {
  const results = await readRunResults(runDir);
  const examples = await readExamples(runDir);
  const outDir = options.outDir ?? runDir;
  await Deno.mkdir(outDir, { recursive: true });
  const workers = options.workers ?? "auto";
  const pool = options.pool ??
    (workers === 0 ? undefined : new BootstrapPool(workers === "auto" ? {} : { size: workers }));
  try {
    const report = await buildReport(results, examples, { ...options, pool });
    for (const o of report.overlays) await writeFileAtomic(`${outDir}/${o.file}`, o.png);
    if (report.rocSvg) await writeFileAtomic(`${outDir}/roc.svg`, report.rocSvg + "\n");
    await writeFileAtomic(`${outDir}/table1.md`, report.markdown);
    await writeJsonAtomic(`${outDir}/report.json`, report.json);
    await writeFileAtomic(`${outDir}/report.html`, report.html);
    return report.json;
  } finally {
    if (pool && !options.pool) await pool.close();
  }
}
