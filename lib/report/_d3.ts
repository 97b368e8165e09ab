// Typed views of the parts of d3-scale and d3-shape the figures use (the npm packages ship
// no TypeScript types, so their imports are `any`; this file is the one place that casts).
import * as d3Scale from "d3-scale";
import * as d3Shape from "d3-shape";

/** A continuous position scale. */
export interface ContinuousScale {
  (value: number): number;
  domain(): number[];
  range(): number[];
  ticks(count?: number): number[];
  tickFormat(count?: number, specifier?: string): (value: number) => string;
  nice(count?: number): ContinuousScale;
}

/** A linear (or log) scale from `domain` to `range`. */
export function scale(kind: "linear" | "log", domain: [number, number], range: [number, number]) {
  const make = kind === "log" ? d3Scale.scaleLog : d3Scale.scaleLinear;
  return (make() as { domain(d: number[]): { range(r: number[]): ContinuousScale } })
    .domain(domain).range(range);
}

/** SVG path data of a polyline through `points`, with an optional step curve. */
export function linePath(
  points: [number, number][],
  curve: "linear" | "stepAfter" = "linear",
): string {
  const gen = d3Shape.line<[number, number]>().curve(
    curve === "stepAfter" ? d3Shape.curveStepAfter : d3Shape.curveLinear,
  );
  return gen(points) ?? "";
}
