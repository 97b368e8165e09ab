/**
 * A generic line plot rendered to a standalone SVG string (scales and path data from d3):
 * the base of the ROC figure, the ε sweep, and gradient-telemetry curves over steps.
 *
 * @module
 */

import { linePath, scale } from "./_d3.ts";

/** One line. */
export interface LineSeries {
  /** Legend text. */
  label: string;
  /** x values. */
  x: ArrayLike<number>;
  /** y values (same length as x). */
  y: ArrayLike<number>;
  /** Stroke colour; default from the palette by index. */
  color?: string;
  /** SVG stroke-dasharray, e.g. `"6 3"`. */
  dash?: string;
  /** Draw a dot at every point. */
  markers?: boolean;
  /** Draw as a step function (`"stepAfter"`). */
  curve?: "linear" | "stepAfter";
}

/** A marked vertical line. */
export interface VerticalLine {
  /** Position on the x axis. */
  x: number;
  /** Text next to the line. */
  label?: string;
  /** Stroke colour. @default "#444" */
  color?: string;
}

/** Options of {@linkcode linePlotSvg}. */
export interface LinePlotOptions {
  /** Width in px. @default 640 */
  width?: number;
  /** Height in px. @default 400 */
  height?: number;
  /** Title above the plot. */
  title?: string;
  /** x-axis label. */
  xLabel?: string;
  /** y-axis label. */
  yLabel?: string;
  /** x scale. @default "linear" */
  xScale?: "linear" | "log";
  /** y scale. @default "linear" */
  yScale?: "linear" | "log";
  /** x domain; default the data extent (rounded to nice values). */
  xDomain?: [number, number];
  /** y domain; default the data extent (rounded to nice values). */
  yDomain?: [number, number];
  /** Marked vertical lines. */
  verticalLines?: VerticalLine[];
  /** Draw the dotted y = x diagonal (ROC chance line). @default false */
  diagonal?: boolean;
  /** Legend placement. @default "right" */
  legend?: "right" | "none";
  /** Element id of the `<svg>` (also prefixes internal ids). @default "plot" */
  id?: string;
  /** Accessible description. @default the title */
  ariaLabel?: string;
}

/** Categorical palette (Tableau 10): distinguishable and colour-blind-aware. */
export const PALETTE = [
  "#4e79a7",
  "#e15759",
  "#59a14f",
  "#f28e2b",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

const FONT = 12;
const CHAR_W = 6.6; // average glyph width of a 12 px sans-serif, for layout

/**
 * Escape text for XML/HTML content and attribute values.
 *
 * @param text Raw text.
 * @returns Escaped text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeXml } from "./line_plot.ts";
 * assert(escapeXml('a<b & "c"') === "a&lt;b &amp; &quot;c&quot;");
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/**
 * Render line series as a standalone SVG (no scripts, no external resources).
 *
 * @param series The lines.
 * @param options Size, labels, scales, domains, vertical lines, legend.
 * @returns SVG markup.
 * @throws {TypeError} When a series' x and y differ in length.
 * @throws {RangeError} When a log axis gets a value ≤ 0 or no series has a finite point.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linePlotSvg } from "./line_plot.ts";
 * const svg = linePlotSvg(
 *   [{ label: "ratio", x: [0, 100, 200], y: [1, 0.5, 0.2] }],
 *   { title: "Gradient ratio", xLabel: "step", yLabel: "ratio", yScale: "log" },
 * );
 * assert(svg.startsWith("<svg") && svg.includes("Gradient ratio"));
 * ```
 */
export function linePlotSvg(series: readonly LineSeries[], options: LinePlotOptions = {}): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const id = options.id ?? "plot";
  const xKind = options.xScale ?? "linear";
  const yKind = options.yScale ?? "linear";
  const legend = options.legend ?? "right";

  const xs: number[] = [], ys: number[] = [];
  for (const s of series) {
    if (s.x.length !== s.y.length) {
      throw new TypeError(
        `Cannot plot series "${s.label}": ${s.x.length} x values, ${s.y.length} y values`,
      );
    }
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) continue;
      _checkLog(xKind, s.x[i], "x", s.label);
      _checkLog(yKind, s.y[i], "y", s.label);
      xs.push(s.x[i]);
      ys.push(s.y[i]);
    }
  }
  for (const v of options.verticalLines ?? []) {
    _checkLog(xKind, v.x, "x", v.label ?? "vertical line");
    xs.push(v.x);
  }
  if (xs.length === 0 && (!options.xDomain || !options.yDomain)) {
    throw new RangeError("Cannot plot: no finite points and no domains");
  }

  const legendW = legend === "right" && series.length > 0
    ? Math.min(340, 40 + Math.max(...series.map((s) => _textWidth(s.label))))
    : 0;
  const m = {
    top: options.title ? 34 : 14,
    right: 16 + legendW,
    bottom: options.xLabel ? 48 : 30,
    left: options.yLabel ? 66 : 50,
  };
  const pw = Math.max(40, width - m.left - m.right);
  const ph = Math.max(40, height - m.top - m.bottom);

  const x = scale(xKind, options.xDomain ?? _extent(xs, xKind), [0, pw]);
  const y = scale(yKind, options.yDomain ?? _extent(ys, yKind), [ph, 0]);
  if (!options.xDomain) x.nice();
  if (!options.yDomain) y.nice();

  const out: string[] = [];
  const title = options.title ?? "";
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" id="${
      escapeXml(id)
    }" class="dl-plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${
      escapeXml(options.ariaLabel ?? title)
    }" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="${FONT}">`,
  );
  if (title) out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  if (title) {
    out.push(
      `<text x="${m.left + pw / 2}" y="20" text-anchor="middle" font-size="${
        FONT + 2
      }" font-weight="bold">${escapeXml(title)}</text>`,
    );
  }
  out.push(`<g transform="translate(${m.left},${m.top})">`);

  // Grid and ticks.
  const xTicks = _ticks(x, xKind, 6), yTicks = _ticks(y, yKind, 6);
  for (const t of xTicks) {
    const px = _r(x(t.value));
    out.push(`<line x1="${px}" x2="${px}" y1="0" y2="${ph}" stroke="#e5e5e5"/>`);
    out.push(`<line x1="${px}" x2="${px}" y1="${ph}" y2="${ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${px}" y="${ph + 18}" text-anchor="middle">${t.label}</text>`);
  }
  for (const t of yTicks) {
    const py = _r(y(t.value));
    out.push(`<line x1="0" x2="${pw}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<line x1="-5" x2="0" y1="${py}" y2="${py}" stroke="#333"/>`);
    out.push(`<text x="-8" y="${py}" dy="0.32em" text-anchor="end">${t.label}</text>`);
  }
  out.push(`<rect width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  if (options.xLabel) {
    out.push(
      `<text x="${pw / 2}" y="${ph + 40}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    );
  }
  if (options.yLabel) {
    out.push(
      `<text transform="translate(${-m.left + 16},${ph / 2}) rotate(-90)" text-anchor="middle">${
        escapeXml(options.yLabel)
      }</text>`,
    );
  }

  out.push(
    `<clipPath id="${escapeXml(id)}-clip"><rect width="${pw}" height="${ph}"/></clipPath>`,
    `<g clip-path="url(#${escapeXml(id)}-clip)" fill="none">`,
  );
  if (options.diagonal) {
    const [d0, d1] = x.domain();
    out.push(
      `<line x1="${_r(x(d0))}" y1="${_r(y(d0))}" x2="${_r(x(d1))}" y2="${
        _r(y(d1))
      }" stroke="#999" stroke-dasharray="2 4"/>`,
    );
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts: [number, number][] = [];
    for (let k = 0; k < s.x.length; k++) {
      if (Number.isFinite(s.x[k]) && Number.isFinite(s.y[k])) {
        pts.push([_r(x(s.x[k])), _r(y(s.y[k]))]);
      }
    }
    const dash = s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : "";
    out.push(
      `<path class="dl-series" d="${
        linePath(pts, s.curve)
      }" stroke="${color}" stroke-width="2"${dash}><title>${escapeXml(s.label)}</title></path>`,
    );
    if (s.markers) {
      for (const [px, py] of pts) {
        out.push(`<circle cx="${px}" cy="${py}" r="3" fill="${color}" stroke="none"/>`);
      }
    }
  });
  out.push(`</g>`);
  for (const v of options.verticalLines ?? []) {
    const px = _r(x(v.x));
    const color = v.color ?? "#444";
    out.push(
      `<line class="dl-vline" x1="${px}" x2="${px}" y1="0" y2="${ph}" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 3"/>`,
    );
    if (v.label) {
      const right = px < pw * 0.7;
      out.push(
        `<text x="${px + (right ? 4 : -4)}" y="14" text-anchor="${
          right ? "start" : "end"
        }" fill="${color}">${escapeXml(v.label)}</text>`,
      );
    }
  }
  out.push(`</g>`);

  if (legendW > 0) {
    const lx = m.left + pw + 16;
    out.push(`<g class="dl-legend" transform="translate(${lx},${m.top + 4})">`);
    series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const ly = i * 18;
      const dash = s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : "";
      out.push(
        `<line x1="0" x2="26" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
        `<text x="32" y="${ly}" dy="0.32em">${escapeXml(s.label)}</text>`,
      );
    });
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join("\n");
}

/** Estimated width of a 12 px sans-serif label (capitals and digits are wider than average). */
function _textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += /[A-Z0-9_%]/.test(ch) ? 8.2 : CHAR_W;
  return w;
}

function _checkLog(kind: string, v: number, axis: string, label: string): void {
  if (kind === "log" && !(v > 0)) {
    throw new RangeError(`Cannot plot "${label}" on a log ${axis} axis: value ${v}`);
  }
}

function _extent(values: number[], kind: "linear" | "log"): [number, number] {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (lo === hi) {
    if (kind === "log") [lo, hi] = [lo / 10, hi * 10];
    else [lo, hi] = lo === 0 ? [-1, 1] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
  }
  return [lo, hi];
}

function _ticks(
  s: ReturnType<typeof scale>,
  kind: "linear" | "log",
  count: number,
): { value: number; label: string }[] {
  if (kind === "linear") {
    const fmt = s.tickFormat(count);
    return s.ticks(count).map((value) => ({ value, label: escapeXml(fmt(value)) }));
  }
  // Log axes: label the powers of ten as 10^k with a superscript exponent.
  const [d0, d1] = s.domain();
  const lo = Math.ceil(Math.log10(Math.min(d0, d1)) - 1e-9);
  const hi = Math.floor(Math.log10(Math.max(d0, d1)) + 1e-9);
  const stride = Math.max(1, Math.ceil((hi - lo + 1) / 8));
  const out: { value: number; label: string }[] = [];
  for (let k = lo; k <= hi; k += stride) {
    out.push({
      value: 10 ** k,
      label: `10<tspan dy="-0.5em" font-size="${FONT - 3}">${k < 0 ? "−" : ""}${
        Math.abs(k)
      }</tspan>`,
    });
  }
  return out;
}

function _r(v: number): number {
  return Math.round(v * 100) / 100;
}
