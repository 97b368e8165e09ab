/**
 * The exported models against the official ONNX checker (`onnx.checker.check_model` with
 * `full_check`, then strict shape inference), where a Python with the `onnx` package is found
 * (Debian's `python3-onnx`); ignored elsewhere, and without `--allow-run`.
 */

import assert from "node:assert/strict";
import { unetToOnnx } from "../../lib/export/mod.ts";
import { resolveUNetConfig, UNET_PRESETS, type UNetConfig } from "../../lib/nn/unet_config.ts";
import { randomUNetTensors } from "./_unet_fixtures.ts";

const CHECK = `
import sys, onnx
from onnx import checker, shape_inference
m = onnx.load_from_string(sys.stdin.buffer.read())
checker.check_model(m, full_check=True)
out = shape_inference.infer_shapes(m, strict_mode=True).graph.output[0]
print([d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim])
`;

function _python(): { exe: string; maxOpset: number } | undefined {
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") return undefined;
  for (const exe of ["python3", "/usr/bin/python3"]) {
    try {
      const r = new Deno.Command(exe, {
        args: ["-c", "import onnx.defs; print(onnx.defs.onnx_opset_version())"],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      if (r.success) return { exe, maxOpset: Number(new TextDecoder().decode(r.stdout)) };
    } catch {
      // Not installed.
    }
  }
  return undefined;
}

const PYTHON = _python();

function _inCi(): boolean {
  try {
    return Boolean(Deno.env.get("CI"));
  } catch {
    return false;
  }
}

async function check(model: Uint8Array): Promise<string> {
  const child = new Deno.Command(PYTHON!.exe, {
    args: ["-c", CHECK],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(model);
  await writer.close();
  const r = await child.output();
  const text = new TextDecoder().decode(r.success ? r.stdout : r.stderr);
  assert.ok(r.success, `onnx.checker: ${text}`);
  return text.trim();
}

const CONFIGS: Record<string, UNetConfig> = {
  "tiny": UNET_PRESETS.tiny,
  "acdc-style": resolveUNetConfig("acdc", { filters: [5, 7, 9] }),
  "transposed post-order": resolveUNetConfig("nnn-bench", { inChannels: 3, outChannels: 2 }),
};

for (const [name, cfg] of Object.entries(CONFIGS)) {
  Deno.test({
    name: `unetToOnnx() output passes the official ONNX checker and shape inference (${name})`,
    // .ci/run installs python3-onnx, so CI runs this test; elsewhere it needs the package.
    ignore: PYTHON === undefined && !_inCi(),
    fn: async () => {
      const tensors = randomUNetTensors(cfg, 8);
      for (const opset of [13, 17].filter((o) => o <= PYTHON!.maxOpset)) {
        const dims = await check(unetToOnnx(cfg, tensors, { opset }));
        assert.equal(dims, `['N', ${cfg.outChannels}, 'D', 'H', 'W']`);
      }
    },
  });
}
