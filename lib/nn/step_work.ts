/**
 * The work of a U-Net training step: floating-point operations of its convolutions, for
 * benchmarks (GFLOP/s) and for estimating step times from a measured rate (`deno task plan`).
 *
 * @module
 */

import { type Triple, type UNetConfig, unetLayout } from "./unet_config.ts";

/**
 * Floating-point operations of the convolutions of one training step: per conv `2·B·Cin·Cout·
 * taps·voxels` for the forward pass, the input gradient (not for the very first conv) and the
 * weight gradient, and the same for 2×2×2 transposed convs at the coarse level's voxels.
 *
 * @param cfg Network configuration.
 * @param batch Batch size.
 * @param patch Patch `[D, H, W]`.
 * @returns GFLOP per step.
 * @example
 * ```ts
 * import { UNET_PRESETS } from "./unet_config.ts";
 * const g = convGflopPerStep(UNET_PRESETS.brats, 1, [48, 80, 80]);
 * if (Math.round(g) !== 448) throw new Error(`${g}`);
 * ```
 */
export function convGflopPerStep(cfg: UNetConfig, batch: number, patch: Triple): number {
  const layout = unetLayout(cfg);
  const voxels = [patch[0] * patch[1] * patch[2]];
  for (let l = 0; l < cfg.filters.length - 1; l++) {
    const p = cfg.pools[l];
    voxels.push(voxels[l] / (p[0] * p[1] * p[2]));
  }
  let flops = 0;
  const conv = (cin: number, cout: number, taps: number, v: number, first: boolean) => {
    flops += 2 * batch * cin * cout * taps * v * (first ? 2 : 3);
  };
  layout.encoder.forEach((blocks, l) =>
    blocks.forEach((b, i) =>
      conv(b.cin, b.cout, b.kernel[0] * b.kernel[1] * b.kernel[2], voxels[l], l === 0 && i === 0)
    )
  );
  layout.decoder.forEach((blocks, l) => {
    for (const b of blocks) {
      conv(b.cin, b.cout, b.kernel[0] * b.kernel[1] * b.kernel[2], voxels[l], false);
    }
    if (cfg.upsampling === "transposed") {
      conv(cfg.filters[l + 1], cfg.filters[l], 8, voxels[l + 1], false);
    }
  });
  const h = layout.head;
  conv(h.cin, h.cout, h.kernel[0] * h.kernel[1] * h.kernel[2], voxels[0], false);
  return flops / 1e9;
}
