import assert from "node:assert/strict";
import {
  ACDC_ED_ES_RATIO,
  annotatedMaps,
  applyLabeling,
  groupWeights,
  hiddenClasses,
  labelingName,
  LABELINGS,
  labelingSets,
  makeTarget,
  targetChannels,
  targetOptions,
  withRemovedLabels,
} from "./labeling.ts";
import {
  FIRST_SPECIAL_LABEL,
  IGNORE_LABEL,
  labelSetNumber,
  labelSetValue,
} from "../core/voxel_labels.ts";
import { Rng } from "../core/rng.ts";
import { ACDC, BRATS } from "./datasets.ts";
import type { LoadedCase } from "./types.ts";

function acdcCase(group: string): LoadedCase {
  return {
    dataset: "acdc",
    id: `p_${group}`,
    group,
    label: new Uint8Array([0, 1, 2, 3, 2, 2]),
    classes: ["background", "RV", "MYO", "LV"],
    labeling: "full",
  } as unknown as LoadedCase;
}

function bratsCase(group: string): LoadedCase {
  return {
    dataset: "brats",
    id: `b_${group}`,
    group,
    label: new Uint8Array([0, 1, 1, 0]),
    classes: ["background", "tumour"],
    labeling: "full",
  } as unknown as LoadedCase;
}

Deno.test("ACDC partial labeling turns MYO into background at ES only, leaving the original intact", () => {
  const es = acdcCase("ES");
  const train = applyLabeling(es, LABELINGS.acdcPartial);
  assert.deepEqual(Array.from(train.label), [0, 1, 0, 3, 0, 0]);
  assert.equal(train.labeling, "removeClass(ES: 2→0)");
  // Evaluation keeps the full labels: the loaded case is not modified.
  assert.deepEqual(Array.from(es.label), [0, 1, 2, 3, 2, 2]);
  const ed = acdcCase("ED");
  assert.equal(applyLabeling(ed, LABELINGS.acdcPartial), ed);
});

Deno.test("BRATS partial labeling empties LGG maps and leaves HGG as is", () => {
  const lgg = applyLabeling(bratsCase("LGG"), LABELINGS.bratsPartial);
  assert.deepEqual(Array.from(lgg.label), [0, 0, 0, 0]);
  assert.equal(lgg.labeling, "emptyGroup(LGG)");
  const hgg = bratsCase("HGG");
  assert.equal(applyLabeling(hgg, LABELINGS.bratsPartial), hgg);
  assert.equal(applyLabeling(hgg, LABELINGS.full), hgg);
  assert.equal(labelingName(LABELINGS.full), "full");
});

Deno.test("applyLabeling rejects a class outside the case's classes", () => {
  assert.throws(
    () => applyLabeling(acdcCase("ES"), { kind: "removeClass", group: "ES", classIndex: 7 }),
    /has classes 0\.\.3/,
  );
});

Deno.test("annotatedMaps flags the maps a labeling removed", () => {
  assert.deepEqual(annotatedMaps(acdcCase("ES"), LABELINGS.acdcPartial), [true, true, false, true]);
  assert.deepEqual(annotatedMaps(acdcCase("ED"), LABELINGS.acdcPartial), [true, true, true, true]);
  assert.deepEqual(annotatedMaps(bratsCase("LGG"), LABELINGS.bratsPartial), [false]);
  assert.deepEqual(annotatedMaps(bratsCase("HGG"), LABELINGS.bratsPartial), [true]);
});

Deno.test("makeTarget: BRATS binary whole tumour, ACDC one-hot over 4 maps", () => {
  assert.deepEqual(Array.from(makeTarget(new Uint8Array([0, 1, 1, 0]), { encoding: "binary" })), [
    0,
    1,
    1,
    0,
  ]);
  const t = makeTarget(new Uint8Array([0, 3, 2, 1]), { encoding: "oneHot", classes: 4 });
  assert.deepEqual(Array.from(t), [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0]);
  assert.throws(
    () => makeTarget(new Uint8Array([4]), { encoding: "oneHot", classes: 4 }),
    RangeError,
  );
});

Deno.test("groupWeights samples ED:ES in 3:1 whatever the group sizes", () => {
  const groups = ["ED", "ES", "ED", "ES", "ED", "ES"];
  const w = groupWeights(groups, ACDC_ED_ES_RATIO);
  // each ED case 0.75/3 = 0.25, each ES case 0.25/3
  assert.deepEqual(
    w.map((x) => +x.toFixed(12)),
    [0.25, 1 / 12, 0.25, 1 / 12, 0.25, 1 / 12].map((x) => +x.toFixed(12)),
  );
  assert.ok(Math.abs(w.reduce((a, b) => a + b) - 1) < 1e-12);
  assert.throws(() => groupWeights(["HGG"], ACDC_ED_ES_RATIO), RangeError);
});

Deno.test("removedLabels: label sets and ignored voxels where the removed class may hide", () => {
  const es = acdcCase("ES");
  const sets = withRemovedLabels(LABELINGS.acdcPartial, "labelSet");
  const ignore = withRemovedLabels(LABELINGS.acdcPartial, "ignore");
  assert.deepEqual(hiddenClasses(es, LABELINGS.acdcPartial), [0, 2]);
  assert.equal(hiddenClasses(acdcCase("ED"), LABELINGS.acdcPartial), undefined);
  assert.deepEqual(labelingSets(sets, ACDC), [[0, 2]]);
  // Background and MYO voxels at ES become set 1 (value 254) or ignored (255); RV, LV stay.
  const s = applyLabeling(es, sets);
  assert.deepEqual(Array.from(s.label), [254, 1, 254, 3, 254, 254]);
  assert.equal(labelSetNumber(s.label[0]), 1);
  assert.equal(s.labeling, "removeClass(ES: 2→0)[labelSet]");
  assert.deepEqual(Array.from(applyLabeling(es, ignore).label), [255, 1, 255, 3, 255, 255]);
  assert.deepEqual(Array.from(es.label), [0, 1, 2, 3, 2, 2], "the loaded case is untouched");
  // Untouched cases and the relabel default are as before.
  const ed = acdcCase("ED");
  assert.equal(applyLabeling(ed, sets), ed);
  assert.deepEqual(
    Array.from(applyLabeling(es, withRemovedLabels(LABELINGS.acdcPartial, "relabel")).label),
    [0, 1, 0, 3, 0, 0],
  );
  // Marks have no leaf label: all-zero target rows.
  const t = makeTarget(s.label, { encoding: "oneHot", classes: 4 });
  assert.deepEqual(Array.from(t), [
    ...[0, 0, 0, 0, 0, 0],
    ...[0, 1, 0, 0, 0, 0],
    ...[0, 0, 0, 0, 0, 0],
    ...[0, 0, 0, 1, 0, 0],
  ]);
  assert.deepEqual(
    Array.from(makeTarget(new Uint8Array([0, 1, 255, 254]), { encoding: "binary" })),
    [0, 1, 0, 0],
  );
  // Binary targets cannot name the background in a set.
  assert.throws(
    () => labelingSets(withRemovedLabels(LABELINGS.bratsPartial, "labelSet"), BRATS),
    /one binary map, which cannot name the background/,
  );
  // annotatedClasses: one set per distinct combination of unannotated classes.
  const merged = {
    kind: "annotatedClasses" as const,
    cases: { a: ["RV"], b: ["RV", "LV"], c: ["LV"], d: ["RV", "MYO", "LV"] },
    removedLabels: "labelSet" as const,
  };
  assert.deepEqual(labelingSets(merged, ACDC), [[0, 1, 2], [0, 2], [0, 2, 3]]);
  const a = { ...acdcCase("ED"), id: "b" };
  assert.deepEqual(hiddenClasses(a, merged), [0, 2]);
  assert.deepEqual(Array.from(applyLabeling(a, merged).label), [253, 1, 253, 3, 253, 253]);
});

Deno.test("makeTarget() encodes regions as overlapping maps; ignored and set-labelled voxels are in none", () => {
  const rng = new Rng(21, 0);
  const marks = [IGNORE_LABEL, labelSetValue(1)];
  const label = Uint8Array.from(
    { length: 500 },
    () => (rng.float() < 0.1 ? marks[rng.int(2)] : rng.int(5)),
  );
  const regions = [[1, 2, 3], [2, 3], [3], [4, 1]];
  const t = makeTarget(label, { encoding: "regions", regions });
  assert.equal(t.length, regions.length * label.length);
  const n = label.length;
  let overlap = 0;
  for (let i = 0; i < n; i++) {
    const row: number[] = regions.map((_, r) => t[r * n + i]);
    if (row.reduce((a, b) => a + b, 0) > 1) overlap++;
    assert.deepEqual(row, regions.map((vs) => (vs.includes(label[i]) ? 1 : 0)), `voxel ${i}`);
    if (label[i] >= FIRST_SPECIAL_LABEL) assert.deepEqual(row, [0, 0, 0, 0]);
  }
  assert.ok(overlap > 50, "nested regions overlap");
  assert.deepEqual(
    targetOptions({ ...ACDC, target: "regions", regions: [{ name: "a", values: [1, 3] }] }),
    { encoding: "regions", regions: [[1, 3]] },
  );
  assert.equal(targetChannels({ encoding: "regions", regions }), 4);
});

Deno.test("labelingSets() refuses a region target: no map names the background", () => {
  const spec = { ...ACDC, target: "regions" as const };
  assert.throws(
    () => labelingSets(LABELINGS.acdcPartial, spec),
    /Cannot use label sets with ACDC: its loss target is one map per region/,
  );
});
