import assert from "node:assert/strict";
import { writeReport } from "./report.ts";
import { buildReport } from "./report.ts";
import { parseRunResults } from "./results.ts";
import {
  syntheticExamples,
  syntheticResults,
  writeSyntheticRun,
} from "../../tests/e2e/report_fixture.ts";

Deno.test("writeReport() writes every report file of a synthetic run folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab_report_" });
  try {
    await writeSyntheticRun(dir);
    const json = await writeReport(dir, { workers: 2, resamples: 499 });
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(files, [
      "examples",
      "folds.json",
      "overlay_hgg_3.png",
      "overlay_lgg_1.png",
      "report.html",
      "report.json",
      "results.json",
      "roc.svg",
      "table1.md",
    ]);
    assert.deepEqual(
      JSON.parse(Deno.readTextFileSync(`${dir}/report.json`)),
      JSON.parse(JSON.stringify(json)),
    );
    assert.equal(json.schema, "dicelab.report/1");
    assert.deepEqual(json.target, { className: "tumour", classIndex: 1, groups: ["HGG", "LGG"] });
    // 2 labelings × 2 batch sizes; 2 metrics × 2 groups × 3 experiments
    assert.equal(json.table1.rows.length, 4);
    assert.ok(json.table1.rows.every((r) => r.cells.length === 12));
    assert.equal(json.table1.statistics.comparisons, 24);
    // The configurations that learn empty maps lose LGG (DSC inferior); I with B = 2 does not.
    const partial2 = json.table1.rows.find((r) => r.labeling === "partial" && r.batchSize === 2)!;
    const lggDsc = (e: string) =>
      partial2.cells.find((c) => c.metric === "dsc" && c.group === "LGG" && c.experiment === e)!;
    assert.equal(lggDsc("BI").comparison!.inferior, true);
    assert.equal(lggDsc("I_eps").comparison!.inferior, true);
    assert.equal(lggDsc("I").comparison!.inferior, false);
    assert.ok(lggDsc("BI").mean! < 0.3);
    // ROC: one curve per partial configuration, AUC in [0, 1] within its interval
    assert.equal(json.roc.curves.length, 6);
    for (const c of json.roc.curves) {
      assert.ok(c.ci[0] <= c.auc && c.auc <= c.ci[1] && c.positives === 16 && c.negatives === 10);
    }
    assert.deepEqual(json.examples.map((e) => e.panels), [
      ["Image", "GT", "GT (training)", "I, B = 2", "I_ε, B = 2"],
      ["Image", "GT", "GT (training)", "I, B = 2", "I_ε, B = 2"],
    ]);
    const md = Deno.readTextFileSync(`${dir}/table1.md`);
    assert.match(md, /\| partial \| 2 \|/);
    const html = Deno.readTextFileSync(`${dir}/report.html`);
    // Self-contained: the only URLs are data: URIs and the SVG namespace.
    const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.equal(urls.length, 2);
    assert.ok(urls.every((u) => u.startsWith("data:image/png;base64,")));
    assert.deepEqual(
      [...new Set(html.match(/https?:\/\/[^"' )]+/g))],
      ["http://www.w3.org/2000/svg"],
    );
    assert.ok(!html.includes("<script"));
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    // No leftover temporary files from the atomic writes.
    assert.ok(files.every((f) => !f.includes(".tmp-")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildReport() is deterministic and independent of the worker pool", async () => {
  const results = parseRunResults(syntheticResults({ hgg: 8, lgg: 6, batchSizes: [2] }));
  const examples = syntheticExamples().slice(0, 1);
  const a = await buildReport(results, examples, { resamples: 299 });
  const dir = await Deno.makeTempDir({ prefix: "dicelab_report_" });
  try {
    await Deno.writeTextFile(`${dir}/results.json`, JSON.stringify(results));
    const pooled = await writeReport(dir, { resamples: 299, workers: 2, outDir: `${dir}/out` });
    assert.deepEqual(pooled, { ...a.json, examples: [], files: { ...a.json.files, overlays: [] } });
    const b = await buildReport(results, examples, { resamples: 299 });
    assert.equal(b.html, a.html);
    assert.equal(b.markdown, a.markdown);
    assert.deepEqual(b.overlays, a.overlays);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeReport() names the missing or invalid results file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab_report_" });
  try {
    await assert.rejects(() => writeReport(dir, { workers: 0 }), Deno.errors.NotFound);
    await Deno.writeTextFile(`${dir}/results.json`, "{ nope");
    await assert.rejects(() => writeReport(dir, { workers: 0 }), SyntaxError);
    await Deno.writeTextFile(`${dir}/results.json`, JSON.stringify({ schema: "x" }));
    await assert.rejects(() => writeReport(dir, { workers: 0 }), /results\.json: \d+ problem/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildReport() breaks the target class down by subgroup when given one", async () => {
  const results = parseRunResults(syntheticResults({ hgg: 8, lgg: 6, batchSizes: [2] }));
  const subjects = [...new Set(results.rows.map((r) => r.subject))].sort();
  const of = Object.fromEntries(subjects.map((s, i) => [s, i % 2 ? "odd" : "even"]));
  const plain = await buildReport(results, [], { resamples: 99 });
  assert.equal(plain.json.breakdown, null);
  assert.ok(!plain.html.includes("breakdown-section"));
  const r = await buildReport(results, [], { resamples: 99, subgroups: { by: "parity", of } });
  const b = r.json.breakdown!;
  assert.equal(b.by, "parity");
  assert.equal(b.className, "tumour");
  assert.ok(b.cells.every((c) => c.className === "tumour"));
  // Each (labeling, experiment, group) splits its cases between the two subgroups.
  const n = (sub: string) =>
    b.cells.filter((c) =>
      c.subgroup === sub && c.labeling === "partial" && c.experiment === "I" && c.group === "LGG"
    ).reduce((s, c) => s + c.n, 0);
  const lgg =
    results.rows.filter((x) =>
      x.job.labeling === "partial" && x.job.experiment === "I" && x.group === "LGG" &&
      x.className === "tumour"
    ).length;
  assert.ok(n("odd") > 0 && n("even") > 0);
  assert.equal(n("odd") + n("even"), lgg);
  assert.match(r.html, /<section id="breakdown-section"><h2>tumour by parity<\/h2>/);
  assert.match(r.html, /<h3>partial labels, B = 2, tumour<\/h3>/);
});

Deno.test("buildReport() draws the ROC of a run that has only partial labels", async () => {
  const all = syntheticResults({ hgg: 8, lgg: 6, batchSizes: [2] });
  const partialOnly = parseRunResults({
    ...all,
    referenceLabeling: "partial",
    labelings: all.labelings.filter((l) => l.name === "partial"),
    rows: all.rows.filter((r) => r.job.labeling === "partial"),
  });
  const r = await buildReport(partialOnly, [], { resamples: 99 });
  assert.equal(r.json.roc.curves.length, 3);
  assert.ok(r.json.roc.curves.every((c) => c.labeling === "partial"));
  assert.ok(r.rocSvg !== null);
});
