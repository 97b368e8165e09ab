import assert from "node:assert/strict";
import {
  argmaxLabels,
  caseMetrics,
  diceScore,
  resolveEmptyDice,
  thresholdLabels,
  voxelVolumeMl,
} from "./metrics.ts";
import { caseResults } from "./case_result.ts";
import { Rng } from "../core/rng.ts";

Deno.test("diceScore() matches hand-computed overlaps, including empty masks", () => {
  // |P| = 3, |T| = 2, |P∩T| = 1 → 2/5
  assert.equal(diceScore([1, 1, 1, 0, 0], [1, 0, 0, 1, 0]), 0.4);
  assert.equal(diceScore([1, 0, 1], [1, 0, 1]), 1);
  // Empty prediction of a non-empty truth (the paper's LGG case under empty-map learning) → 0
  assert.equal(diceScore([0, 0, 0], [0, 1, 1]), 0);
  // Non-empty prediction of an empty truth → 0
  assert.equal(diceScore([0, 1, 0], [0, 0, 0]), 0);
  // Both empty → the convention (1 by default, configurable)
  assert.equal(diceScore([0, 0], [0, 0]), 1);
  assert.ok(Number.isNaN(diceScore([0, 0], [0, 0], NaN)));
  assert.throws(() => diceScore([0], [0, 1]), TypeError);
});

Deno.test("caseMetrics() gives DSC and volumes per class on a hand-computed 3-class map", () => {
  // 2 × 2 × 3 map, spacing 1.5 × 2 × 2.5 mm → 7.5 mm³ = 0.0075 ml per voxel
  const truth = new Uint8Array([0, 1, 1, 2, 2, 2, 3, 0, 0, 0, 0, 0]);
  const pred = new Uint8Array([0, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1]);
  const m = caseMetrics(pred, truth, { spacing: [1.5, 2, 2.5], classes: ["LV", "MYO", "RV"] });
  const v = 0.0075;
  // LV: |P| = 2 (i 1, 11), |T| = 2, ∩ = 1 → 0.5; ΔV = 0
  assert.equal(m[0].className, "LV");
  assert.equal(m[0].dsc, 0.5);
  assert.equal(m[0].deltaVolumeMl, 0);
  // MYO: |P| = 3 (i 2, 3, 4), |T| = 3 (i 3, 4, 5), ∩ = 2 → 4/6
  assert.equal(m[1].dsc, 4 / 6);
  assert.equal(m[1].predVoxels, 3);
  assert.ok(Math.abs(m[1].trueVolumeMl - 3 * v) < 1e-15);
  // RV: predicted empty, truth 1 voxel → DSC 0, ΔV = −1 voxel
  assert.equal(m[2].dsc, 0);
  assert.equal(m[2].predVolumeMl, 0);
  assert.ok(Math.abs(m[2].deltaVolumeMl + v) < 1e-15);
  // A class absent from both maps → empty-vs-empty convention
  const [absent] = caseMetrics(pred, truth, { spacing: [1, 1, 1], classes: { 7: "X" } });
  assert.deepEqual([absent.dsc, absent.predVolumeMl, absent.trueVolumeMl], [1, 0, 0]);
  const [nan] = caseMetrics(pred, truth, {
    spacing: [1, 1, 1],
    classes: { 7: "X" },
    emptyDice: NaN,
  });
  assert.ok(Number.isNaN(nan.dsc));
});

Deno.test("caseMetrics() leaves voxels with the ignore label (255) out of every count", () => {
  const truth = new Uint8Array([0, 1, 1, 255, 255, 2, 255]);
  const pred = new Uint8Array([0, 1, 0, 1, 2, 2, 1]);
  const [a, b] = caseMetrics(pred, truth, { spacing: [1, 1, 1], classes: ["A", "B"] });
  // As if the three ignored voxels were not there: A |P| 1, |T| 2, ∩ 1; B 1, 1, 1.
  assert.deepEqual([a.predVoxels, a.trueVoxels, a.intersectionVoxels, a.dsc], [1, 2, 1, 2 / 3]);
  assert.deepEqual([b.predVoxels, b.trueVoxels, b.dsc], [1, 1, 1]);
  const kept = [0, 1, 2, 5];
  const same = caseMetrics(
    kept.map((i) => pred[i]),
    kept.map((i) => truth[i]),
    { spacing: [1, 1, 1], classes: ["A", "B"] },
  );
  assert.deepEqual(same, [a, b]);
});

Deno.test("caseMetrics() validates its inputs", () => {
  assert.throws(() => caseMetrics([0], [0, 0], { spacing: [1, 1, 1], classes: ["a"] }), TypeError);
  assert.throws(() => caseMetrics([0], [0], { spacing: [1, 0, 1], classes: ["a"] }), RangeError);
  assert.throws(
    () => caseMetrics([0], [0], { spacing: [1, 1, 1], classes: { 300: "a" } }),
    RangeError,
  );
  assert.equal(voxelVolumeMl([1.5625, 1.5625, 2.5]), 0.006103515625);
});

Deno.test("argmaxLabels() and thresholdLabels() produce hard labels", () => {
  // 3 channels × 3 voxels; voxel 2 ties between channels 1 and 2 → lowest index
  const scores = new Float32Array([0.6, 0.1, 0.2, 0.3, 0.8, 0.4, 0.1, 0.1, 0.4]);
  assert.deepEqual([...argmaxLabels(scores, 3)], [0, 1, 1]);
  assert.throws(() => argmaxLabels(scores, 2), TypeError);
  assert.deepEqual([...thresholdLabels([0.49, 0.5, 1], { label: 2 })], [0, 2, 2]);
  assert.deepEqual([...thresholdLabels([0.2, 0.3], { threshold: 0.25 })], [0, 1]);
});

Deno.test("caseResults() builds one result row per class", () => {
  const job = { experiment: "BI", labeling: "partial", batchSize: 4, fold: 2 };
  const rows = caseResults(job, { caseId: "p1_ES", subject: "p1", group: "ES" }, [
    ...caseMetrics([2, 2, 0], [2, 0, 0], { spacing: [1, 1, 1], classes: { 2: "MYO" } }),
  ]);
  assert.deepEqual(rows, [{
    job,
    caseId: "p1_ES",
    subject: "p1",
    group: "ES",
    className: "MYO",
    dsc: 2 / 3,
    predVolumeMl: 0.002,
    trueVolumeMl: 0.001,
    deltaVolumeMl: 0.001,
  }]);
});

Deno.test('emptyDice "nan": diceScore and caseMetrics give NaN for empty vs empty, caseResults stores null', () => {
  assert.ok(Number.isNaN(diceScore([0, 0], [0, 0], "nan")));
  assert.equal(diceScore([1, 0], [1, 0], "nan"), 1); // only the empty-vs-empty case changes
  assert.equal(diceScore([0, 1], [0, 0], "nan"), 0);
  assert.equal(resolveEmptyDice(1), 1);
  assert.throws(() => resolveEmptyDice("NaN" as "nan"), {
    name: "RangeError",
    message: /emptyDice/,
  });
  const metrics = caseMetrics([1, 1, 0], [1, 0, 0], {
    spacing: [1, 1, 1],
    classes: { 1: "A", 2: "B" },
    emptyDice: "nan",
  });
  assert.equal(metrics[0].dsc, 2 / 3);
  assert.ok(Number.isNaN(metrics[1].dsc));
  const rows = caseResults(
    { experiment: "I", labeling: "full", batchSize: 1, fold: 0 },
    { caseId: "c", subject: "c", group: "g" },
    metrics,
  );
  assert.deepEqual(rows.map((r) => r.dsc), [2 / 3, null]);
  // The serialized form: null, which JSON can hold (NaN would also print as null, silently).
  assert.equal(JSON.parse(JSON.stringify(rows))[1].dsc, null);
});

Deno.test("caseMetrics() with regions: DSC and volumes of the region masks (label ∈ values), ignored voxels left out", () => {
  const rng = new Rng(9, 2);
  const n = 2000;
  const truth = Uint8Array.from({ length: n }, () => (rng.float() < 0.05 ? 255 : rng.int(4)));
  const pred = Uint8Array.from(truth, (t) => (rng.float() < 0.3 ? rng.int(4) : t === 255 ? 0 : t));
  const regions = [[1, 2, 3], [2, 3], [3]];
  const m = caseMetrics(pred, truth, {
    spacing: [2, 1, 1.5],
    classes: ["whole", "core", "enhancing"],
    regions,
  });
  regions.forEach((values, r) => {
    const keep = Array.from(truth, (t) => t !== 255);
    const P = Array.from(pred, (v, i): number => (keep[i] && values.includes(v) ? 1 : 0));
    const T = Array.from(truth, (v, i): number => (keep[i] && values.includes(v) ? 1 : 0));
    const p = P.reduce((a, b) => a + b, 0), t = T.reduce((a, b) => a + b, 0);
    assert.equal(m[r].className, ["whole", "core", "enhancing"][r]);
    assert.equal(m[r].classIndex, r + 1);
    assert.equal(m[r].dsc, diceScore(P, T));
    assert.deepEqual([m[r].predVoxels, m[r].trueVoxels], [p, t]);
    assert.ok(Math.abs(m[r].deltaVolumeMl - (p - t) * 0.003) < 1e-9);
  });
  assert.ok(m[0].trueVoxels > m[1].trueVoxels && m[1].trueVoxels > m[2].trueVoxels);
  assert.throws(
    () => caseMetrics(pred, truth, { spacing: [1, 1, 1], classes: ["a"], regions }),
    /3 region\(s\) need as many names/,
  );
});
