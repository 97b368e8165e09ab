import assert from "node:assert/strict";
import { assertClose } from "../../tests/_helpers/assert_close.ts";
import { toSourceGrid } from "./load_case.ts";
import { mapAffine, preprocessVolumes, shiftGrid } from "./preprocess.ts";
import type { LoadedCase } from "./types.ts";

const AFFINE = [[0, 0, 2, 5], [0, 3, 0, -1], [-1.5, 0, 0, 7], [0, 0, 0, 1]];

function world(a: number[][], ijk: number[]): number[] {
  return [0, 1, 2].map((r) => a[r][0] * ijk[0] + a[r][1] * ijk[1] + a[r][2] * ijk[2] + a[r][3]);
}

Deno.test("mapAffine keeps every voxel at its world position", () => {
  const grid = {
    scale: [2, 0.5, 1.5] as [number, number, number],
    offset: [0.5, -0.25, 3] as [number, number, number],
  };
  const a2 = mapAffine(AFFINE, grid);
  for (const [d, h, w] of [[0, 0, 0], [1, 2, 3], [4, 0, 7]]) {
    const src = [
      grid.scale[2] * w + grid.offset[2],
      grid.scale[1] * h + grid.offset[1],
      grid.scale[0] * d + grid.offset[0],
    ];
    assertClose(world(a2, [w, h, d]), world(AFFINE, src));
  }
  assert.deepEqual(shiftGrid(grid, [1, 2, -3]).offset, [2.5, 0.75, -1.5]);
});

Deno.test("preprocessVolumes resamples, pads and updates the affine (hand-computed)", () => {
  // W: [0..5] at 1 mm → 2 mm: [0.5, 2.5, 4.5]; → size 5: offset floor((3 − 5)/2) = −1,
  // padded with the minimum 0.5 (mask "all", no z-score).
  const affine = [[1, 0, 0, 10], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const out = preprocessVolumes(
    {
      dataset: "acdc",
      image: new Float32Array([0, 1, 2, 3, 4, 5]),
      label: new Uint8Array([0, 0, 1, 1, 0, 0]),
      channels: 1,
      shape: [1, 1, 6],
      spacing: [1, 1, 1],
      affine,
    },
    { spacing: [1, 1, 2], size: [1, 1, 5], clipPercentiles: null, zscore: false },
  );
  assert.deepEqual(Array.from(out.image), [0.5, 0.5, 2.5, 4.5, 0.5]);
  // labels: per-class linear at 0.5, 2.5, 4.5 → [0, 1, 0], then padded with 0
  assert.deepEqual(Array.from(out.label), [0, 0, 1, 0, 0]);
  assert.deepEqual(out.shape, [1, 1, 5]);
  assert.deepEqual(out.spacing, [1, 1, 2]);
  assert.deepEqual(out.grid, { scale: [1, 1, 2], offset: [0, 0, -1.5] });
  // new voxel w sits at source i = 2w − 1.5 → x = 2w − 1.5 + 10
  assert.deepEqual(out.affine, [[2, 0, 0, 8.5], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]);
  assert.deepEqual(out.padValue, [0.5]);

  const loaded = {
    id: "x",
    shape: out.shape,
    source: { shape: [1, 1, 6], grid: out.grid },
  } as unknown as LoadedCase;
  // Back on the source grid: source x ← round((x + 1.5) / 2) = 1, 1, 2, 2, 3, 3.
  assert.deepEqual(Array.from(toSourceGrid(out.label, loaded)), [0, 0, 1, 1, 0, 0]);
});

Deno.test("preprocessVolumes with a non-zero mask z-scores inside the brain and pads with 0", () => {
  const out = preprocessVolumes(
    {
      dataset: "brats",
      image: new Float32Array([0, 2, 4, 0]),
      label: new Uint8Array(4),
      channels: 1,
      shape: [1, 1, 4],
      spacing: [1, 1, 1],
      affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    },
    { clipPercentiles: null, size: [1, 1, 6] },
  );
  assert.deepEqual(Array.from(out.image), [0, 0, -1, 1, 0, 0]);
  assert.deepEqual(out.padValue, [0]);
});

Deno.test("preprocessVolumes leaves its inputs untouched", () => {
  const image = new Float32Array([1, 2, 3, 4]);
  const label = new Uint8Array([0, 1, 1, 0]);
  preprocessVolumes(
    {
      dataset: "acdc",
      image,
      label,
      channels: 1,
      shape: [1, 2, 2],
      spacing: [1, 1, 1],
      affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    },
    {},
  );
  assert.deepEqual(Array.from(image), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(label), [0, 1, 1, 0]);
});
