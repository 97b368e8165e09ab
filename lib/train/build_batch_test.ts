import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import { augmentPatch } from "../data/augment.ts";
import { LABELINGS, withRemovedLabels } from "../data/labeling.ts";
import { samplePatch } from "../data/patch.ts";
import type { Vec3 } from "../data/types.ts";
import { augmentationMargin, type BatchCase, type BatchJob, buildBatch } from "./build_batch.ts";

/** A smooth 2-channel case [C=2, 9, 13, 11] with a labelled box of classes 1..3. */
function synthCase(id: string, group: string, dataset: "acdc" | "brats" = "acdc"): BatchCase {
  const shape: Vec3 = [9, 13, 11];
  const [D, H, W] = shape;
  const n = D * H * W;
  const C = dataset === "brats" ? 4 : 1;
  const image = new Float32Array(C * n);
  const label = new Uint8Array(n);
  for (let c = 0; c < C; c++) {
    for (let z = 0; z < D; z++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const i = (z * H + y) * W + x;
          image[c * n + i] = Math.sin(0.3 * z + 0.2 * y + 0.1 * x + c) + 0.01 * i;
          if (z >= 3 && z < 7 && y >= 4 && y < 10 && x >= 3 && x < 8) {
            label[i] = dataset === "brats" ? 1 : 1 + ((x + y) % 3);
          }
        }
      }
    }
  }
  return {
    dataset,
    id,
    group,
    image,
    label,
    channels: C,
    shape,
    spacing: [2, 1, 1],
    classes: dataset === "brats" ? ["background", "tumour"] : ["background", "RV", "MYO", "LV"],
    padValue: new Array(C).fill(-1),
  };
}

const ACDC_CASES = [synthCase("a_ED", "ED"), synthCase("a_ES", "ES"), synthCase("b_ED", "ED")];
const ONE_HOT = { encoding: "oneHot", classes: 4 } as const;

function job(over: Partial<BatchJob> = {}): BatchJob {
  return {
    step: 3,
    samples: [12, 13, 14, 15],
    cases: [0, 1, 2, 1],
    seed: 7,
    patchSize: [5, 8, 6],
    target: ONE_HOT,
    augmentation: {},
    ...over,
  };
}

Deno.test("buildBatch is deterministic and each patch depends only on its case and sample", () => {
  const a = buildBatch(ACDC_CASES, job());
  const b = buildBatch(ACDC_CASES, job());
  assert.deepEqual(a, b);
  assert.deepEqual(a.imageShape, [4, 1, 5, 8, 6]);
  assert.deepEqual(a.targetShape, [4, 4, 5, 8, 6]);
  assert.deepEqual(a.groups, ["ED", "ES", "ED", "ES"]);
  // Patch j of the batch equals a batch of that one sample: no state leaks between patches.
  const n = 5 * 8 * 6;
  for (let j = 0; j < 4; j++) {
    const one = buildBatch(ACDC_CASES, job({ samples: [12 + j], cases: [job().cases[j]] }));
    assert.deepEqual(one.image, a.image.slice(j * n, (j + 1) * n), `patch ${j}`);
    assert.deepEqual(one.target, a.target.slice(j * 4 * n, (j + 1) * 4 * n), `target ${j}`);
  }
  assert.notDeepEqual(buildBatch(ACDC_CASES, job({ seed: 8 })).image, a.image);
});

Deno.test("buildBatch without augmentation gives samplePatch's crop and its one-hot target", () => {
  const b = buildBatch(ACDC_CASES, job({ augmentation: false, foregroundProbability: 1 }));
  const n = 5 * 8 * 6;
  for (let j = 0; j < 4; j++) {
    const c = ACDC_CASES[b.cases[j]];
    const p = samplePatch(c, [5, 8, 6], new Rng(7, 12 + j), { foregroundProbability: 1 });
    assert.deepEqual(b.image.subarray(j * n, (j + 1) * n), p.image);
    assert.deepEqual(b.origins[j], p.origin);
    assert.equal(b.foreground[j], true);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += b.target[(j * 4 + k) * n + i];
      assert.equal(sum, 1);
      // Every class but MYO (2) at ES is the case's label.
      const want = c.group === "ES" && p.label[i] === 2 ? 2 : p.label[i];
      assert.equal(b.target[(j * 4 + want) * n + i], 1);
    }
  }
});

Deno.test("buildBatch applies the labeling to the patches and flags annotated maps, not touching the case", () => {
  const labelBefore = ACDC_CASES[1].label.slice();
  const b = buildBatch(
    ACDC_CASES,
    job({ labeling: LABELINGS.acdcPartial, foregroundProbability: 1 }),
  );
  const n = 5 * 8 * 6;
  const myo = (j: number) => b.target.subarray((j * 4 + 2) * n, (j * 4 + 3) * n);
  for (let j = 0; j < 4; j++) {
    const es = b.groups[j] === "ES";
    assert.equal(myo(j).some((v) => v === 1), !es, `MYO in patch ${j} (${b.groups[j]})`);
    assert.deepEqual([...b.annotated.subarray(4 * j, 4 * j + 4)], es ? [1, 1, 0, 1] : [1, 1, 1, 1]);
  }
  assert.deepEqual(ACDC_CASES[1].label, labelBefore);

  const brats = [synthCase("h", "HGG", "brats"), synthCase("l", "LGG", "brats")];
  const t = buildBatch(brats, {
    ...job({ cases: [0, 1, 0, 1], target: { encoding: "binary" } }),
    labeling: LABELINGS.bratsPartial,
    foregroundProbability: 1,
  });
  const m = 5 * 8 * 6;
  assert.ok(t.target.subarray(0, m).some((v) => v === 1));
  assert.ok(t.target.subarray(m, 2 * m).every((v) => v === 0));
  assert.deepEqual([...t.annotated], [1, 0, 1, 0]);
  // The LGG case has no foreground under the labeling: its patches are drawn uniformly.
  assert.deepEqual(t.foreground, [true, false, true, false]);
  assert.ok(brats[1].label.some((v) => v === 1));
});

Deno.test("augmentationMargin covers the reach of rotation and zoom", () => {
  assert.deepEqual(augmentationMargin(false, [8, 8, 8]), [0, 0, 0]);
  assert.deepEqual(augmentationMargin({ enabled: false }, [8, 8, 8]), [0, 0, 0]);
  const identity = { rotationDegrees: 0, scale: [1, 1] as const };
  assert.deepEqual(augmentationMargin(identity, [8, 48, 48]), [0, 0, 0]);
  // Zoom ≥ 0.8 only: reach (p − 1)/2 / 0.8 → margin ⌈(p − 1)/8⌉ = [1, 6, 3].
  assert.deepEqual(
    augmentationMargin({ rotationDegrees: 0, scale: [0.8, 1.2] }, [8, 48, 24]),
    [1, 6, 3],
  );
  // Up to 90° in-plane on a 1×4×20 patch (half-widths 1.5, 9.5): both axes reach
  // max over t of 1.5·|cos t| + 9.5·|sin t| = √(1.5² + 9.5²) ≈ 9.62 (an interior maximum,
  // t ≈ 81°), so h needs ⌈9.62 − 1.5⌉ = 9 and w ⌈9.62 − 9.5⌉ = 1.
  assert.deepEqual(
    augmentationMargin({ rotationDegrees: 90, scale: [1, 1] }, [1, 4, 20]),
    [0, 9, 1],
  );
});

Deno.test("buildBatch's augmentation margin leaves the interior and replaces clamped borders", () => {
  const c = synthCase("x", "ED");
  const geometryOnly = {
    rotationDegrees: 15,
    scale: [0.85, 0.9] as const,
    flip: false,
    intensityShift: 0,
    intensityScale: [1, 1] as const,
    noiseStd: 0,
  };
  const base = job({ samples: [5], cases: [0], augmentation: geometryOnly });
  const withMargin = buildBatch([c], base);
  const clamped = buildBatch([c], { ...base, augmentMargin: [0, 0, 0] });
  // The margin-free path is exactly augmentPatch on the plain patch.
  const rng = new Rng(7, 5);
  const p = samplePatch(c, [5, 8, 6], rng, {});
  const ref = augmentPatch(
    p.image,
    p.label,
    [1, 5, 8, 6],
    { ...geometryOnly, spacing: c.spacing },
    rng,
  );
  assert.deepEqual(clamped.image, ref.image);
  // Centre voxels read inside the patch either way (same source positions).
  const at = (z: number, y: number, x: number) => (z * 8 + y) * 6 + x;
  for (const [z, y, x] of [[2, 3, 2], [2, 4, 3], [2, 3, 3]]) {
    assert.ok(Math.abs(withMargin.image[at(z, y, x)] - clamped.image[at(z, y, x)]) < 1e-5);
  }
  // Zoomed out by ≥ 1/0.9, corners read beyond the patch: real data, not repeated edges.
  assert.notDeepEqual(withMargin.image, clamped.image);
});

Deno.test("buildBatch rejects bad indices, mixed channels and mismatched target maps", () => {
  assert.throws(() => buildBatch(ACDC_CASES, job({ cases: [0, 1, 2, 3] })), {
    name: "RangeError",
    message: "Cannot build batch 3: case index 3 outside [0, 3)",
  });
  assert.throws(() => buildBatch(ACDC_CASES, job({ samples: [1] })), RangeError);
  const mixed = [ACDC_CASES[0], synthCase("h", "HGG", "brats")];
  assert.throws(() => buildBatch(mixed, job({ cases: [0, 1], samples: [0, 1] })), TypeError);
  assert.throws(
    () => buildBatch(ACDC_CASES, job({ target: { encoding: "binary" } })),
    /has 4 target maps, the target encoding gives 1/,
  );
});

Deno.test("buildBatch carries the voxel mask and label-set index of removedLabels, patch by patch", () => {
  const n = 5 * 8 * 6;
  const relabel = buildBatch(ACDC_CASES, job({ labeling: LABELINGS.acdcPartial }));
  assert.equal(relabel.mask, undefined);
  assert.equal(relabel.labelSetIndex, undefined);
  for (const as of ["labelSet", "ignore"] as const) {
    const b = buildBatch(
      ACDC_CASES,
      job({ labeling: withRemovedLabels(LABELINGS.acdcPartial, as) }),
    );
    // Same patches (the marks change neither the draws nor the foreground voxels).
    assert.deepEqual(b.image, relabel.image, as);
    assert.deepEqual(b.origins, relabel.origins, as);
    const marks = as === "ignore" ? b.mask! : b.labelSetIndex!;
    assert.equal(marks.length, 4 * n);
    assert.equal(as === "ignore" ? b.labelSetIndex : b.mask, undefined);
    for (let j = 0; j < 4; j++) {
      const es = b.groups[j] === "ES";
      let marked = 0;
      for (let i = 0; i < n; i++) {
        // Under relabel, a voxel the removal may hide (background at ES) has target row
        // [1, 0, 0, 0]; under the marks it has no leaf label. (Padding outside the case stays
        // background: these patches have none.)
        const bg = relabel.target[(j * 4) * n + i] === 1;
        const m = as === "ignore" ? marks[j * n + i] === 0 : marks[j * n + i] === 1;
        assert.equal(m, es && bg, `${as} patch ${j} voxel ${i}`);
        if (m) {
          marked++;
          for (let k = 0; k < 4; k++) assert.equal(b.target[(j * 4 + k) * n + i], 0);
        } else {
          for (let k = 0; k < 4; k++) {
            assert.equal(b.target[(j * 4 + k) * n + i], relabel.target[(j * 4 + k) * n + i]);
          }
        }
      }
      if (es) assert.ok(marked > 0 && marked < n, `${as} patch ${j}: ${marked} marked voxels`);
    }
  }
});
