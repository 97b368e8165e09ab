import assert from "node:assert/strict";
import {
  parameterCount,
  resolveUNetConfig,
  sizeDivisor,
  UNET_PRESETS,
  unetLayout,
  unetParams,
} from "./unet_config.ts";

Deno.test("parameterCount() of the nnn-bench preset is 85,337 as in unet-bench.md", () => {
  assert.equal(parameterCount(UNET_PRESETS["nnn-bench"]), 85337);
});

Deno.test("unetLayout() of the BRATS preset concatenates upsampled and skip channels", () => {
  const layout = unetLayout(UNET_PRESETS.brats);
  // Nearest upsampling keeps the deeper level's channels: 480 + 240 into the level-3 decoder.
  assert.deepEqual(layout.decoderInChannels, [60 + 30, 120 + 60, 240 + 120, 480 + 240]);
  assert.equal(layout.encoder[0][0].preNorm, false); // the very first conv has no pre-norm
  assert.equal(layout.encoder[0][1].preNorm, true);
  assert.equal(layout.head.preNorm, true);
});

Deno.test("unetParams() of the ACDC preset has PReLU slopes and batch-norm running stats", () => {
  const { params, state } = unetParams(UNET_PRESETS.acdc);
  assert.ok(params.some((p) => p.name.endsWith(".prelu")));
  assert.equal(state.length % 2, 0);
  assert.ok(state.some((s) => s.name.endsWith("runningVar") && s.value === 1));
  assert.deepEqual(UNET_PRESETS.acdc.kernels[0][1], [1, 3, 3]);
  assert.deepEqual(sizeDivisor(UNET_PRESETS.acdc), [8, 16, 16]);
  const names = new Set(params.map((p) => p.name));
  assert.equal(names.size, params.length, "parameter names are unique");
});

Deno.test("resolveUNetConfig() derives kernels and pools for a different number of levels", () => {
  const cfg = resolveUNetConfig("acdc", { filters: [4, 8, 16] });
  assert.equal(cfg.kernels.length, 3);
  assert.deepEqual(cfg.pools, [[1, 2, 2], [2, 2, 2]]);
  assert.throws(() => resolveUNetConfig("tiny", { pools: [[2, 2, 2]] }), {
    name: "RangeError",
    message: /model\.pools/,
  });
  assert.throws(() => resolveUNetConfig("acdc", { upsampling: "transposed" }), /transposed/);
});
