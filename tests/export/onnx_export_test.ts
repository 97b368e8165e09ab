/**
 * The ONNX export without a GPU: the model's structure (opset, IR version, names, symbolic
 * dimensions, operators, initializers, metadata), every preset running in onnxruntime-web, the
 * opset range, the checkpoint helper, and the errors for malformed tensors, configurations and
 * options.
 */

import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import {
  DEFAULT_ONNX_OPSET,
  ONNX_INPUT_NAME,
  ONNX_OPSET_RANGE,
  ONNX_OUTPUT_NAME,
  unetToOnnx,
  unetToOnnxFromCheckpoint,
} from "../../lib/export/mod.ts";
import { type NamedTensor, saveCheckpoint } from "../../lib/nn/checkpoint.ts";
import {
  resolveUNetConfig,
  sizeDivisor,
  UNET_PRESETS,
  type UNetConfig,
  unetParams,
  type UNetPreset,
} from "../../lib/nn/unet_config.ts";
import { randomF32, Rng } from "../_helpers/random.ts";
import { runOnnx } from "./_onnxruntime.ts";
import { maxAbsDiff, randomUNetTensors } from "./_unet_fixtures.ts";

const { onnx } = onnxProto;

const STANDARD_OPS = new Set([
  "Conv",
  "InstanceNormalization",
  "BatchNormalization",
  "LeakyRelu",
  "PRelu",
  "MaxPool",
  "Resize",
  "ConvTranspose",
  "Concat",
  "Sigmoid",
  "Softmax",
]);

interface ValueInfo {
  name: string;
  type: { tensorType: { shape: { dim: { dimValue?: number; dimParam?: string }[] } } };
}

/** The fields of a decoded ModelProto the tests read (protobuf.js `toObject`, defaults on). */
interface DecodedModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImport: { domain: string; version: number }[];
  metadataProps: { key: string; value: string }[];
  graph: {
    name: string;
    input: ValueInfo[];
    output: ValueInfo[];
    node: { opType: string; input: string[]; attribute: { name: string; ints: number[] }[] }[];
    initializer: { name: string; dims: number[] }[];
  };
}

function decode(bytes: Uint8Array): DecodedModel {
  const m = onnx.ModelProto.decode(bytes);
  return onnx.ModelProto.toObject(m, {
    longs: Number,
    defaults: true,
    arrays: true,
  }) as DecodedModel;
}

function dims(v: ValueInfo): (number | string)[] {
  return v.type.tensorType.shape.dim.map((d) => d.dimParam ? d.dimParam : Number(d.dimValue));
}

Deno.test("unetToOnnx() writes opset 17, the named NCDHW input and output, and standard ops only", () => {
  const cfg = resolveUNetConfig("acdc", { filters: [5, 7, 9] });
  const tensors = randomUNetTensors(cfg, 1);
  const m = decode(unetToOnnx(cfg, tensors, { graphName: "acdc_small" }));
  assert.equal(Number(m.irVersion), 8);
  assert.deepEqual(m.opsetImport.map((o) => [o.domain, Number(o.version)]), [["", 17]]);
  assert.equal(DEFAULT_ONNX_OPSET, 17);
  assert.equal(m.producerName, "dicelab");
  const g = m.graph;
  assert.equal(g.name, "acdc_small");
  assert.deepEqual(g.input.map((i) => i.name), [ONNX_INPUT_NAME]);
  assert.deepEqual(g.output.map((o) => o.name), [ONNX_OUTPUT_NAME]);
  assert.deepEqual(dims(g.input[0]), ["N", 1, "D", "H", "W"]);
  assert.deepEqual(dims(g.output[0]), ["N", 4, "D", "H", "W"]);
  const ops = new Set(g.node.map((n) => n.opType));
  assert.deepEqual([...ops].filter((o) => !STANDARD_OPS.has(o)), []);
  for (
    const o of ["Conv", "BatchNormalization", "PRelu", "MaxPool", "Resize", "Concat", "Softmax"]
  ) {
    assert.ok(ops.has(o), `no ${o} node`);
  }
  // Every parameter and state tensor is an initializer, under its dicelab name.
  const { params, state } = unetParams(cfg);
  const inits = new Set(g.initializer.map((t) => t.name));
  for (const p of [...params.map((p) => p.name), ...state.map((s) => s.name)]) {
    assert.ok(inits.has(p), `no initializer ${p}`);
  }
  const w = g.initializer.find((t) => t.name === "enc0.block1.conv.weight")!;
  assert.deepEqual(w.dims.map(Number), [5, 5, 1, 3, 3]);
  const conv = g.node.find((n) => n.opType === "Conv" && n.input[1] === "enc0.block1.conv.weight")!;
  const attr = (name: string) => conv.attribute.find((a) => a.name === name)!.ints.map(Number);
  assert.deepEqual(attr("kernel_shape"), [1, 3, 3]);
  assert.deepEqual(attr("pads"), [0, 1, 1, 0, 1, 1]);
  const pool = g.node.find((n) => n.opType === "MaxPool")!;
  assert.deepEqual(pool.attribute.find((a) => a.name === "kernel_shape")!.ints.map(Number), [
    1,
    2,
    2,
  ]);
});

Deno.test("unetToOnnx() records the dicelab version, the configuration and the caller's metadata", () => {
  const cfg = UNET_PRESETS.tiny;
  const meta = { classes: '["tumour"]', channels: '["FLAIR"]', patch_size: "[8, 16, 16]" };
  const m = decode(unetToOnnx(cfg, randomUNetTensors(cfg, 2), { metadata: meta }));
  const props = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
  const version = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)))
    .version;
  assert.equal(props["dicelab.version"], version);
  assert.equal(m.producerVersion, version);
  assert.deepEqual(JSON.parse(props["dicelab.config"]), JSON.parse(JSON.stringify(cfg)));
  assert.deepEqual(JSON.parse(props["dicelab.size_divisor"]), sizeDivisor(cfg));
  for (const [k, v] of Object.entries(meta)) assert.equal(props[k], v);
});

// The presets' structures; brats's and acdc's 20.7 M and 3.9 M parameters shrunk to keep the
// test fast (five levels, kernels, pools, norms and heads unchanged).
const SMALL: Record<UNetPreset, UNetConfig> = {
  "brats": resolveUNetConfig("brats", { filters: [6, 8, 10, 12, 14] }),
  "acdc": resolveUNetConfig("acdc", { filters: [4, 6, 8, 10, 12] }),
  "nnn-bench": UNET_PRESETS["nnn-bench"],
  "tiny": UNET_PRESETS.tiny,
};
for (const preset of Object.keys(UNET_PRESETS) as UNetPreset[]) {
  Deno.test(`unetToOnnx() of the ${preset} preset runs in onnxruntime with probabilities out`, async () => {
    const cfg = SMALL[preset];
    assert.equal(cfg.filters.length, UNET_PRESETS[preset].filters.length);
    const patch = sizeDivisor(cfg);
    const model = unetToOnnx(cfg, randomUNetTensors(cfg, 3));
    const V = patch[0] * patch[1] * patch[2];
    const input = randomF32([1, cfg.inChannels, ...patch], new Rng(3), -2, 2);
    const out = await runOnnx(model, input, [1, cfg.inChannels, ...patch]);
    assert.deepEqual(out.dims, [1, cfg.outChannels, ...patch]);
    for (const p of out.data) assert.ok(p >= 0 && p <= 1, `probability ${p}`);
    if (cfg.head === "softmax") {
      for (let i = 0; i < V; i++) {
        let s = 0;
        for (let k = 0; k < cfg.outChannels; k++) s += out.data[k * V + i];
        assert.ok(Math.abs(s - 1) < 1e-5, `softmax sums to ${s}`);
      }
    }
  });
}

Deno.test("unetToOnnx() gives the same probabilities at opsets 13 and 21 as at 17", async () => {
  const cfg = resolveUNetConfig("acdc", { filters: [4, 6] });
  const tensors = randomUNetTensors(cfg, 4);
  const input = randomF32([1, 1, 2, 8, 8], new Rng(4), -2, 2);
  const run = (opset: number) =>
    runOnnx(unetToOnnx(cfg, tensors, { opset }), input, [1, 1, 2, 8, 8]);
  const ref = await run(17);
  for (const opset of ONNX_OPSET_RANGE) {
    const m = decode(unetToOnnx(cfg, tensors, { opset }));
    assert.equal(Number(m.opsetImport[0].version), opset);
    assert.ok(maxAbsDiff((await run(opset)).data, ref.data) < 1e-6, `opset ${opset}`);
  }
});

Deno.test("unetToOnnxFromCheckpoint() exports a weights checkpoint with its stored configuration", async () => {
  const cfg = resolveUNetConfig("acdc", { filters: [4, 6] });
  const tensors = randomUNetTensors(cfg, 5);
  const dir = await Deno.makeTempDir({ prefix: "dicelab_onnx_" });
  try {
    const path = `${dir}/weights.ckpt`;
    await saveCheckpoint(path, {
      kind: "weights",
      createdAt: "2024-01-01T00:00:00.000Z",
      config: cfg,
      tensors,
      meta: { step: 42 },
    });
    const bytes = await unetToOnnxFromCheckpoint(path, { metadata: { classes: "[0,1,2,3]" } });
    const input = randomF32([1, 1, 2, 8, 8], new Rng(5), -2, 2);
    const fromFile = await runOnnx(bytes, input, [1, 1, 2, 8, 8]);
    const direct = await runOnnx(unetToOnnx(cfg, tensors), input, [1, 1, 2, 8, 8]);
    assert.deepEqual(fromFile.data, direct.data);
    const props = Object.fromEntries(decode(bytes).metadataProps.map((p) => [p.key, p.value]));
    assert.deepEqual(JSON.parse(props["dicelab.checkpoint"]), {
      kind: "weights",
      createdAt: "2024-01-01T00:00:00.000Z",
      meta: { step: 42 },
    });
    assert.equal(props.classes, "[0,1,2,3]");

    // A training checkpoint's Adam moments are ignored.
    const training = `${dir}/checkpoint.ckpt`;
    const moments = tensors.filter((t) => !t.name.includes("/"));
    await saveCheckpoint(training, {
      kind: "training",
      createdAt: "2024-01-01T00:00:00.000Z",
      config: cfg,
      tensors: [
        ...tensors,
        ...moments.map((t) => ({ ...t, name: `adam.m/${t.name}` })),
        ...moments.map((t) => ({ ...t, name: `adam.v/${t.name}` })),
      ],
      meta: { step: 7 },
    });
    const fromTraining = await runOnnx(
      await unetToOnnxFromCheckpoint(training),
      input,
      [1, 1, 2, 8, 8],
    );
    assert.deepEqual(fromTraining.data, direct.data);

    // A checkpoint whose configuration is not a U-Net's names the field and the path.
    const bad = `${dir}/bad.ckpt`;
    await saveCheckpoint(bad, {
      kind: "weights",
      createdAt: "",
      config: { ...cfg, norm: "group" },
      tensors,
      meta: {},
    });
    await assert.rejects(
      unetToOnnxFromCheckpoint(bad),
      (e: Error) =>
        e instanceof TypeError && e.message.includes("config.norm") && e.message.includes(bad),
    );
    // Tensors of another configuration: the first misshapen one is named, with the path.
    const other = `${dir}/other.ckpt`;
    await saveCheckpoint(other, {
      kind: "weights",
      createdAt: "",
      config: { ...cfg, filters: [4, 8] },
      tensors,
      meta: {},
    });
    await assert.rejects(
      unetToOnnxFromCheckpoint(other),
      (e: Error) =>
        e instanceof TypeError &&
        /tensor "enc1\.block0\.conv\.weight" has shape \[6,4,3,3,3\], expected \[8,4,3,3,3\]/.test(
          e.message,
        ) &&
        e.message.includes(other),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function rejects(
  cfg: UNetConfig,
  tensors: NamedTensor[],
  type: typeof TypeError | typeof RangeError,
  pattern: RegExp,
  options?: Parameters<typeof unetToOnnx>[2],
) {
  assert.throws(
    () => unetToOnnx(cfg, tensors, options),
    (e: Error) => {
      assert.ok(e instanceof type, `${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

Deno.test("unetToOnnx() names the tensor that is missing, misshapen, unknown, doubled or non-finite", () => {
  const cfg = resolveUNetConfig("acdc", { filters: [4, 6] });
  const good = randomUNetTensors(cfg, 6);
  const without = (name: string) => good.filter((t) => t.name !== name);
  const replace = (name: string, t: Partial<NamedTensor>) =>
    good.map((u) => u.name === name ? { ...u, ...t } : u);

  rejects(
    cfg,
    without("dec0.block1.conv.bias"),
    TypeError,
    /tensor "dec0\.block1\.conv\.bias" is missing/,
  );
  rejects(
    cfg,
    without("state/enc1.block0.norm.runningVar"),
    TypeError,
    /tensor "state\/enc1\.block0\.norm\.runningVar" is missing/,
  );
  rejects(
    cfg,
    replace("enc1.block0.conv.weight", { shape: [6, 4, 3, 3, 1] }),
    TypeError,
    /tensor "enc1\.block0\.conv\.weight" has shape \[6,4,3,3,1\], expected \[6,4,3,3,3\]/,
  );
  rejects(
    cfg,
    replace("head.conv.bias", { data: new Float32Array(3) }),
    TypeError,
    /tensor "head\.conv\.bias" has 3 float32 values for shape \[4\]/,
  );
  rejects(
    cfg,
    [...good, { name: "enc2.block0.conv.weight", shape: [1], data: new Float32Array(1) }],
    TypeError,
    /tensor "enc2\.block0\.conv\.weight" is not part of this network/,
  );
  rejects(
    cfg,
    [...good, { ...good[0] }],
    TypeError,
    new RegExp(`tensor "${good[0].name.replaceAll(".", "\\.")}" is given twice`),
  );
  const nan = new Float32Array(6).fill(1);
  nan[2] = NaN;
  rejects(
    cfg,
    replace("enc1.block1.norm.scale", { data: nan }),
    RangeError,
    /tensor "enc1\.block1\.norm\.scale" holds NaN at index 2/,
  );
  rejects(
    cfg,
    replace("state/enc0.block1.norm.runningVar", { data: new Float32Array(4).fill(-1) }),
    RangeError,
    /tensor "state\/enc0\.block1\.norm\.runningVar" holds a negative variance/,
  );
  // State tensors may also come without the checkpoint's "state/" prefix.
  const bare = good.map((t) => ({ ...t, name: t.name.replace(/^state\//, "") }));
  assert.ok(unetToOnnx(cfg, bare).length > 0);
});

Deno.test("unetToOnnx() refuses an invalid configuration, opset or metadata", () => {
  const cfg = UNET_PRESETS.tiny;
  const tensors = randomUNetTensors(cfg, 7);
  rejects({ ...cfg, pools: [[2, 2, 2]] }, tensors, RangeError, /Invalid model\.pools/);
  rejects(
    { ...cfg, kernels: [[[3, 3, 2]], ...cfg.kernels.slice(1)] },
    tensors,
    RangeError,
    /model\.kernels\[0\]/,
  );
  rejects(cfg, tensors, RangeError, /opset 11 is not supported \(use 13…21\)/, { opset: 11 });
  rejects(cfg, tensors, RangeError, /metadata key "dicelab\.version" is reserved/, {
    metadata: { "dicelab.version": "9" },
  });
  rejects(cfg, tensors, TypeError, /metadata "classes" is a object, not a string/, {
    metadata: { classes: ["a"] as unknown as string },
  });
});
