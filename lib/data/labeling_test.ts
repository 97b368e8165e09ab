import assert from "node:assert/strict";
import {
  ACDC_ED_ES_RATIO,
  annotatedMaps,
  applyLabeling,
  groupWeights,
  labelingName,
  LABELINGS,
  makeTarget,
} from "./labeling.ts";
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
