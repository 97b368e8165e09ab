/**
 * Reports of a run folder: `results.json` schema and reader, Table 1 with significance marks,
 * the ROC figure, example overlays (PNG), generic line plots and the ε-sweep figure (SVG), and
 * the Markdown / JSON / self-contained HTML report written atomically. No GPU, independent of
 * lib/nifti. Schemas: docs/report-schema.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { epsilonSweepSvg, linePlotSvg } from "./mod.ts";
 * const telemetry = linePlotSvg([{ label: "|g_empty| / |g_full|", x: [0, 1, 2], y: [1, 2, 4] }], {
 *   xLabel: "step",
 *   yScale: "log",
 * });
 * const sweep = epsilonSweepSvg([{ epsilon: 1e-7, value: 0.9 }, { epsilon: 1e4, value: 0.2 }], {
 *   metricLabel: "DSC",
 *   heuristicEpsilon: 8789,
 * });
 * assert(telemetry.includes("<path") && sweep.includes("heuristic ε"));
 * ```
 *
 * @module
 */

export {
  parseRunResults,
  readRunResults,
  RESULTS_SCHEMA,
  type ResultsExperiment,
  type ResultsLabeling,
  type ResultsStatistics,
  type ResultsTarget,
  type RunResults,
  type RunResultsInput,
  type StoredCaseResult,
} from "./results.ts";
export {
  buildTable1,
  type Table1,
  type Table1Cell,
  type Table1Comparison,
  type Table1Metric,
  type Table1Options,
  type Table1Row,
} from "./table1.ts";
export {
  formatCount,
  formatMean,
  table1Html,
  table1Legend,
  table1Markdown,
} from "./table1_format.ts";
export {
  escapeXml,
  type LinePlotOptions,
  linePlotSvg,
  type LineSeries,
  PALETTE,
  type VerticalLine,
} from "./line_plot.ts";
export {
  type EpsilonSweepOptions,
  type EpsilonSweepPoint,
  epsilonSweepSvg,
} from "./epsilon_sweep.ts";
export {
  buildRocSeries,
  type RocFigureOptions,
  rocFigureSvg,
  type RocSeries,
  type RocSeriesOptions,
} from "./roc_figure.ts";
export {
  LABEL_COLORS,
  type OverlayExample,
  type OverlayImage,
  type OverlayOptions,
  overlayPng,
  type OverlayPrediction,
} from "./overlay.ts";
export {
  type ExampleFile,
  type RawArrayRef,
  type RawDtype,
  readExamples,
  writeExample,
} from "./examples.ts";
export {
  breakdownHtml,
  type BreakdownInput,
  type BreakdownOptions,
  breakdownResults,
  type BreakdownRow,
  breakdownTable,
} from "./breakdown.ts";
export { REPORT_SCHEMA, type ReportFigure, type ReportJson } from "./report_json.ts";
export { reportHtml, type ReportHtmlParts } from "./report_html.ts";
export {
  buildReport,
  type Report,
  type ReportOptions,
  writeReport,
  type WriteReportOptions,
} from "./report.ts";
