import assert from "node:assert/strict";
import { Rng } from "../core/rng.ts";
import { augmentPatch } from "./augment.ts";

const OFF = {
  rotationDegrees: 0,
  scale: [1, 1],
  flip: false,
  intensityShift: 0,
  intensityScale: [1, 1],
  noiseStd: 0,
} as const;

Deno.test("augmentPatch with enabled: false or everything off returns equal copies", () => {
  const image = new Float32Array(24).map((_, i) => i);
  const label = new Uint8Array(12).map((_, i) => i % 3);
  for (const options of [{ enabled: false }, OFF]) {
    const out = augmentPatch(image, label, [2, 2, 2, 3], options, new Rng(1));
    assert.deepEqual(out.image, image);
    assert.deepEqual(out.label, label);
    assert.notEqual(out.image, image);
  }
});

Deno.test("augmentPatch flips along W exactly when its coin says so", () => {
  const image = new Float32Array([0, 1, 2, 3, 4, 5]);
  const label = new Uint8Array([0, 0, 1, 1, 2, 2]);
  let flipped = 0;
  for (let seed = 0; seed < 8; seed++) {
    const coin = new Rng(seed).float() < 0.5;
    const out = augmentPatch(image, label, [1, 1, 2, 3], { ...OFF, flip: true }, new Rng(seed));
    const expect = coin ? [2, 1, 0, 5, 4, 3] : [0, 1, 2, 3, 4, 5];
    assert.deepEqual(Array.from(out.image), expect);
    assert.deepEqual(Array.from(out.label), coin ? [1, 0, 0, 2, 2, 1] : [0, 0, 1, 1, 2, 2]);
    if (coin) flipped++;
  }
  assert.ok(flipped > 0 && flipped < 8);
});

Deno.test("augmentPatch zooms about the centre (hand-computed, zoom 2)", () => {
  // W = 5, centre 2: output o samples 2 + (o − 2)/2 = 1, 1.5, 2, 2.5, 3.
  const out = augmentPatch(
    new Float32Array([0, 10, 20, 30, 40]),
    new Uint8Array([0, 0, 1, 2, 2]),
    [1, 1, 1, 5],
    { ...OFF, scale: [2, 2] },
    new Rng(1),
  );
  assert.deepEqual(Array.from(out.image), [10, 15, 20, 25, 30]);
  // nearest: round(1) = 1, round(1.5) = 2, 2, round(2.5) = 3, 3
  assert.deepEqual(Array.from(out.label), [0, 1, 1, 2, 2]);
});

Deno.test("augmentPatch rotations keep radial images and label values", () => {
  const [D, H, W] = [3, 15, 15];
  const image = new Float32Array(D * H * W);
  const label = new Uint8Array(D * H * W);
  for (let d = 0; d < D; d++) {
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        const r2 = (h - 7) ** 2 + (w - 7) ** 2;
        image[(d * H + h) * W + w] = r2;
        label[(d * H + h) * W + w] = r2 < 9 ? 3 : r2 < 25 ? 1 : 0;
      }
    }
  }
  for (let seed = 0; seed < 5; seed++) {
    const out = augmentPatch(
      image,
      label,
      [1, D, H, W],
      { ...OFF, rotationDegrees: 45 },
      new Rng(seed),
    );
    // Inside radius 6 the rotated r² equals r² up to bilinear error (≤ 0.5 for r²).
    for (let h = 2; h < 13; h++) {
      for (let w = 2; w < 13; w++) {
        const r2 = (h - 7) ** 2 + (w - 7) ** 2;
        if (r2 > 30) continue;
        const i = (1 * H + h) * W + w;
        assert.ok(
          Math.abs(out.image[i] - r2) <= 0.5,
          `${seed} ${h} ${w}: ${out.image[i]} vs ${r2}`,
        );
      }
    }
    assert.ok(Array.from(out.label).every((v) => v === 0 || v === 1 || v === 3));
    assert.equal(out.label[(1 * H + 7) * W + 7], 3);
  }
});

Deno.test("augmentPatch intensity scale, shift and noise act per channel", () => {
  const n = 16 * 16 * 16;
  const image = new Float32Array(2 * n).fill(1);
  const label = new Uint8Array(n);
  const scaled = augmentPatch(
    image,
    label,
    [2, 16, 16, 16],
    { ...OFF, intensityScale: [2, 2] },
    new Rng(1),
  );
  assert.ok(scaled.image.every((v) => v === 2));
  const shifted = augmentPatch(
    image,
    label,
    [2, 16, 16, 16],
    { ...OFF, intensityShift: 0.1 },
    new Rng(2),
  );
  for (const c of [0, 1]) {
    const ch = shifted.image.subarray(c * n, (c + 1) * n);
    assert.ok(ch.every((v) => v === ch[0]) && Math.abs(ch[0] - 1) <= 0.1);
  }
  const noisy = augmentPatch(image, label, [2, 16, 16, 16], { ...OFF, noiseStd: 0.05 }, new Rng(3));
  let s = 0, s2 = 0;
  for (const v of noisy.image) {
    s += v - 1;
    s2 += (v - 1) ** 2;
  }
  const mean = s / noisy.image.length;
  const sd = Math.sqrt(s2 / noisy.image.length - mean * mean);
  assert.ok(Math.abs(mean) < 0.003 && Math.abs(sd - 0.05) < 0.003, `${mean} ${sd}`);
});

Deno.test("augmentPatch is deterministic and fast with the defaults on a 4×16×32×32 patch", () => {
  const shape = [4, 16, 32, 32] as const;
  const n = 16 * 32 * 32;
  const image = new Float32Array(4 * n).map((_, i) => Math.sin(i));
  const label = new Uint8Array(n).map((_, i) => (i % 7 === 0 ? 1 : 0));
  const a = augmentPatch(image, label, shape, {}, new Rng(7, 1));
  const b = augmentPatch(image, label, shape, {}, new Rng(7, 1));
  assert.deepEqual(a, b);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) augmentPatch(image, label, shape, {}, new Rng(7, i));
  const ms = (performance.now() - t0) / 10;
  assert.ok(ms < 100, `${ms.toFixed(1)} ms per patch`);
});

Deno.test("augmentPatch rejects arrays that do not match the shape", () => {
  assert.throws(
    () => augmentPatch(new Float32Array(3), new Uint8Array(2), [1, 1, 1, 2], {}, new Rng(1)),
    TypeError,
  );
});
