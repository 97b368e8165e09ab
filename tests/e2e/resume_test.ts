/**
 * Kill a training run (SIGKILL, a real separate process) after a checkpoint, resume it, and
 * compare the final weights bit for bit with an uninterrupted run of the same seed.
 */

import assert from "node:assert/strict";
import { loadCheckpoint } from "../../lib/nn/checkpoint.ts";
import { gpuTest } from "../_helpers/gpu.ts";
import { assertSameTensors } from "../_helpers/tiny_variant.ts";

const PIPELINE = "tests/e2e/_resume_pipeline.ts";
const JOB = "f0-partial-BI-b2";

function cli(out: string, resume = false): Deno.ChildProcess {
  const args = [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys=osRelease",
    "cli.ts",
    "run",
    PIPELINE,
    "--quick",
    "--out",
    out,
    ...(resume ? ["--resume"] : []),
  ];
  return new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" }).spawn();
}

async function finish(p: Deno.ChildProcess): Promise<void> {
  const { code, stdout, stderr } = await p.output();
  const dec = new TextDecoder();
  assert.equal(code, 0, `cli failed:\n${dec.decode(stdout)}\n${dec.decode(stderr)}`);
}

async function lines(path: string): Promise<number> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim()).length;
  } catch {
    return 0;
  }
}

gpuTest("a run killed after a checkpoint resumes to bit-identical final weights", async () => {
  const root = await Deno.makeTempDir({ prefix: "dicelab-resume-" });
  try {
    // Uninterrupted reference run.
    await finish(cli(`${root}/a`));
    // Run B: killed mid-run, once train.jsonl (flushed at checkpoints and epoch ends) shows 8
    // steps, so at least the step-4 checkpoint exists.
    const b = `${root}/b`;
    const child = cli(b);
    const log = `${b}/jobs/${JOB}/train.jsonl`;
    const deadline = Date.now() + 300_000;
    while ((await lines(log)) < 8) {
      if (Date.now() > deadline) throw new Error("the run never reached step 8");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    await assert.rejects(() => Deno.stat(`${b}/jobs/${JOB}/result.json`), "killed before the end");
    const ckpt = await loadCheckpoint(`${b}/jobs/${JOB}/checkpoint.ckpt`);
    const at = ckpt.meta.step as number;
    assert.ok(at >= 4 && at % 4 === 0, `checkpoint at step ${at}`);
    // Resume and finish.
    await finish(cli(b, true));
    const wa = await loadCheckpoint(`${root}/a/jobs/${JOB}/weights.ckpt`);
    const wb = await loadCheckpoint(`${b}/jobs/${JOB}/weights.ckpt`);
    assertSameTensors(wb.tensors, wa.tensors, "resumed vs uninterrupted");
    // And the evaluation agrees exactly too.
    const ra = JSON.parse(await Deno.readTextFile(`${root}/a/jobs/${JOB}/result.json`)).rows;
    const rb = JSON.parse(await Deno.readTextFile(`${b}/jobs/${JOB}/result.json`)).rows;
    assert.deepEqual(rb, ra);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
