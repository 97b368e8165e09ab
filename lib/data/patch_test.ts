import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import { samplePatch } from "./patch.ts";
import type { Vec3 } from "./types.ts";

function source(shape: Vec3, fg: Vec3[] = [], channels = 1) {
  const [D, H, W] = shape;
  const n = D * H * W;
  const image = new Float32Array(channels * n).map((_, i) => i);
  const label = new Uint8Array(n);
  for (const [d, h, w] of fg) label[(d * H + h) * W + w] = 1;
  return { image, label, channels, shape, padValue: [-5] };
}

Deno.test("samplePatch centres a foreground patch on the foreground voxel (hand-computed)", () => {
  const src = source([4, 6, 8], [[2, 3, 5]]);
  const p = samplePatch(src, [2, 4, 4], new Rng(1), { foregroundProbability: 1 });
  // origin = fg − floor(size/2) = (1, 1, 3), inside the valid range [0, n − p]
  assert.deepEqual(p.origin, [1, 1, 3]);
  assert.equal(p.foreground, true);
  assert.equal(p.label[(1 * 4 + 2) * 4 + 2], 1);
  assert.equal(p.image[0], (1 * 6 + 1) * 8 + 3);
});

Deno.test("samplePatch clamps foreground patches at the border", () => {
  const p = samplePatch(source([4, 6, 8], [[0, 0, 7]]), [2, 4, 4], new Rng(2), {
    foregroundProbability: 1,
  });
  assert.deepEqual(p.origin, [0, 0, 4]);
});

Deno.test("samplePatch pads a volume smaller than the patch with the case's pad value", () => {
  for (let seed = 0; seed < 20; seed++) {
    const p = samplePatch(source([1, 2, 2]), [3, 4, 4], new Rng(seed), {
      foregroundProbability: 0,
    });
    p.origin.forEach((o, a) => assert.ok(o <= 0 && o >= [1, 2, 2][a] - [3, 4, 4][a]));
    const inside = Array.from(p.image).filter((v) => v !== -5).sort();
    assert.deepEqual(inside, [0, 1, 2, 3]);
    assert.equal(p.image.length, 48);
  }
});

Deno.test("samplePatch falls back to a random patch when there is no foreground", () => {
  const p = samplePatch(source([4, 6, 8]), [2, 4, 4], new Rng(3), { foregroundProbability: 1 });
  assert.equal(p.foreground, false);
  p.origin.forEach((o, a) => assert.ok(o >= 0 && o <= [2, 2, 4][a]));
});

Deno.test("samplePatch is deterministic in the rng and honours the foreground probability", () => {
  const src = source([8, 8, 8], [[1, 1, 1], [6, 6, 6]]);
  const a = samplePatch(src, [4, 4, 4], new Rng(9, 4));
  const b = samplePatch(src, [4, 4, 4], new Rng(9, 4));
  assert.deepEqual(a, b);
  let fg = 0;
  for (let i = 0; i < 400; i++) {
    if (samplePatch(src, [4, 4, 4], new Rng(5, i), { foregroundProbability: 0.3 }).foreground) fg++;
  }
  assert.ok(Math.abs(fg / 400 - 0.3) < 0.08, `${fg}`);
});

Deno.test("samplePatch restricts foreground to the given classes", () => {
  const src = source([4, 4, 4], [[0, 0, 0]]);
  src.label[(3 * 4 + 3) * 4 + 3] = 2;
  for (let s = 0; s < 5; s++) {
    const p = samplePatch(src, [2, 2, 2], new Rng(s), {
      foregroundProbability: 1,
      foregroundClasses: [2],
    });
    assert.deepEqual(p.origin, [2, 2, 2]);
  }
});

Deno.test("samplePatch rejects bad sizes and probabilities", () => {
  assert.throws(() => samplePatch(source([2, 2, 2]), [0, 2, 2], new Rng(1)), RangeError);
  assert.throws(
    () => samplePatch(source([2, 2, 2]), [2, 2, 2], new Rng(1), { foregroundProbability: 2 }),
    RangeError,
  );
});
