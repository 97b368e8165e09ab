import assert from "node:assert/strict";
import {
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";

const sample: Checkpoint = {
  kind: "training",
  createdAt: "2026-11-28T00:00:00.000Z",
  config: { filters: [8, 16] },
  tensors: [
    { name: "a", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-30, -0, 7]) },
    { name: "b", shape: [1], data: new Float32Array([Math.PI]) },
  ],
  meta: { step: 12, lr: 1e-3 },
};

Deno.test("encodeCheckpoint() round-trips tensors bit for bit with its metadata", async () => {
  const bytes = await encodeCheckpoint(sample);
  const back = await decodeCheckpoint(bytes);
  assert.equal(back.kind, "training");
  assert.deepEqual(back.meta, sample.meta);
  assert.deepEqual(back.config, sample.config);
  for (let i = 0; i < sample.tensors.length; i++) {
    assert.deepEqual(
      new Uint32Array(back.tensors[i].data.buffer),
      new Uint32Array(sample.tensors[i].data.buffer),
    );
  }
});

Deno.test("decodeCheckpoint() rejects corrupt, truncated and foreign files naming the source", async () => {
  const bytes = await encodeCheckpoint(sample);
  const flipped = bytes.slice();
  flipped[bytes.length - 40] ^= 1;
  await assert.rejects(() => decodeCheckpoint(flipped, "x.ckpt"), {
    name: "SyntaxError",
    message: /x\.ckpt: checksum mismatch/,
  });
  await assert.rejects(
    () => decodeCheckpoint(bytes.slice(0, 30), "t.ckpt"),
    /t\.ckpt: file is too short/,
  );
  await assert.rejects(() => decodeCheckpoint(new Uint8Array(100), "z"), /bad magic/);
});

Deno.test("saveCheckpoint() writes atomically and loadCheckpoint() reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/w.ckpt`;
    await saveCheckpoint(path, sample);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["w.ckpt"]); // no temp file left behind
    const back = await loadCheckpoint(path);
    assert.equal(back.tensors[1].data[0], Math.fround(Math.PI));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
