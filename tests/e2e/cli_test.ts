/** The CLI as a user meets it: usage errors, a broken pipeline file, and `analyze`. */

import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/gpu.ts";

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "cli.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

Deno.test("cli rejects a broken pipeline before any work, listing every problem by field path", async () => {
  const r = await cli("run", "tests/testdata/pipelines/broken.ts", "--out", "/nonexistent/never");
  assert.equal(r.code, 2);
  assert.match(r.err, /Invalid pipeline tests\/testdata\/pipelines\/broken\.ts: 6 problem\(s\)/);
  assert.match(r.err, /name: expected lowercase letters, digits, _ or -/);
  assert.match(r.err, /experiments\.I_eps\.loss\.epsilon: expected a number ≥ 0 or "heuristic"/);
  assert.match(r.err, /experiments\.Q\.loss\.phi: expected "I", "CI", "BI", "BCI"/);
  assert.match(r.err, /experiments\.Q\.loss\.epsilon: expected a number ≥ 0 or "heuristic"/);
  assert.match(r.err, /experiments\.L\.loss: unknown field\(s\) "typo"/);
  assert.match(r.err, /training\.batchSizes\.0: expected a positive integer \(batch size\)/);
  // Nothing was written.
  await assert.rejects(() => Deno.stat("/nonexistent/never"));
});

Deno.test("cli explains usage errors", async () => {
  const a = await cli("run");
  assert.equal(a.code, 2);
  assert.match(a.err, /Missing pipeline file/);
  const b = await cli("run", "pipelines/tiny_brats.ts", "--shard", "3/2");
  assert.equal(b.code, 2);
  assert.match(b.err, /Invalid --shard: expected i\/n with 1 ≤ i ≤ n, got "3\/2"/);
  const c = await cli("frobnicate", "x");
  assert.equal(c.code, 2);
  assert.match(c.err, /Unknown command "frobnicate"/);
  const d = await cli("run", "pipelines/missing.ts");
  assert.equal(d.code, 2);
  assert.match(d.err, /Cannot load pipeline pipelines\/missing\.ts/);
  const e = await cli("compare", "runs/none");
  assert.equal(e.code, 2);
  assert.match(e.err, /compare needs --pairs A:B/);
  const g = await cli("predict", "--input", "x", "--out", "y");
  assert.equal(g.code, 2);
  assert.match(g.err, /predict needs --model RUN\|RUN\/jobs\/JOB\|FILE\.dicelab/);
  const h = await cli("export", "/nonexistent/run", "--out", "m.dicelab");
  assert.equal(h.code, 2);
  assert.match(h.err, /Invalid model \/nonexistent\/run: it does not exist/);
  const f = await cli("compare", "/nonexistent/run", "--pairs", "I:leaf");
  assert.equal(f.code, 2);
  assert.match(f.err, /Cannot read run folder's \/nonexistent\/run\/results\.json/);
});

gpuTest("cli analyze predicts the regimes of the tiny preset before training", async () => {
  const r = await cli("analyze", "pipelines/tiny_brats.ts");
  assert.equal(r.code, 0, r.err);
  const line = (lab: string, exp: string) =>
    r.out.split("\n").find((l) => l.startsWith(lab) && l.includes(` ${exp} `)) ?? "";
  assert.match(line("partial", "I"), /ignores missing labels/);
  assert.match(line("partial", "BI"), /learns empty maps/);
  assert.match(r.out, /ratio = mean \|∂L\/∂ŷ\|/);
});

Deno.test("cli reproduce refuses a reference it cannot match before running anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab-cli-" });
  try {
    const missing = await cli("reproduce", "pipelines/tiny_brats.ts", "--expect", `${dir}/no.json`);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /Cannot read --expect .*no\.json/);
    const ref = {
      schema: "dicelab.reference/1",
      pipeline: "tiny-brats",
      quick: false,
      folds: 1,
      tolerances: { dsc: 0.1, deltaVolumeMl: 1, auc: 0.1 },
      cells: [],
    };
    await Deno.writeTextFile(`${dir}/ref.json`, JSON.stringify(ref));
    const quick = await cli(
      "reproduce",
      "pipelines/tiny_brats.ts",
      "--expect",
      `${dir}/ref.json`,
      "--quick",
    );
    assert.equal(quick.code, 2);
    assert.match(quick.err, /was made without --quick; run reproduce without it/);
    const folds = await cli(
      "reproduce",
      "pipelines/tiny_brats.ts",
      "--expect",
      `${dir}/ref.json`,
      "--folds",
      "2",
    );
    assert.equal(folds.code, 2);
    assert.match(folds.err, /--folds 2 differs from the reference .*the first 1 fold\(s\)/);
    // A reference made from some experiments only (--only) runs exactly those: reproduce takes
    // them from the reference and refuses a different --only.
    await Deno.writeTextFile(`${dir}/only.json`, JSON.stringify({ ...ref, only: ["BI", "I"] }));
    const other = await cli(
      "reproduce",
      "pipelines/tiny_brats.ts",
      "--expect",
      `${dir}/only.json`,
      "--only",
      "BI",
    );
    assert.equal(other.code, 2);
    assert.match(other.err, /--only BI differs from the reference .*made from --only BI,I/);
    // Nothing was run.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "only.json",
      "ref.json",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("cli breakdown splits a finished ACDC run by pathology", async () => {
  const out = await Deno.makeTempDir({ prefix: "dicelab-breakdown-" });
  try {
    const r = await cli("run", "pipelines/tiny_acdc.ts", "--quick", "--out", out);
    assert.equal(r.code, 0, r.err);
    const b = await cli("breakdown", out);
    assert.equal(b.code, 0, b.err);
    assert.match(b.out, /### partial labels, B = 2, MYO/);
    // The tiny phantom has 2 patients per pathology; fold 0 tests some of them, each pathology
    // row counts its own patients, and the counts add up to the fold's test patients.
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    const tested = new Set(results.rows.map((x: { subject: string }) => x.subject));
    const rows = b.out.split("\n").filter((l) => /^\| I \| (DCM|HCM|MINF|NOR|RV) \|/.test(l));
    assert.ok(rows.length >= 2, b.out);
    const n = rows.reduce((s, l) => s + Number(l.split("|")[3]), 0);
    assert.equal(n, tested.size);
    const json = await cli("breakdown", out, "--json", "--classes", "LV");
    const cells = JSON.parse(json.out);
    assert.ok(cells.length > 0 && cells.every((c: { className: string }) => c.className === "LV"));
    const bad = await cli("breakdown", out, "--by", "height");
    assert.equal(bad.code, 1);
    assert.match(bad.err, /have no "height" field to break down by/);
    const none = await cli("breakdown");
    assert.equal(none.code, 2);
    assert.match(none.err, /Missing run folder/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
