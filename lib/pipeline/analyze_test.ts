import assert from "node:assert/strict";
import { applyLabeling, LABELINGS, makeTarget, withRemovedLabels } from "../data/labeling.ts";
import { labelTarget } from "./analyze.ts";
import type { LoadedCase } from "../data/types.ts";

const CLASSES = ["background", "RV", "MYO", "LV"];

Deno.test("labelTarget applies a labeling to a target exactly as the patch builder does to labels", () => {
  const label = new Uint8Array([0, 1, 2, 3, 2, 0, 3, 2, 1]);
  const full = makeTarget(label, { encoding: "oneHot", classes: 4 });
  for (const group of ["ED", "ES"]) {
    const c = {
      dataset: "acdc",
      id: "p1",
      group,
      label,
      classes: CLASSES,
    } as unknown as LoadedCase;
    for (const as of ["relabel", "labelSet", "ignore"] as const) {
      const labeling = withRemovedLabels(LABELINGS.acdcPartial, as);
      const want = makeTarget(applyLabeling(c, labeling).label, { encoding: "oneHot", classes: 4 });
      assert.deepEqual(labelTarget(full, 4, c, labeling), want, `${group} ${as}`);
    }
  }
});
