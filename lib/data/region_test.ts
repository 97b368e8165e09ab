import assert from "node:assert/strict";
import { centerCropOrPad, extractRegion } from "./region.ts";
import type { Vec3 } from "./types.ts";

Deno.test("extractRegion copies a box and pads outside with per-channel values", () => {
  // Two channels [1, 2, 3]: c0 = 1..6, c1 = 11..16; box origin [0, −1, 1], size [1, 3, 3].
  const data = new Float32Array([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]);
  const out = extractRegion(
    { data, shape: [1, 2, 3], channels: 2 },
    { origin: [0, -1, 1], size: [1, 3, 3] },
    { padValue: [7, 9] },
  );
  assert.deepEqual(Array.from(out), [7, 7, 7, 2, 3, 7, 5, 6, 7, 9, 9, 9, 12, 13, 9, 15, 16, 9]);
});

Deno.test("extractRegion keeps the array type and pads a box entirely outside", () => {
  const out = extractRegion(
    { data: new Uint8Array([1, 2]), shape: [1, 1, 2] },
    { origin: [0, 0, 5], size: [1, 1, 2] },
  );
  assert.ok(out instanceof Uint8Array);
  assert.deepEqual(Array.from(out), [0, 0]);
});

Deno.test("centerCropOrPad: source = output + floor((n − t)/2) per axis", () => {
  const row = (values: number[]) => ({
    data: new Float32Array(values),
    shape: [1, 1, values.length] as Vec3,
  });
  assert.deepEqual(Array.from(centerCropOrPad(row([1, 2, 3, 4, 5]), [1, 1, 3]).data), [2, 3, 4]);
  // odd excess: cropped at the end
  assert.deepEqual(Array.from(centerCropOrPad(row([1, 2, 3, 4]), [1, 1, 3]).data), [1, 2, 3]);
  // padding 3: two before, one after
  const r = centerCropOrPad(row([1, 2]), [1, 1, 5], { padValue: -1 });
  assert.deepEqual(Array.from(r.data), [-1, -1, 1, 2, -1]);
  assert.deepEqual(r.offset, [0, 0, -2]);
});

Deno.test("extractRegion rejects a volume that does not match its shape", () => {
  assert.throws(
    () =>
      extractRegion({ data: new Float32Array(5), shape: [1, 2, 3] }, {
        origin: [0, 0, 0],
        size: [1, 1, 1],
      }),
    TypeError,
  );
});
