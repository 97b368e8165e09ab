import assert from "node:assert/strict";
import { compareExperiments, type CompareRows, comparisonTable } from "./compare.ts";
import { holm } from "../eval/multiple_comparisons.ts";

/** 30 cases × 2 groups; "B" is "A" plus a shift (0 in ED, −0.1 in ES) plus small noise. */
function rows(): CompareRows {
  const out: CompareRows["rows"] = [];
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 30; i++) {
    for (const group of ["ED", "ES"]) {
      const base = 0.6 + 0.3 * rnd();
      const shift = group === "ES" ? -0.1 : 0;
      for (const [experiment, v] of [["A", base], ["B", base + shift + 0.01 * (rnd() - 0.5)]]) {
        out.push({
          job: { experiment: experiment as string, labeling: "partial", batchSize: 2, fold: i % 3 },
          caseId: `c${i}_${group}`,
          group,
          className: "MYO",
          dsc: v as number,
        });
      }
    }
  }
  // A case that only one experiment has is not paired; a null DSC is skipped.
  out.push({
    job: { experiment: "A", labeling: "partial", batchSize: 2, fold: 0 },
    caseId: "lonely",
    group: "ED",
    className: "MYO",
    dsc: 0.1,
  });
  out[0] = { ...out[0], dsc: null };
  return { rows: out };
}

Deno.test("compareExperiments pairs the same cases, finds the ES shift and not the ED one", () => {
  const c = compareExperiments(rows(), { pairs: [["A", "B"]], resamples: 2000, seed: 3 });
  assert.equal(c.length, 2);
  const ed = c.find((x) => x.group === "ED")!;
  const es = c.find((x) => x.group === "ES")!;
  assert.equal(ed.n, 29); // one ED pair lost its DSC, "lonely" has no partner
  assert.equal(es.n, 30);
  assert.ok(Math.abs(es.estimate - 0.1) < 0.005, `ES estimate ${es.estimate}`);
  assert.ok(es.ci[0] > 0.09 && es.ci[1] < 0.11);
  assert.ok(es.p < 0.001);
  assert.ok(Math.abs(ed.estimate) < 0.005 && ed.p > 0.05, `ED ${ed.estimate} p ${ed.p}`);
  assert.deepEqual(c.map((x) => x.pHolm), holm(c.map((x) => x.p)));
  const table = comparisonTable(c);
  assert.match(table, /\| A − B \| partial \| 2 \| ES \| MYO \| 30 \|.*\| different \|/);
  assert.match(table, /\| A − B \| partial \| 2 \| ED \| MYO \| 29 \|.*\| not significant \|/);
});

Deno.test("compareExperiments names an unknown experiment", () => {
  assert.throws(
    () => compareExperiments(rows(), { pairs: [["A", "leaf"]] }),
    /Unknown experiment "leaf" in --pairs: the run has A, B/,
  );
});
