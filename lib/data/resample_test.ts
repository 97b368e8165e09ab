import assert from "node:assert/strict";
import { assertClose } from "../../tests/_helpers/assert_close.ts";
import { alignedGrid, resampleLabelLinear, resampleLinear, resampleNearest } from "./resample.ts";
import type { Vec3 } from "./types.ts";

function lin(values: number[], shape: Vec3, spacing: Vec3, target: Vec3, channels = 1) {
  const data = new Float32Array(values);
  return resampleLinear({ data, shape, channels }, alignedGrid(shape, spacing, target));
}

Deno.test("alignedGrid keeps the grid centre: n' = round(n·s/t), source = scale·x + offset", () => {
  // D: 10 voxels at 1 mm → 5 at 2 mm; offset (10 − 1)/2 − 2·(5 − 1)/2 = 0.5.
  assert.deepEqual(alignedGrid([10, 4, 4], [1, 1, 1], [2, 1, 1]), {
    shape: [5, 4, 4],
    scale: [2, 1, 1],
    offset: [0.5, 0, 0],
  });
  // 3 voxels at 2.5 mm → round(7.5 / 1.25) = 6 at 1.25 mm; offset 1 − 0.5·2.5 = −0.25.
  const g = alignedGrid([3, 1, 1], [2.5, 1, 1], [1.25, 1, 1]);
  assert.deepEqual(g.shape, [6, 1, 1]);
  assert.deepEqual(g.offset, [-0.25, 0, 0]);
  assert.throws(() => alignedGrid([2, 2, 2], [1, 0, 1], [1, 1, 1]), RangeError);
});

Deno.test("resampleLinear interpolates with clamped edges (hand-computed 1-D cases)", () => {
  // Up: [0, 10] at 2 mm → 1 mm samples at −0.25→0, 0.25, 0.75, 1.25→1.
  assert.deepEqual(Array.from(lin([0, 10], [1, 1, 2], [1, 1, 2], [1, 1, 1])), [0, 2.5, 7.5, 10]);
  // Down: [0..5] at 1 mm → 2 mm samples at 0.5, 2.5, 4.5.
  assert.deepEqual(
    Array.from(lin([0, 1, 2, 3, 4, 5], [1, 1, 6], [1, 1, 1], [1, 1, 2])),
    [0.5, 2.5, 4.5],
  );
  // Along D of a [3, 1, 2] volume: n' = 2, offset 1 − 1.5·0.5 = 0.25 → samples 0.25, 1.75.
  assertClose(
    lin([0, 100, 10, 110, 20, 120], [3, 1, 2], [1, 1, 1], [1.5, 1, 1]),
    [2.5, 102.5, 17.5, 117.5],
  );
});

Deno.test("resampleLinear reproduces a linear function in 3-D and keeps channels apart", () => {
  // v = 4d + 2h + w on a 2×2×2 grid, upsampled ×2: samples at clamp(0.5x − 0.25, 0, 1).
  const src: number[] = [];
  for (const sign of [1, -1]) {
    for (let d = 0; d < 2; d++) {
      for (let h = 0; h < 2; h++) for (let w = 0; w < 2; w++) src.push(sign * (4 * d + 2 * h + w));
    }
  }
  const out = lin(src, [2, 2, 2], [1, 1, 1], [0.5, 0.5, 0.5], 2);
  const cl = (x: number) => Math.min(1, Math.max(0, 0.5 * x - 0.25));
  const expected: number[] = [];
  for (const sign of [1, -1]) {
    for (let d = 0; d < 4; d++) {
      for (let h = 0; h < 4; h++) {
        for (let w = 0; w < 4; w++) expected.push(sign * (4 * cl(d) + 2 * cl(h) + cl(w)));
      }
    }
  }
  assertClose(out, expected, { atol: 1e-6 });
});

Deno.test("resampleNearest rounds to the nearest source voxel, clamped", () => {
  // [0, 1, 2] at 1 mm → 0.5 mm: sources −0.25, 0.25, 0.75, 1.25, 1.75, 2.25 → 0, 0, 1, 1, 2, 2.
  const out = resampleNearest(
    { data: new Uint8Array([0, 1, 2]), shape: [1, 1, 3] },
    alignedGrid([1, 1, 3], [1, 1, 1], [1, 1, 0.5]),
  );
  assert.deepEqual(Array.from(out), [0, 0, 1, 1, 2, 2]);
});

Deno.test("resampleLabelLinear takes the argmax of per-class linear maps (lowest class on ties)", () => {
  // 2×2 in-plane label [[1, 1], [2, 0]] → one voxel at the centre (0.5, 0.5):
  // class 0: 0.25, class 1: 0.5, class 2: 0.25 → 1. Nearest picks source (1, 1) = 0.
  const label = { data: new Uint8Array([1, 1, 2, 0]), shape: [1, 2, 2] as Vec3 };
  const g = alignedGrid([1, 2, 2], [1, 1, 1], [1, 2, 2]);
  assert.deepEqual(Array.from(resampleLabelLinear(label, g, { classes: 3 })), [1]);
  assert.deepEqual(Array.from(resampleNearest(label, g)), [0]);
  // [0, 0, 1, 1, 1, 0] halved: samples 0.5 (c0 = 1), 2.5 (c1 = 1), 4.5 (c0 = c1 = 0.5 → 0).
  const half = alignedGrid([1, 1, 6], [1, 1, 1], [1, 1, 2]);
  const row = { data: new Uint8Array([0, 0, 1, 1, 1, 0]), shape: [1, 1, 6] as Vec3 };
  assert.deepEqual(Array.from(resampleLabelLinear(row, half, { classes: 2 })), [0, 1, 0]);
});

Deno.test("resampling onto the same grid returns equal copies", () => {
  const data = new Float32Array([1, 2, 3, 4]);
  const g = alignedGrid([1, 2, 2], [1, 1, 1], [1, 1, 1]);
  const out = resampleLinear({ data, shape: [1, 2, 2] }, g);
  assert.deepEqual(out, data);
  assert.notEqual(out, data);
  const label = new Uint8Array([0, 1, 2, 3]);
  assert.deepEqual(
    resampleLabelLinear({ data: label, shape: [1, 2, 2] }, g, { classes: 4 }),
    label,
  );
});

Deno.test("resampling rejects data that do not match the shape", () => {
  const g = alignedGrid([1, 2, 2], [1, 1, 1], [1, 1, 2]);
  assert.throws(
    () => resampleLinear({ data: new Float32Array(3), shape: [1, 2, 2] }, g),
    TypeError,
  );
  assert.throws(() => resampleNearest({ data: new Uint8Array(3), shape: [1, 2, 2] }, g), TypeError);
  assert.throws(
    () => resampleLabelLinear({ data: new Uint8Array(3), shape: [1, 2, 2] }, g, { classes: 2 }),
    TypeError,
  );
});
