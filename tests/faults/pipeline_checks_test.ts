/**
 * Settings that refer to the dataset, and CLI values, are checked before any work: exit 2, the
 * field path or flag and the values the dataset has, and no run folder left behind.
 */

import assert from "node:assert/strict";
import { assertFails, cli, present, ROOT, variant } from "./_faults.ts";
import { validatePipeline } from "../../lib/pipeline/define_pipeline.ts";
import { pipelineIssues } from "../../lib/pipeline/preflight.ts";
import { modelConfig, pipelineDataset } from "../../lib/pipeline/resolve.ts";
import { targetOptions } from "../../lib/data/labeling.ts";
import type { Pipeline } from "../../lib/pipeline/pipeline_types.ts";
import regionsInput from "../e2e/_regions_pipeline.ts";

const TMP = await Deno.makeTempDir({ prefix: "dicelab-faults-" });
addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));

/** `run` of a tiny ACDC variant into a fresh --out that must not appear. */
async function runVariant(body: string, ...flags: string[]) {
  const file = await variant(TMP, "tiny_acdc", body);
  const out = `${TMP}/run-${crypto.randomUUID().slice(0, 8)}`;
  const r = await cli(["run", file, "--quick", "--out", out, ...flags]);
  assert.equal(await present(out), false, `a run folder was left behind: ${out}`);
  return r;
}

Deno.test("a labeling naming a group the dataset does not have is an error", async () => {
  const r = await runVariant(`p.labelings.partial.group = "XYZ";`);
  assertFails(
    r,
    2,
    /labelings\.partial\.group: unknown group "XYZ" \(the ACDC dataset has "ED", "ES"\)/,
  );
});

Deno.test("evaluation target groups must be the dataset's", async () => {
  const r = await runVariant(`p.evaluation.target.groups = ["ED", "QQ"];`);
  assertFails(r, 2, /evaluation\.target\.groups\.1: unknown group "QQ"/);
});

Deno.test("the target class index must be its class's label value", async () => {
  const r = await runVariant(`p.evaluation.target.classIndex = 9;`);
  assertFails(r, 2, /evaluation\.target\.classIndex: 9, but "MYO" is label value 2/);
});

Deno.test("model.inChannels must match the dataset's channels", async () => {
  const r = await runVariant(`p.model.inChannels = 4;`);
  assertFails(r, 2, /model\.inChannels: 4, but the ACDC dataset has 1 input channel\(s\) \(cine\)/);
});

Deno.test("evaluation.classes must be the dataset's classes", async () => {
  const r = await runVariant(`p.evaluation.classes = ["RV"];`);
  assertFails(
    r,
    2,
    /evaluation\.classes: "RV", but the ACDC dataset's label values 1\.\.3 are "RV", "MYO", "LV"/,
  );
});

Deno.test("a patch size the pooling cannot divide is an error with its field path", async () => {
  const r = await runVariant(`p.dataset.phantom.training.patchSize = [4, 15, 16];`);
  assertFails(
    r,
    2,
    /dataset\.phantom\.training\.patchSize: \[4, 15, 16\] is not divisible by the network's pooling/,
  );
});

Deno.test("--seed out of range is a usage error before any work", async () => {
  for (const seed of ["1e20", "-5"]) {
    const r = await runVariant("", `--seed=${seed}`);
    assertFails(
      r,
      2,
      new RegExp(`Invalid --seed: expected an integer in 0\\.\\.4294967295, got "${seed}"`),
    );
  }
});

Deno.test("--quick --folds beyond the quick preset's folds is an error", async () => {
  const r = await runVariant("", "--folds", "2");
  assertFails(
    r,
    2,
    /Invalid --folds: 2 with --quick \(the quick preset runs 1 fold\(s\): quick\.folds \[0\]\)/,
  );
});

Deno.test("--workers 0 is a usage error", async () => {
  const r = await runVariant("", "--workers", "0");
  assertFails(r, 2, /Invalid --workers: expected a positive integer, got "0"/);
});

Deno.test("--folds 0, --folds 9 and --only NOPE leave no run folder", async () => {
  assertFails(await runVariant("", "--folds", "0"), 2, /Invalid --folds: 0/);
  assertFails(
    await runVariant("", "--folds", "9"),
    2,
    /Invalid --folds: 9 \(the pipeline has 2 folds\)/,
  );
  assertFails(
    await runVariant("", "--only", "NOPE"),
    2,
    /Invalid --only: unknown experiment "NOPE"/,
  );
});

Deno.test("--out on an existing file is a clear error", async () => {
  const file = `${TMP}/a-file`;
  await Deno.writeTextFile(file, "keep me\n");
  const r = await cli(["run", `${ROOT}pipelines/tiny_acdc.ts`, "--quick", "--out", file]);
  assertFails(r, 2, new RegExp(`Invalid --out: ${file} exists and is not a folder`));
  assert.equal(await Deno.readTextFile(file), "keep me\n");
});

Deno.test("a pipeline module that fails to load exits 2", async () => {
  const file = `${TMP}/throws.ts`;
  await Deno.writeTextFile(file, `throw new Error("boom at import");\n`);
  assertFails(await cli(["run", file]), 2, /Cannot load pipeline .*throws\.ts: .*boom at import/);
  const none = `${TMP}/nodefault.ts`;
  await Deno.writeTextFile(none, `export const x = 1;\n`);
  assertFails(await cli(["run", none]), 2, /has no default export/);
});

Deno.test("reproduce refuses a reference made from another pipeline before training", async () => {
  const out = `${TMP}/repro`;
  const r = await cli([
    "reproduce",
    `${ROOT}pipelines/tiny_acdc.ts`,
    "--quick",
    "--expect",
    `${ROOT}results/brats-check.json`,
    "--out",
    out,
  ]);
  assertFails(
    r,
    2,
    /does not fit .*tiny_acdc\.ts: it was made from pipeline "brats-check", not "tiny-acdc"/,
  );
  assert.equal(await present(out), false);
});

/** The region test pipeline, validated, with a BraTS-like region spec filled in. */
function regionPipeline(edit: (p: Pipeline) => void = () => {}): Pipeline {
  const p = validatePipeline(structuredClone(regionsInput), "regions") as Pipeline;
  p.dataset.spec = {
    kind: "nnunet",
    title: "Lesions",
    channels: ["MR"],
    labelValues: [0, 1, 2, 3],
    classes: ["background", "label 1", "label 2", "label 3"],
    classOf: { 0: 0, 1: 1, 2: 2, 3: 3 },
    target: "regions",
    regions: [
      { name: "lesion", values: [1, 2, 3] },
      { name: "core", values: [2, 3] },
      { name: "centre", values: [3] },
    ],
    regionsClassOrder: [1, 2, 3],
    intensityMask: "all",
    groups: ["siteA", "siteB"],
    displayChannel: 0,
  };
  edit(p);
  return p;
}

Deno.test("a region-based dataset: three sigmoid maps, evaluation by region names, a softmax preset switched", () => {
  assert.deepEqual(pipelineIssues(regionPipeline()), []);
  const acdc = regionPipeline((p) => {
    p.model = { preset: "acdc" };
  });
  const cfg = modelConfig(acdc);
  assert.deepEqual([cfg.head, cfg.outChannels], ["sigmoid", 3]);
  assert.deepEqual(targetOptions(pipelineDataset(acdc)), {
    encoding: "regions",
    regions: [[1, 2, 3], [2, 3], [3]],
  });
});

Deno.test("a region-based dataset refuses what needs classes or a background map, by field path", () => {
  const issues = pipelineIssues(regionPipeline((p) => {
    p.model.head = "softmax";
    p.labelings.merged = { kind: "annotatedClasses", cases: { a: ["label 1"] } };
    p.labelings.es = { kind: "removeClass", group: "siteA", classIndex: 2, into: 0 };
    p.experiments.M = {
      label: "M",
      loss: { kind: "marginalDice", phi: "I", epsilon: 1e-7, background: 0 },
    };
    p.experiments.I.removedLabels = "labelSet";
    p.evaluation.classes = ["label 1", "label 2", "label 3"];
    p.evaluation.target = { className: "core", classIndex: 3, groups: ["siteA", "siteB"] };
  }));
  const at = (path: string) => issues.find((i) => i.path === path)?.message ?? "";
  assert.match(at("model.head"), /"softmax", but the Lesions dataset is region-based/);
  assert.match(at("labelings.merged.kind"), /"annotatedClasses" names classes, but .*"emptyGroup"/);
  assert.match(at("labelings.es.kind"), /"removeClass" names classes/);
  assert.match(at("experiments.M.loss.kind"), /"marginalDice" needs a background map/);
  assert.match(at("experiments.I.removedLabels"), /"labelSet" needs one-hot targets/);
  assert.match(
    at("evaluation.classes"),
    /the Lesions dataset's regions 1\.\.3 are "lesion", "core", "centre"/,
  );
  assert.match(at("evaluation.target.className"), /"core" is not one of evaluation\.classes/);
  const idx = pipelineIssues(regionPipeline((p) => {
    p.evaluation.target.classIndex = 3;
  }));
  assert.deepEqual(idx.map((i) => i.path), ["evaluation.target.classIndex"]);
  assert.match(idx[0].message, /3, but "core" is region 2/);
});
