/** The `.dicelab` model file: round trip, and a clear error for every way a file can be bad. */

import assert from "node:assert/strict";
import { DICELAB_VERSION } from "../../lib/model/dicelab_version.ts";
import { encodeModel, loadModel, MODEL_FORMAT_VERSION } from "../../lib/model/model_file.ts";
import { encodeCheckpoint } from "../../lib/nn/checkpoint.ts";
import { assertSameTensors } from "../_helpers/tiny_variant.ts";
import { seededModel } from "./_fixtures.ts";

Deno.test("loadModel() returns what encodeModel() wrote, tensors bit for bit", async () => {
  const model = seededModel({ channels: ["t1", "t2"], seeds: [3, 4] });
  const back = await loadModel(await encodeModel(model), "m.dicelab");
  const { members, ...meta } = back;
  const { members: want, ...wantMeta } = model;
  assert.deepEqual(meta, wantMeta);
  assert.equal(members.length, 2);
  members.forEach((m, i) => {
    const { tensors, ...rest } = m;
    const { tensors: t, ...r } = want[i];
    assert.deepEqual(rest, r);
    assertSameTensors(tensors, t, `member ${i}`);
  });
});

Deno.test("the model file starts with its magic and version and ends with a SHA-256", async () => {
  const bytes = await encodeModel(seededModel());
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 7)), "DLMODEL");
  assert.equal(new DataView(bytes.buffer).getUint32(8, true), MODEL_FORMAT_VERSION);
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      bytes.subarray(0, bytes.length - 32) as Uint8Array<ArrayBuffer>,
    ),
  );
  assert.deepEqual(bytes.subarray(bytes.length - 32), digest);
});

Deno.test("loadModel() names a truncated, corrupt, foreign or newer file", async () => {
  const good = await encodeModel(seededModel());
  const fails = (bytes: Uint8Array, re: RegExp) =>
    assert.rejects(() => loadModel(bytes, "m.dicelab"), (err: Error) => {
      assert.ok(err instanceof SyntaxError, err.message);
      assert.match(err.message, /^Cannot read model m\.dicelab: /);
      assert.match(err.message, re);
      return true;
    });
  await fails(good.subarray(0, 20), /the file is truncated \(20 bytes/);
  await fails(good.subarray(0, good.length - 100), /the file is truncated \(\d+ of \d+ bytes\)/);
  await fails(new Uint8Array([...good, 0, 0]), /2 trailing bytes after its checksum/);
  const flipped = good.slice();
  flipped[good.length - 200] ^= 0x10; // one bit of a weight
  await fails(flipped, /checksum mismatch \(the file is corrupt\)/);
  const newer = good.slice();
  new DataView(newer.buffer).setUint32(8, 2, true);
  await fails(
    newer,
    new RegExp(
      `format version 2 \\(written by dicelab ${DICELAB_VERSION}\\) is not supported: this ` +
        `dicelab reads version 1`,
    ),
  );
  await fails(new TextEncoder().encode("x".repeat(100)), /not a dicelab model file \(bad magic\)/);
  const ckpt = await encodeCheckpoint({
    kind: "weights",
    createdAt: "",
    config: {},
    tensors: [],
    meta: {},
  });
  await fails(ckpt, /it is a checkpoint \(weights\.ckpt\), not a model/);
});

Deno.test("loadModel() rejects tensors that do not fit the network it describes", async () => {
  const model = seededModel();
  const bytes = await encodeModel(model);
  // Rewrite the header with a wider first level (the checksum is recomputed: the file is
  // well-formed but inconsistent).
  const view = new DataView(bytes.buffer);
  const len = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len)));
  header.network.filters = [6, 8];
  const json = new TextEncoder().encode(JSON.stringify(header).padEnd(len, " "));
  assert.equal(json.length, len);
  const bad = bytes.slice();
  bad.set(json, 16);
  bad.set(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bad.subarray(0, bad.length - 32))),
    bad.length - 32,
  );
  await assert.rejects(
    () => loadModel(bad, "m.dicelab"),
    /Cannot read model m\.dicelab: tensor enc0\.block0\.conv\.weight of fold 0 has shape \[4,1,3,3,3\] \(108 values\), the network needs \[6,1,3,3,3\]/,
  );
  const broken = {
    ...model,
    members: [{ ...model.members[0], tensors: model.members[0].tensors.slice(1) }],
  };
  await assert.rejects(
    () => encodeModel(broken),
    /Cannot encode model: member of fold 0 has no tensor/,
  );
});

Deno.test("DICELAB_VERSION is deno.json's version", async () => {
  const json = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(DICELAB_VERSION, json.version);
});

Deno.test("deno task predict and export need only read, write and env", async () => {
  const json = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  for (const task of ["predict", "export"]) {
    assert.equal(
      json.tasks[task],
      `deno run --allow-read --allow-write --allow-env cli.ts ${task}`,
    );
  }
});

Deno.test("a region-based model keeps its regions and regions_class_order, and loadModel() checks them", async () => {
  const base = seededModel({ head: "sigmoid", classes: ["background", "label 1", "label 2"] });
  const regions = [{ name: "whole", values: [1, 2] }, { name: "core", values: [2] }];
  const model = {
    ...base,
    dataset: {
      ...base.dataset,
      target: "regions" as const,
      outputs: ["whole", "core"],
      regions,
      regionsClassOrder: [1, 2],
    },
  };
  const back = await loadModel(await encodeModel(model), "r.dicelab");
  assert.deepEqual(back.dataset, model.dataset);
  const bad = (dataset: Record<string, unknown>) =>
    encodeModel({ ...model, dataset: { ...model.dataset, ...dataset } }).then((b) =>
      loadModel(b, "r.dicelab")
    );
  await assert.rejects(
    () => bad({ regionsClassOrder: [1, 3] }),
    /dataset\.regionsClassOrder \[1,3\] does not give one label value 1\.\.2 per region/,
  );
  await assert.rejects(
    () => bad({ regions: regions.slice(1) }),
    /dataset\.regions .* does not give one region per output map \(2\)/,
  );
});
