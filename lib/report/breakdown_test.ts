import assert from "node:assert/strict";
import {
  breakdownHtml,
  type BreakdownInput,
  breakdownResults,
  breakdownTable,
} from "./breakdown.ts";

function row(
  experiment: string,
  subject: string,
  group: string,
  dsc: number | null,
  pred: number,
  truth: number,
  className = "MYO",
): BreakdownInput["rows"][number] {
  return {
    job: { experiment, labeling: "partial", batchSize: 2, fold: 0 },
    subject,
    group,
    className,
    dsc,
    predVolumeMl: pred,
    trueVolumeMl: truth,
    deltaVolumeMl: pred - truth,
  };
}

const RESULTS: BreakdownInput = {
  target: { className: "MYO", groups: ["ED", "ES"] },
  rows: [
    row("I", "p1", "ED", 0.9, 100, 110),
    row("I", "p1", "ES", 0.8, 120, 130),
    row("I", "p2", "ED", 0.7, 90, 80),
    row("I", "p2", "ES", 0.6, 70, 75),
    row("I", "p3", "ES", 0.5, 50, 40),
    row("BI", "p1", "ES", 0, 0, 130),
    row("BI", "p2", "ES", null, 0, 0),
    row("BI", "p3", "ES", 0.1, 4, 40),
    row("I", "p1", "ED", 0.95, 10, 10, "LV"),
  ],
};
const SUB = new Map([["p1", "HCM"], ["p2", "HCM"], ["p3", "DCM"]]);

Deno.test("breakdownResults averages DSC and ΔV and sums volumes per subgroup and group", () => {
  const cells = breakdownResults(RESULTS, (s) => SUB.get(s));
  // Target class only, experiments in run order, subgroups and groups sorted.
  assert.deepEqual(
    cells.map((c) => `${c.experiment}/${c.subgroup}/${c.group}`),
    ["I/DCM/ES", "I/HCM/ED", "I/HCM/ES", "BI/DCM/ES", "BI/HCM/ES"],
  );
  const hcmEs = cells.find((c) =>
    c.experiment === "I" && c.subgroup === "HCM" && c.group === "ES"
  )!;
  assert.equal(hcmEs.n, 2);
  assert.ok(Math.abs(hcmEs.dsc! - 0.7) < 1e-12);
  assert.equal(hcmEs.deltaVolumeMl, (-10 + -5) / 2);
  assert.equal(hcmEs.volumeRatio, 190 / 205);
  // A null DSC (class absent in truth and prediction) is left out of the mean, not counted as 0.
  const biHcm = cells.find((c) => c.experiment === "BI" && c.subgroup === "HCM")!;
  assert.equal(biHcm.n, 2);
  assert.equal(biHcm.dsc, 0);
  assert.equal(biHcm.volumeRatio, 0);
  // Other classes on request.
  const lv = breakdownResults(RESULTS, (s) => SUB.get(s), { classes: ["LV"] });
  assert.deepEqual(lv.map((c) => [c.className, c.n, c.volumeRatio]), [["LV", 1, 1]]);
});

Deno.test("breakdownResults names what is missing", () => {
  assert.throws(
    () => breakdownResults(RESULTS, (s) => (s === "p3" ? undefined : "HCM")),
    /Subject p3 has no subgroup/,
  );
  assert.throws(
    () => breakdownResults(RESULTS, (s) => SUB.get(s), { classes: ["RV"] }),
    /No result rows for class\(es\) RV/,
  );
});

Deno.test("breakdownTable lays groups side by side per experiment and subgroup", () => {
  const t = breakdownTable(breakdownResults(RESULTS, (s) => SUB.get(s)), ["ED", "ES"]);
  const lines = t.split("\n");
  assert.equal(lines[0], "### partial labels, B = 2, MYO");
  assert.match(
    t,
    /\| experiment \| subgroup \| n \| DSC ED \| DSC ES \| ΔV ED \[ml\] \| ΔV ES \[ml\] \|/,
  );
  assert.ok(lines.includes("| I | HCM | 2 | 0.80 | 0.70 | 0 | -8 | 1.00 | 0.93 |"), t);
  assert.ok(lines.includes("| I | DCM | 1 | – | 0.50 | – | 10 | – | 1.25 |"), t);
  assert.ok(lines.includes("| BI | HCM | 2 | – | 0.00 | – | -65 | – | 0.00 |"), t);
});

Deno.test("breakdownHtml renders the same cells as escaped HTML tables", () => {
  const html = breakdownHtml(breakdownResults(RESULTS, (s) => SUB.get(s)), ["ED", "ES"]);
  assert.match(html, /<h3>partial labels, B = 2, MYO<\/h3>/);
  assert.match(
    html,
    /<tr><td>I<\/td><td>HCM<\/td><td>2<\/td><td>0.80<\/td><td>0.70<\/td><td>0<\/td><td>-8<\/td><td>1.00<\/td><td>0.93<\/td><\/tr>/,
  );
  // Display labels replace experiment ids; a ΔV that rounds to zero is "0", not "-0".
  const labelled = breakdownTable(
    breakdownResults(
      { rows: [row("I_eps", "p1", "ES", 0.5, 99.8, 100)] },
      () => "NOR",
    ),
    ["ED", "ES"],
    { I_eps: "I_ε" },
  );
  assert.ok(labelled.includes("| I_ε | NOR | 1 | – | 0.50 | – | 0 | – | 1.00 |"), labelled);
  const tricky = breakdownHtml(breakdownResults(RESULTS, () => "<b>&"), ["ED", "ES"]);
  assert.ok(tricky.includes("&lt;b&gt;&amp;") && !tricky.includes("<b>&"));
});

Deno.test("breakdownResults counts the DSCs in its mean (dscN) next to the cases (n)", () => {
  const cells = breakdownResults(RESULTS, (s) => SUB.get(s));
  const biHcm = cells.find((c) => c.experiment === "BI" && c.subgroup === "HCM")!;
  const iHcmEs = cells.find((c) =>
    c.experiment === "I" && c.subgroup === "HCM" && c.group === "ES"
  )!;
  assert.deepEqual([biHcm.n, biHcm.dscN], [2, 1]);
  assert.deepEqual([iHcmEs.n, iHcmEs.dscN], [2, 2]);
});
