import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import { regionLabels } from "./inference.ts";

/** nnU-Net's rule written out per voxel: the last region above threshold, in order, wins. */
function expected(probs: Float32Array, order: number[], threshold: number): number[] {
  const n = probs.length / order.length;
  return Array.from({ length: n }, (_, i) => {
    let v = 0;
    order.forEach((value, r) => {
      if (probs[r * n + i] > threshold) v = value;
    });
    return v;
  });
}

Deno.test("regionLabels() writes each region's value in regions_class_order, later regions overwriting", () => {
  const rng = new Rng(3, 1);
  const n = 400;
  const probs = Float32Array.from({ length: 3 * n }, () => rng.float());
  const got = Array.from(regionLabels(probs, [1, 2, 3]));
  assert.deepEqual(got, expected(probs, [1, 2, 3], 0.5));
  // The order matters: the same maps written in reverse give the outer value where they overlap.
  const reversed = Array.from(regionLabels(probs, [3, 2, 1]));
  assert.deepEqual(reversed, expected(probs, [3, 2, 1], 0.5));
  const both = got.filter((v, i) => v !== reversed[i]).length;
  assert.ok(both > 50, `${both} voxels change with the order`);
  // An inner region above threshold writes its value even where the outer one is not.
  const one = regionLabels(new Float32Array([0.2, 0.9, 0.7, 0.1]), [1, 3]);
  assert.deepEqual(Array.from(one), [3, 1]);
  assert.deepEqual(
    Array.from(regionLabels(probs, [1, 2, 3], { threshold: 0.8 })),
    expected(probs, [1, 2, 3], 0.8),
  );
  assert.throws(() => regionLabels(new Float32Array(5), [1, 2]), /5 probabilities for 2 region/);
  assert.throws(() => regionLabels(new Float32Array(2), [1, 300]), /region value 300/);
});
