import assert from "node:assert/strict";
import {
  axisStarts,
  extractWindow,
  importanceMap,
  WindowAccumulator,
  windowStarts,
} from "./sliding_window.ts";

Deno.test("axisStarts() covers the axis with the requested overlap and ends flush", () => {
  assert.deepEqual(axisStarts(10, 4, 0.5), [0, 2, 4, 6]);
  assert.deepEqual(axisStarts(10, 4, 0), [0, 4, 6]);
  assert.deepEqual(axisStarts(3, 4, 0.5), [0]);
  assert.deepEqual(axisStarts(4, 4, 0.5), [0]);
  assert.throws(() => axisStarts(10, 4, 1), /overlap/);
});

Deno.test("WindowAccumulator reconstructs a volume exactly from overlapping windows", () => {
  const size = [5, 7, 9] as const;
  const win = [3, 4, 4] as const;
  const C = 2;
  const n = 5 * 7 * 9;
  const vol = new Float32Array(C * n).map((_, i) => Math.sin(i) + 2);
  for (const blending of ["uniform", "gaussian"] as const) {
    const acc = new WindowAccumulator(C, size);
    const w = importanceMap(win, blending);
    const buf = new Float32Array(C * 3 * 4 * 4);
    for (const o of windowStarts(size, win, { overlap: 0.5 })) {
      acc.add(extractWindow(vol, size, C, win, o, buf), win, o, w);
    }
    const out = acc.result();
    for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - vol[i]) < 1e-5);
  }
});

Deno.test("importanceMap() Gaussian peaks at the centre and stays positive at the borders", () => {
  const m = importanceMap([5, 5, 5], "gaussian");
  assert.equal(m[62], 1); // centre (2,2,2)
  assert.ok(m[0] > 0 && m[0] < 0.01);
});

Deno.test("extractWindow() zero-pads outside the volume", () => {
  const vol = new Float32Array([1, 2, 3, 4]); // [1, 1, 2, 2]
  const out = extractWindow(vol, [1, 2, 2], 1, [1, 3, 3], [0, 0, 0], new Float32Array(9).fill(7));
  assert.deepEqual([...out], [1, 2, 0, 3, 4, 0, 0, 0, 0]);
});
