/**
 * The `report.json` document (schema `dicelab.report/1`, docs/report-schema.md) and the extra
 * figures a report page can carry.
 *
 * @module
 */

import type { BreakdownRow } from "./breakdown.ts";
import type { RocSeries } from "./roc_figure.ts";
import type { Table1 } from "./table1.ts";

/** Schema id of `report.json`. */
export const REPORT_SCHEMA = "dicelab.report/1";

/** An extra figure for the HTML page (e.g. an ε sweep or gradient telemetry). */
export interface ReportFigure {
  /** Element id (letters, digits, `-`). */
  id: string;
  /** Heading. */
  title: string;
  /** SVG markup (e.g. from `linePlotSvg` or `epsilonSweepSvg`). */
  svg: string;
  /** Caption. */
  caption?: string;
}

/** `report.json`. */
export interface ReportJson {
  /** Schema id. */
  schema: typeof REPORT_SCHEMA;
  /** Pipeline name. */
  pipeline: string;
  /** Dataset kind. */
  dataset: string;
  /** When the results were written (from `results.json`), or null. */
  createdAt: string | null;
  /** DSC of empty vs empty: 1, or "nan" (undefined, left out of the means). */
  emptyDice: 1 | "nan";
  /** Target class and groups. */
  target: { className: string; classIndex: number | null; groups: [string, string] };
  /** Table 1 with its statistics settings. */
  table1: Table1;
  /** ROC analysis. */
  roc: {
    positiveGroup: string;
    negativeGroup: string;
    score: "predVolumeMl";
    level: number;
    curves: RocSeries[];
  };
  /** Rendered overlays. */
  examples: {
    caseId: string;
    group: string | null;
    title: string | null;
    file: string;
    slice: number;
    width: number;
    height: number;
    panels: string[];
  }[];
  /** The target class by subgroup of subjects (e.g. ACDC pathology), or null. */
  breakdown: { by: string; className: string; cells: BreakdownRow[] } | null;
  /** Problems of the run (diverged jobs, collapsed trainings); absent when there are none. */
  warnings?: string[];
  /** Files written next to `report.json`. */
  files: { markdown: string; html: string; roc: string | null; overlays: string[] };
}
