import assert from "node:assert/strict";
import { buildTable1 } from "./table1.ts";
import { parseRunResults, type RunResultsInput } from "./results.ts";
import { table1Html, table1Markdown } from "./table1_format.ts";
import { BootstrapPool } from "../eval/bootstrap_pool.ts";

// Hand-made run: groups A (always labelled) and B (missing under partial), one experiment X.
//   DSC A   full [0.9, 0.8, 0.7, 0.6] (mean 0.75), partial ± [0.01, −0.01, 0.02, −0.02] → Δ 0
//   DSC B   full [0.9, 0.9, 0.9],     partial [0, 0, 0.1] (mean 0.0333) → Δ −0.8667
//   ΔV A    full [−2, −4, 0, −2],     partial [−3, −1, −2, −2] → Δ 0
//   ΔV B    full [−5, −5, −5],        partial [−60, −50, −40] (mean −50) → Δ −45
// A zero mean difference gives p = 1; differences that never straddle their mean's
// reflection (all of one sign, tight) give the minimum p = 1/(B + 1) = 0.01 for B = 99.
function handRun(): RunResultsInput {
  const dsc = {
    full: { A: [0.9, 0.8, 0.7, 0.6], B: [0.9, 0.9, 0.9] },
    partial: { A: [0.91, 0.79, 0.72, 0.58], B: [0, 0, 0.1] },
  };
  const dv = {
    full: { A: [-2, -4, 0, -2], B: [-5, -5, -5] },
    partial: { A: [-3, -1, -2, -2], B: [-60, -50, -40] },
  };
  const rows: RunResultsInput["rows"] = [];
  for (const labeling of ["partial", "full"] as const) {
    for (const group of ["B", "A"] as const) {
      dsc[labeling][group].forEach((d, i) => {
        const trueVolumeMl = 100;
        const deltaVolumeMl = dv[labeling][group][i];
        const base = {
          job: { experiment: "X", labeling, batchSize: 2, fold: i % 2 },
          caseId: `${group}${i}`,
          subject: `${group}${i}`,
          group,
          predVolumeMl: trueVolumeMl + deltaVolumeMl,
          trueVolumeMl,
          deltaVolumeMl,
        };
        rows.push({ ...base, className: "t", dsc: d });
        rows.push({ ...base, className: "other", dsc: 0.1 }); // not the target class
      });
    }
  }
  // A third group and a full-only batch size: ignored / uncompared.
  rows.push({
    job: { experiment: "X", labeling: "full", batchSize: 2, fold: 0 },
    caseId: "C0",
    subject: "C0",
    group: "C",
    className: "t",
    dsc: 0,
    predVolumeMl: 0,
    trueVolumeMl: 1,
    deltaVolumeMl: -1,
  });
  rows.push({
    job: { experiment: "X", labeling: "full", batchSize: 4, fold: 0 },
    caseId: "A0",
    subject: "A0",
    group: "A",
    className: "t",
    dsc: 0.5,
    predVolumeMl: 1,
    trueVolumeMl: 1,
    deltaVolumeMl: 0,
  });
  return {
    schema: "dicelab.results/1",
    pipeline: "hand",
    dataset: "brats",
    target: { className: "t", groups: ["A", "B"] },
    labelings: [{ name: "full" }, { name: "partial" }],
    experiments: [{ name: "X", label: "𝕀" }],
    rows,
  };
}

const close = (a: number | null, b: number) =>
  assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

Deno.test("buildTable1() computes means and marks inferior cells on a hand-made run", async () => {
  const t = await buildTable1(parseRunResults(handRun()), { resamples: 99, seed: 1 });
  assert.deepEqual(t.rows.map((r) => [r.labeling, r.batchSize]), [["full", 2], ["full", 4], [
    "partial",
    2,
  ]]);
  assert.deepEqual(t.experiments, [{ name: "X", label: "𝕀" }]);
  // Column order: metric, group, experiment.
  const [dA, dB, vA, vB] = t.rows[2].cells;
  assert.deepEqual([dA, dB, vA, vB].map((c) => [c.metric, c.group]), [
    ["dsc", "A"],
    ["dsc", "B"],
    ["deltaVolumeMl", "A"],
    ["deltaVolumeMl", "B"],
  ]);
  close(t.rows[0].cells[0].mean, 0.75);
  close(dA.mean, 0.75);
  close(dB.mean, 0.1 / 3);
  close(vB.mean, -50);
  assert.equal(dB.n, 3);
  // Reference rows and rows without a partner are not compared.
  assert.ok(t.rows[0].cells.every((c) => c.comparison === null));
  assert.ok(t.rows[1].cells.every((c) => c.comparison === null));
  close(t.rows[1].cells[0].mean, 0.5);
  assert.equal(t.rows[1].cells[1].mean, null);

  assert.equal(dA.comparison!.p, 1);
  assert.equal(dA.comparison!.inferior, false);
  assert.equal(dB.comparison!.p, 0.01);
  close(dB.comparison!.difference, -0.8 - 0.2 / 3);
  assert.equal(dB.comparison!.inferior, true);
  assert.equal(vA.comparison!.p, 1);
  assert.equal(vB.comparison!.p, 0.01);
  assert.equal(vB.comparison!.inferior, true);
  assert.equal(vB.comparison!.n, 3);
  assert.equal(t.statistics.comparisons, 4);
});

Deno.test("buildTable1() applies Holm over all comparisons", async () => {
  const results = parseRunResults(handRun());
  // Raw p = [1, 0.01, 1, 0.01]; Holm: 0.01·4 = 0.04, max(0.04, 0.01·3) = 0.04, 1, 1.
  const none = await buildTable1(results, { resamples: 99, alpha: 0.035 });
  const holm = await buildTable1(results, { resamples: 99, alpha: 0.035, correction: "holm" });
  const cells = (t: typeof none) => t.rows[2].cells.map((c) => c.comparison!);
  assert.deepEqual(cells(none).map((c) => c.inferior), [false, true, false, true]);
  assert.deepEqual(cells(holm).map((c) => c.pAdjusted), [1, 0.04, 1, 0.04]);
  assert.deepEqual(cells(holm).map((c) => c.inferior), [false, false, false, false]);
});

Deno.test("buildTable1() gives identical results in a worker pool and with other tests", async () => {
  const results = parseRunResults(handRun());
  const inProcess = await buildTable1(results, { resamples: 199, seed: 3, test: "studentized" });
  await using pool = new BootstrapPool({ size: 2 });
  const pooled = await buildTable1(results, { resamples: 199, seed: 3, test: "studentized", pool });
  assert.deepEqual(pooled, inProcess);
  const perm = await buildTable1(results, { resamples: 199, test: "permutation" });
  assert.equal(perm.statistics.test, "signFlipPermutation");
  // n = 3 all-negative differences: 1 of 8 sign vectors as extreme → Monte Carlo p ≈ 0.25
  assert.ok(perm.rows[2].cells[1].comparison!.p > 0.1);
  const abs = await buildTable1(results, { resamples: 99, deltaVolume: "absolute" });
  // |ΔV| A: full [2, 4, 0, 2], partial [3, 1, 2, 2] → Δ 0
  close(abs.rows[2].cells[2].comparison!.difference, 0);
});

Deno.test("buildTable1() rejects a case listed twice in one job", async () => {
  const run = handRun();
  run.rows.push({ ...run.rows[0] });
  await assert.rejects(() => buildTable1(parseRunResults(run), { resamples: 9 }), /appears twice/);
});

Deno.test("table1Markdown() and table1Html() show means and significance marks", async () => {
  const t = await buildTable1(parseRunResults(handRun()), { resamples: 99 });
  const md = table1Markdown(t);
  assert.match(md, /^# Table 1\n/);
  assert.match(md, /\| Labeling \| B \| DSC A 𝕀 \| DSC B 𝕀 \| ΔV \[ml\] A 𝕀 \| ΔV \[ml\] B 𝕀 \|/);
  assert.match(md, /\| partial \| 2 \| 0\.75 \| _0\.03_\\\* \| -2 \| _-50_\\\* \|/);
  assert.match(md, /\| full \| 4 \| 0\.50 \| – \| 0 \| – \|/);
  const html = table1Html(t);
  assert.match(html, /<table id="table1"/);
  assert.equal(html.match(/<td class="inferior"/g)?.length, 2);
  assert.match(html, /<em>0\.03<\/em><sup>\*<\/sup>/);
  assert.match(html, /<th scope="rowgroup" rowspan="2">full<\/th>/);
});

Deno.test("parseRunResults() lists every problem by field path", () => {
  const run = handRun() as unknown as Record<string, unknown>;
  const rows = run.rows as { job: { experiment: string }; dsc: number }[];
  rows[0].job.experiment = "nope";
  rows[1].dsc = 1.5;
  assert.throws(() => parseRunResults({ ...run, referenceLabeling: "none" }), (err: Error) => {
    assert.ok(err instanceof TypeError);
    assert.match(err.message, /^Cannot read results results\.json: 1 problem/);
    assert.match(err.message, /rows\.1\.dsc/);
    return true;
  });
  rows[1].dsc = 0.5;
  assert.throws(() => parseRunResults({ ...run, referenceLabeling: "none" }), (err: Error) => {
    // rows 0 and 1 (two classes of one case) share the job object → two row problems.
    assert.match(err.message, /3 problem\(s\)/);
    assert.match(err.message, /referenceLabeling: "none" is not a declared labeling/);
    assert.match(err.message, /rows\.0\.job\.experiment: "nope" is not declared/);
    return true;
  });
});

Deno.test('buildTable1() leaves undefined DSCs (emptyDice "nan" → null) out of means and pairs, and says n = used of all', async () => {
  // Group A partial: case A1's DSC is undefined; full: case A3's. Means over the rest, and the
  // comparison pairs only A0 and A2 (A1 lacks the partial value, A3 the full one).
  const run = handRun();
  for (const r of run.rows) {
    if (r.className !== "t" || r.job.batchSize !== 2) continue;
    if (r.job.labeling === "partial" && r.caseId === "A1") r.dsc = null;
    if (r.job.labeling === "full" && r.caseId === "A3") r.dsc = null;
  }
  const t = await buildTable1(parseRunResults(run), { resamples: 99, seed: 1 });
  const fullA = t.rows[0].cells[0];
  const [dA, , vA] = t.rows[2].cells;
  assert.deepEqual([fullA.n, fullA.cases], [3, 4]);
  close(fullA.mean, (0.9 + 0.8 + 0.7) / 3);
  assert.deepEqual([dA.n, dA.cases], [3, 4]);
  close(dA.mean, (0.91 + 0.72 + 0.58) / 3);
  assert.equal(dA.comparison!.n, 2);
  close(dA.comparison!.difference, (0.01 + 0.02) / 2);
  // ΔV is always defined: every case counts.
  assert.deepEqual([vA.n, vA.cases, vA.comparison!.n], [4, 4, 4]);
  const md = table1Markdown(t);
  assert.match(md, /\| partial \| 2 \| 0\.74 \(n = 3 of 4\) \|/);
  assert.match(md, /left out of the means and of the paired comparisons/);
  assert.match(table1Html(t), /0\.74 <small class="count">\(n = 3 of 4\)<\/small>/);
  // Without undefined values nothing of this shows.
  const plain = table1Markdown(await buildTable1(parseRunResults(handRun()), { resamples: 99 }));
  assert.doesNotMatch(plain, /n = \d+ of/);
  assert.doesNotMatch(plain, /left out/);
});
