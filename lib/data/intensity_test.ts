import assert from "node:assert/strict";
import { assertClose } from "../../tests/_helpers/assert_close.ts";
import { nonzeroMask, normalizeIntensities, percentile } from "./intensity.ts";

Deno.test("percentile interpolates linearly between order statistics (numpy default)", () => {
  const v = [1, 2, 3, 4, 5];
  assert.equal(percentile(v, 0), 1);
  assert.equal(percentile(v, 100), 5);
  assert.equal(percentile(v, 50), 3);
  assertClose(percentile(v, 10), 1.4); // position 0.4
  assertClose(percentile(v, 99.5), 4.98); // position 3.98
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile(v, 101), RangeError);
});

Deno.test("normalizeIntensities z-scores with the population σ", () => {
  const x = new Float32Array([1, 2, 3, 4]);
  const [s] = normalizeIntensities(x, { clipPercentiles: null });
  // μ = 2.5, σ = √1.25
  const sd = Math.sqrt(1.25);
  assertClose(x, [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd]);
  assertClose(s.mean, 2.5);
  assertClose(s.std, sd);
  assertClose(s.padValue, -1.5 / sd);
});

Deno.test("normalizeIntensities clips to percentiles before z-scoring", () => {
  const x = new Float32Array(101).map((_, i) => i); // 0..100: p10 = 10, p90 = 90
  const [s] = normalizeIntensities(x, { clipPercentiles: [10, 90], zscore: false });
  assert.equal(s.lo, 10);
  assert.equal(s.hi, 90);
  assert.equal(x[0], 10);
  assert.equal(x[100], 90);
  assert.equal(x[50], 50);
  assert.equal(s.padValue, 10);
});

Deno.test("normalizeIntensities uses only masked voxels and zeroes the rest", () => {
  const x = new Float32Array([0, 2, 4, 0, /* channel 1 */ 5, 5, 5, 5]);
  const mask = nonzeroMask(x, 2);
  assert.deepEqual(Array.from(mask), [1, 1, 1, 1]);
  const m = new Uint8Array([0, 1, 1, 0]);
  const stats = normalizeIntensities(x, { channels: 2, clipPercentiles: null, mask: m });
  // channel 0 over {2, 4}: μ = 3, σ = 1; channel 1 constant: σ = 0 → centred only
  assert.deepEqual(Array.from(x), [0, -1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(stats.map((s) => s.padValue), [0, 0]);
  assert.throws(
    () => normalizeIntensities(new Float32Array(2), { mask: new Uint8Array(2) }),
    /selects no voxel/,
  );
});
