/**
 * The ε-sweep figure: a metric against the smoothing term ε on a log axis, with the heuristic
 * ε of Sect. 2.3 (ε = mean target volume per Φ-subset) marked by a vertical line.
 *
 * @module
 */

import { linePlotSvg } from "./line_plot.ts";

/** One measurement of the sweep. */
export interface EpsilonSweepPoint {
  /** ε (> 0). */
  epsilon: number;
  /** Metric value, e.g. mean DSC of LGG. */
  value: number;
  /** Series name (one line per name). @default "" */
  series?: string;
}

/** Options of {@linkcode epsilonSweepSvg}. */
export interface EpsilonSweepOptions {
  /** y-axis label, e.g. `"Mean DSC (LGG)"`. */
  metricLabel: string;
  /** Heuristic ε to mark. */
  heuristicEpsilon?: number;
  /** Title. @default "Effect of ε" */
  title?: string;
  /** y domain. @default the data extent */
  yDomain?: [number, number];
  /** Width in px. @default 640 */
  width?: number;
  /** Height in px. @default 400 */
  height?: number;
}

/**
 * Render an ε sweep as an SVG line plot with a log ε axis.
 *
 * @param points Measurements (any order; grouped by `series`, sorted by ε).
 * @param options Metric label, heuristic ε, title and size.
 * @returns SVG markup with id `epsilon-sweep`.
 * @throws {RangeError} When an ε is ≤ 0.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { epsilonSweepSvg } from "./epsilon_sweep.ts";
 * const svg = epsilonSweepSvg(
 *   [1e-7, 1, 1e3, 1e4, 1e5].map((epsilon, i) => ({ epsilon, value: [0.9, 0.9, 0.7, 0.2, 0.1][i] })),
 *   { metricLabel: "Mean DSC (LGG)", heuristicEpsilon: 8789 },
 * );
 * assert(svg.includes("heuristic ε = 8789"));
 * ```
 */
export function epsilonSweepSvg(
  points: readonly EpsilonSweepPoint[],
  options: EpsilonSweepOptions,
): string {
  const groups = new Map<string, EpsilonSweepPoint[]>();
  for (const p of points) {
    const key = p.series ?? "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(p);
  }
  const series = [...groups].map(([label, pts]) => {
    const sorted = [...pts].sort((a, b) => a.epsilon - b.epsilon);
    return {
      label: label || options.metricLabel,
      x: sorted.map((p) => p.epsilon),
      y: sorted.map((p) => p.value),
      markers: true,
    };
  });
  const h = options.heuristicEpsilon;
  return linePlotSvg(series, {
    id: "epsilon-sweep",
    width: options.width,
    height: options.height,
    title: options.title ?? "Effect of ε",
    xLabel: "ε",
    yLabel: options.metricLabel,
    xScale: "log",
    yDomain: options.yDomain,
    legend: groups.size > 1 ? "right" : "none",
    verticalLines: h === undefined
      ? []
      : [{ x: h, label: `heuristic ε = ${_fmt(h)}`, color: "#c0392b" }],
  });
}

function _fmt(v: number): string {
  if (v >= 100 && v < 1e6) return String(Math.round(v));
  return v >= 1e-3 && v < 100 ? String(Number(v.toPrecision(3))) : v.toExponential(2);
}
