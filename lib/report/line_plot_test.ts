import assert from "node:assert/strict";
import { escapeXml, linePlotSvg } from "./line_plot.ts";
import { epsilonSweepSvg } from "./epsilon_sweep.ts";
import { rocFigureSvg, type RocSeries } from "./roc_figure.ts";
import { rocCurve } from "../eval/roc.ts";

Deno.test("linePlotSvg() draws one path per series, axes, labels and a legend", () => {
  const svg = linePlotSvg([
    { label: "a <1>", x: [0, 1, 2], y: [0, 1, 4] },
    { label: "b", x: [0, 2], y: [1, 3], dash: "4 2", markers: true },
  ], { title: "T & U", xLabel: "step", yLabel: "value", id: "p1" });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" id="p1"/);
  assert.match(svg, /<\/svg>$/);
  assert.equal(svg.match(/<path class="dl-series"/g)?.length, 2);
  assert.equal(svg.match(/<circle /g)?.length, 2);
  assert.match(svg, /<title>T &amp; U<\/title>/);
  assert.match(svg, />a &lt;1&gt;<\/text>/);
  assert.match(svg, /stroke-dasharray="4 2"/);
  assert.match(svg, />step<\/text>/);
  // Nice linear ticks of the y extent [0, 4].
  for (const t of ["0.0", "1.0", "2.0", "3.0", "4.0"]) assert.ok(svg.includes(`>${t}</text>`), t);
  // Well-formed enough for an XML parser: balanced tags, no raw '&'.
  assert.ok(!/&(?!amp;|lt;|gt;|quot;|#39;)/.test(svg));
});

Deno.test("linePlotSvg() labels log axes with powers of ten and rejects non-positive values", () => {
  const svg = linePlotSvg([{ label: "r", x: [1, 10, 100, 1000], y: [1e-3, 1e-2, 1, 10] }], {
    xScale: "log",
    yScale: "log",
    legend: "none",
  });
  assert.ok(svg.includes(`10<tspan dy="-0.5em" font-size="9">3</tspan>`));
  assert.ok(svg.includes(`10<tspan dy="-0.5em" font-size="9">−3</tspan>`));
  assert.ok(!svg.includes("dl-legend"));
  assert.throws(
    () => linePlotSvg([{ label: "r", x: [0, 1], y: [1, 2] }], { xScale: "log" }),
    RangeError,
  );
  assert.throws(() => linePlotSvg([{ label: "r", x: [0, 1], y: [1] }]), TypeError);
  assert.throws(() => linePlotSvg([]), /no finite points/);
});

Deno.test("epsilonSweepSvg() uses a log ε axis and marks the heuristic ε", () => {
  const svg = epsilonSweepSvg([
    { epsilon: 1e4, value: 0.2, series: "LGG" },
    { epsilon: 1e-7, value: 0.88, series: "LGG" },
    { epsilon: 1e-7, value: 0.89, series: "HGG" },
    { epsilon: 1e4, value: 0.85, series: "HGG" },
  ], { metricLabel: "Mean DSC", heuristicEpsilon: 8789 });
  assert.match(svg, /id="epsilon-sweep"/);
  assert.equal(svg.match(/<path class="dl-series"/g)?.length, 2);
  assert.equal(svg.match(/class="dl-vline"/g)?.length, 1);
  assert.match(svg, /heuristic ε = 8789/);
  assert.match(svg, /class="dl-legend"/);
  assert.throws(
    () => epsilonSweepSvg([{ epsilon: 0, value: 1 }], { metricLabel: "m" }),
    RangeError,
  );
});

Deno.test("rocFigureSvg() draws every curve with its AUC in the legend", () => {
  const curve = rocCurve([5, 4, 3, 2, 1], [true, false, true, false, false]);
  const series: RocSeries[] = [1, 2].map((batchSize) => ({
    labeling: "partial",
    experiment: "BI",
    experimentLabel: "BI",
    batchSize,
    auc: curve.auc,
    ci: [0.5, 1],
    positives: 2,
    negatives: 3,
    points: curve.points,
  }));
  const svg = rocFigureSvg(series, { positiveGroup: "ED" });
  assert.match(svg, /id="roc-figure"/);
  assert.equal(svg.match(/<path class="dl-series"/g)?.length, 2);
  assert.match(svg, /BI, B = 1: AUC 0\.83 \[0\.50, 1\.00\]/);
  assert.match(svg, /Sensitivity \(ED\)/);
  assert.match(svg, /stroke-dasharray="2 4"/); // chance diagonal
  assert.equal(escapeXml("<&>"), "&lt;&amp;&gt;");
});
