/**
 * Faults during a run, on the tiny presets: a diverged job is a per-job outcome (the run goes on,
 * the summary and report name it, exit 1); a collapsed training is a warning; `--resume` on a
 * missing folder says it starts afresh; a corrupt `result.json` is named and its job re-run; a
 * corrupt or different `pipeline.json` is named field by field; kill -9 at random points and in
 * the middle of checkpoint and result writes, and a failing disk, lose nothing finished and
 * resume to the same results.
 */

import assert from "node:assert/strict";
import { assertFails, cli, finishedFiles, present, ROOT, variant } from "./_faults.ts";

const TMP = await Deno.makeTempDir({ prefix: "dicelab-run-faults-" });
addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));
const TINY = `${ROOT}pipelines/tiny_brats.ts`;
const JOBS = ["f0-partial-I-b2", "f0-partial-BI-b2"];

async function rows(dir: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(`${dir}/results.json`)).rows;
}

/** The reference: an uninterrupted quick run of the tiny BRATS preset. */
let reference: { dir: string; rows: unknown } | undefined;
async function referenceRun() {
  if (!reference) {
    const dir = `${TMP}/reference`;
    const r = await cli(["run", TINY, "--quick", "--out", dir]);
    assert.equal(r.code, 0, r.err);
    reference = { dir, rows: await rows(dir) };
  }
  return reference;
}

Deno.test("a diverged job is recorded, the run goes on, the summary names it, exit 1", async () => {
  const dir = `${TMP}/diverged`;
  const r = await cli(["run", TINY, "--quick", "--out", dir], {
    env: { DICELAB_FAULT: "nan-loss:f0-partial-I-b2" },
  });
  assertFails(
    r,
    1,
    /f0-partial-I-b2: diverged at step 1 \(loss NaN, last finite loss [0-9.]+, lr 0\.01\)/,
    /1 job\(s\) diverged: f0-partial-I-b2/,
  );
  const log = await Deno.readTextFile(`${dir}/jobs/f0-partial-I-b2/log.txt`);
  assert.match(log, /diverged at step 1/);
  const train = (await Deno.readTextFile(`${dir}/jobs/f0-partial-I-b2/train.jsonl`)).trim();
  assert.equal(JSON.parse(train.split("\n")[0]).step, 0, "the finite step is logged");
  const result = JSON.parse(await Deno.readTextFile(`${dir}/jobs/f0-partial-I-b2/result.json`));
  assert.equal(result.diverged.step, 1);
  assert.equal(result.diverged.loss, "NaN");
  // The other job finished and was evaluated; the report names the diverged one.
  const other = JSON.parse(await Deno.readTextFile(`${dir}/jobs/f0-partial-BI-b2/result.json`));
  assert.ok(other.rows.length > 0);
  const report = JSON.parse(await Deno.readTextFile(`${dir}/report.json`));
  assert.match(report.warnings[0], /f0-partial-I-b2: diverged at step 1/);
  assert.match(await Deno.readTextFile(`${dir}/report.html`), /warnings-section/);
});

Deno.test("a training that collapses to one class is a warning naming the job", async () => {
  const file = await variant(TMP, "tiny_acdc", "p.dataset.phantom.training.lr = 1e3;");
  const r = await cli(["run", file, "--quick", "--out", `${TMP}/collapse`]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /Warning: f0-partial-I-b2: the validation patches are predicted as \w+ nearly everywhere .* training collapsed \(learning rate 1000\)/,
  );
});

Deno.test("--resume on a missing folder starts a fresh run and says so first", async () => {
  const dir = `${TMP}/fresh`;
  const r = await cli(["run", TINY, "--quick", "--resume", "--out", dir, "--only", "I"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split("\n")[0], `--resume: no run in ${dir} yet, starting a fresh run there`);
  // Without a terminal, live progress is one line per epoch (2 epochs under --quick).
  const progress = r.out.split("\n").filter((l) =>
    /^f0-partial-I-b2 epoch \d\/2 step \d+\/\d+ loss [\d.]+ val [\d.]+ [\d.]+ steps\/s ETA/.test(l)
  );
  assert.equal(progress.length, 2, r.out);
});

Deno.test("a truncated result.json is named by merge and re-run by --resume", async () => {
  const ref = await referenceRun();
  const dir = `${TMP}/truncated`;
  await Deno.mkdir(dir);
  await cli(["run", TINY, "--quick", "--out", dir]);
  const file = `${dir}/jobs/f0-partial-BI-b2/result.json`;
  const text = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, text.slice(0, 100));
  const m = await cli(["merge", dir]);
  assertFails(m, 1, /jobs\/f0-partial-BI-b2\/result\.json is corrupt: not valid JSON/, /--resume/);
  const r = await cli(["run", TINY, "--quick", "--resume", "--out", dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /result\.json is corrupt: not valid JSON .*kept as .*result\.json\.corrupt; the job runs again/,
  );
  assert.ok(await present(`${file}.corrupt`), "the corrupt file is kept");
  assert.deepEqual(await rows(dir), ref.rows);
});

Deno.test("a corrupt or different pipeline.json is named, and nothing finished is lost", async () => {
  const ref = await referenceRun();
  const dir = `${TMP}/other`;
  await Deno.mkdir(dir);
  for (const f of ["pipeline.json", "folds.json"]) {
    await Deno.copyFile(`${ref.dir}/${f}`, `${dir}/${f}`);
  }
  const r = await cli(["run", TINY, "--quick", "--resume", "--out", dir, "--seed", "7"]);
  assertFails(
    r,
    2,
    /pipeline\.json differs in 1 field\(s\)/,
    /pipeline\.seed: 1 in the folder, 7 now/,
  );
  const before = await finishedFiles(ref.dir);
  await Deno.writeTextFile(`${dir}/pipeline.json`, "{ not json");
  const c = await cli(["run", TINY, "--quick", "--resume", "--out", dir]);
  assertFails(c, 1, new RegExp(`Cannot run into ${dir}: its pipeline\\.json is not valid JSON`));
  assert.deepEqual(await finishedFiles(ref.dir), before);
});

Deno.test("kill -9 at random points, and inside checkpoint and result writes, resumes to the same results", async () => {
  const ref = await referenceRun();
  const dir = `${TMP}/killed`;
  // Two kills at random times of the run, then one inside each kind of atomic write.
  for (let k = 0; k < 2; k++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys=osRelease",
        `${ROOT}cli.ts`,
        "run",
        TINY,
        "--quick",
        "--resume",
        "--out",
        dir,
      ],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 3000 + Math.random() * 6000));
    try {
      child.kill("SIGKILL");
    } catch { /* it finished already */ }
    await child.status;
  }
  for (const target of ["checkpoint.ckpt", "result.json"]) {
    const r = await cli(["run", TINY, "--quick", "--resume", "--out", dir], {
      env: { DICELAB_FAULT: `kill-before-rename:f0-partial-BI-b2/${target}` },
    });
    // Exit 137 when the write was reached; 0 when an earlier kill had already passed it.
    assert.ok(r.code === 137 || r.code === 0, `exit ${r.code}: ${r.err}`);
  }
  const done = await cli(["run", TINY, "--quick", "--resume", "--out", dir]);
  assert.equal(done.code, 0, done.err);
  assert.deepEqual(await rows(dir), ref.rows);
});

Deno.test("a failing disk is named and loses no finished job", async () => {
  const ref = await referenceRun();
  const dir = `${TMP}/full-disk`;
  const r = await cli(["run", TINY, "--quick", "--out", dir], {
    env: { DICELAB_FAULT: "write-error:f0-partial-BI-b2/result.json" },
  });
  assertFails(r, 1, /Cannot write .*jobs\/f0-partial-BI-b2\/result\.json: No space left on device/);
  const first = JSON.parse(await Deno.readTextFile(`${dir}/jobs/${JOBS[0]}/result.json`));
  assert.ok(first.rows.length > 0, "the first job's result is intact");
  const resumed = await cli(["run", TINY, "--quick", "--resume", "--out", dir]);
  assert.equal(resumed.code, 0, resumed.err);
  assert.deepEqual(await rows(dir), ref.rows);
});
