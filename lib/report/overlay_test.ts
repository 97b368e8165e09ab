import assert from "node:assert/strict";
import { decode } from "fast-png";
import { LABEL_COLORS, overlayPng } from "./overlay.ts";
import { readExamples, writeExample } from "./examples.ts";

function example() {
  // D = 3, H = 4, W = 5; truth on slice 1 only: a 2 × 3 block of class 2 at h 1–2, w 1–3
  const shape: [number, number, number] = [3, 4, 5];
  const n = 60;
  const image = new Float32Array(n).map((_, i) => i % 20);
  const truth = new Uint8Array(n);
  for (const h of [1, 2]) for (const w of [1, 2, 3]) truth[20 + h * 5 + w] = 2;
  return {
    caseId: "c/1",
    group: "ES",
    shape,
    image,
    truth,
    predictions: [{ label: "I", labels: new Uint8Array(n) }],
  };
}

Deno.test("overlayPng() picks the busiest slice and colours label outlines", () => {
  const ex = example();
  const img = overlayPng(ex, { scale: 2 });
  assert.equal(img.slice, 1);
  assert.deepEqual(img.panels, ["Image", "GT", "I"]);
  // 3 panels of 10 px plus 2 gaps of 4 px
  assert.equal(img.width, 38);
  assert.equal(img.height, 8);
  const png = decode(img.png);
  assert.equal(png.width, 38);
  assert.equal(png.channels, 3);
  const px = (
    x: number,
    y: number,
  ) => [...png.data.subarray((y * 38 + x) * 3, (y * 38 + x) * 3 + 3)];
  // Image panel is grey; GT panel at (h 1, w 1) is an outline pixel in the class-2 colour.
  const g = px(2, 2);
  assert.ok(g[0] === g[1] && g[1] === g[2]);
  assert.deepEqual(px(14 + 2, 2), LABEL_COLORS[1]);
  // The empty prediction panel equals the image panel; the gap is white.
  assert.deepEqual(px(28 + 2, 2), g);
  assert.deepEqual(px(11, 0), [255, 255, 255]);
  assert.throws(() => overlayPng({ ...ex, slice: 3 }), RangeError);
  assert.throws(() => overlayPng({ ...ex, truth: new Uint8Array(5) }), /truth has 5 voxels/);
});

Deno.test("writeExample() and readExamples() round-trip the run-folder format", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dicelab_examples_" });
  try {
    const ex = { ...example(), caseId: "p1_ES", truthTrain: new Uint8Array(60), slice: 1 };
    await writeExample(`${dir}/examples`, "p1_ES", ex);
    const files = [...Deno.readDirSync(`${dir}/examples`)].map((e) => e.name).sort();
    assert.deepEqual(files, [
      "p1_ES.image.bin",
      "p1_ES.json",
      "p1_ES.pred0.bin",
      "p1_ES.truth.bin",
      "p1_ES.truth_train.bin",
    ]);
    const [back] = await readExamples(dir);
    assert.deepEqual(back, { ...ex, title: undefined });
    assert.deepEqual(await readExamples(`${dir}/absent`), []);
    await Deno.writeFile(`${dir}/examples/p1_ES.truth.bin`, new Uint8Array(7));
    await assert.rejects(
      () => readExamples(dir),
      /truth file p1_ES\.truth\.bin has 7 bytes, expected 60/,
    );
    await assert.rejects(() => writeExample(dir, "../x", ex), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
