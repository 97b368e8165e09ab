/**
 * `deno task plan` and `run`'s memory check (issue 17): the plan prints one line per job
 * (parameters, peak bytes, GFLOP per step, step and job time, fit); a run whose job needs more
 * than `--memory-limit` (or `DICELAB_MEMORY_LIMIT`) is refused with exit 2 before any job's
 * training starts, naming the job, its bytes and the limit; the run's check and the plan use
 * the same sizes.
 */

import assert from "node:assert/strict";
import { bytesFlag } from "../../lib/pipeline/cli/_args.ts";
import { loadPipeline } from "../../lib/pipeline/define_pipeline.ts";
import { enumerateJobs } from "../../lib/pipeline/jobs.ts";
import { checkJobsFit, planJobs } from "../../lib/pipeline/plan.ts";
import { RunOptionError } from "../../lib/pipeline/errors.ts";
import { effectivePipeline, modelConfig } from "../../lib/pipeline/resolve.ts";
import { planStepMemory } from "../../lib/nn/step_memory.ts";
import { diceLossOptionsOf } from "../../lib/loss/loss_kind.ts";
import { assertFails, cli, present, ROOT } from "../faults/_faults.ts";

const TMP = await Deno.makeTempDir({ prefix: "dicelab-plan-" });
addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));
const TINY = `${ROOT}pipelines/tiny_brats.ts`;

async function jobFolders(dir: string): Promise<string[]> {
  if (!(await present(`${dir}/jobs`))) return [];
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/jobs`)) out.push(e.name);
  return out;
}

Deno.test("run refuses a job larger than --memory-limit before any training, exit 2", async () => {
  const dir = `${TMP}/limit`;
  const r = await cli(["run", TINY, "--quick", "--out", dir, "--memory-limit", "2MB"]);
  assertFails(
    r,
    2,
    /Cannot run job f0-partial-I-b2: it needs [0-9]+ bytes of GPU memory, the limit is 2000000 bytes \(--memory-limit\)/,
  );
  assert.deepEqual(await jobFolders(dir), [], "a job folder was created");
  assert.doesNotMatch(r.out + r.err, /Loaded [0-9]+ cases/, "cases were loaded");
});

Deno.test("run refuses a job larger than DICELAB_MEMORY_LIMIT, naming the variable", async () => {
  const dir = `${TMP}/env`;
  const r = await cli(["run", TINY, "--quick", "--out", dir], {
    env: { DICELAB_MEMORY_LIMIT: "100000" },
  });
  assertFails(
    r,
    2,
    /Cannot run job f0-partial-I-b2: .*limit is 100000 bytes \(DICELAB_MEMORY_LIMIT\)/,
  );
  assert.deepEqual(await jobFolders(dir), []);
});

Deno.test("plan prints one line per job: parameters, peak bytes, GFLOP, times, fit", async () => {
  const r = await cli(["plan", TINY, "--quick"]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split("\n");
  assert.match(lines[0], /^Adapter: .*; calibrated [0-9.]+ GFLOP\/s; memory limit /);
  const jobs = lines.filter((l) => /^f0-/.test(l));
  assert.equal(jobs.length, 2, r.out);
  for (const l of jobs) {
    assert.match(
      l,
      /^f0-partial-(I|BI)-b2 {2}[0-9,]+ params {2}peak [0-9.]+ [MG]B \(static [0-9.]+ [MG]B\) {2}[0-9.]+ GFLOP\/step {2}step ≈ [0-9.]+ (ms|s) {2}job ≈ [0-9.]+ (ms|s|min|h) \([0-9]+ steps\) {2}fits$/,
    );
  }
  const tight = await cli(["plan", TINY, "--quick", "--memory-limit", "1KiB"]);
  assert.equal(tight.code, 0, tight.err);
  assert.match(tight.out, /DOES NOT FIT: it needs [0-9]+ bytes of GPU memory, the limit is 1024/);
  assert.match(tight.out, /2 job\(s\) do not fit: run refuses them/);
});

Deno.test("planJobs sizes a job as the store, the planned step and the validation forward", async () => {
  const { pipeline } = await loadPipeline(TINY);
  const p = effectivePipeline(pipeline, { quick: true, phantom: true });
  const jobs = enumerateJobs(p, { quick: true });
  const limits = { maxStorageBufferBindingSize: 1 << 27, isFallbackAdapter: true };
  const plans = planJobs(p, jobs, limits, () => 7);
  const cfg = modelConfig(p);
  for (const [i, job] of jobs.entries()) {
    const { options } = diceLossOptionsOf(p.experiments[job.experiment].loss);
    const common = {
      batch: job.batchSize,
      patch: p.training.patchSize,
      loss: { ...options, epsilon: 1 },
      limits,
    };
    const train = planStepMemory(cfg, { ...common, mode: "train" });
    const val = planStepMemory(cfg, { ...common, mode: "infer" });
    const expected = train.peakBytes + (p.training.validationFraction > 0 ? val.scratchBytes : 0);
    assert.equal(plans[i].peakBytes, expected);
    assert.ok(plans[i].staticBytes > plans[i].peakBytes);
    assert.equal(plans[i].steps, Math.ceil((p.training.epochs * 7) / job.batchSize));
  }
  const fit = { maxBufferSize: 1 << 30, memoryLimit: plans[0].peakBytes - 1, memorySource: "test" };
  assert.throws(() => checkJobsFit(plans, fit), (e: unknown) => {
    assert.ok(e instanceof RunOptionError);
    assert.match((e as Error).message, new RegExp(`Cannot run job ${plans[0].job}: it needs`));
    return true;
  });
  checkJobsFit(plans, { ...fit, memoryLimit: Math.max(...plans.map((x) => x.peakBytes)) });
});

Deno.test("bytesFlag() reads bytes with decimal and binary units", () => {
  assert.equal(bytesFlag("6e9", "--memory-limit"), 6e9);
  assert.equal(bytesFlag("6GB", "--memory-limit"), 6e9);
  assert.equal(bytesFlag("512MiB", "--memory-limit"), 512 * 2 ** 20);
  assert.equal(bytesFlag(undefined, "--memory-limit"), undefined);
  assert.throws(() => bytesFlag("-1", "--memory-limit"), /Invalid --memory-limit/);
  assert.throws(() => bytesFlag("lots", "--memory-limit"), /Invalid --memory-limit/);
});

Deno.test("planJobs sizes the voxel mask and label-set index a job's loss is bound with", async () => {
  const { pipeline } = await loadPipeline(`${ROOT}pipelines/acdc_missing_methods.ts`);
  const p = effectivePipeline(pipeline, { phantom: true });
  const limits = { maxStorageBufferBindingSize: 1 << 27, isFallbackAdapter: true };
  const jobs = enumerateJobs(p, { folds: 1 });
  const plans = new Map(planJobs(p, jobs, limits).map((x) => [x.job, x]));
  const peak = (e: string) => plans.get(`f0-partial-${e}-b2`)!.peakBytes;
  const [B, [d, h, w]] = [2, p.training.patchSize];
  // The ignore mask (u32 per voxel, alive the whole step) comes on top of I's step.
  assert.ok(peak("ignore") - peak("I") >= B * d * h * w * 4, `${peak("ignore")} vs ${peak("I")}`);
  // The label-set marginal reads the index too; label-set leaf needs neither (zero target rows).
  assert.ok(peak("setMarginal") > peak("setLeaf"), `${peak("setMarginal")} vs ${peak("setLeaf")}`);
});
