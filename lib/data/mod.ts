/**
 * Data: dicelab owns the datasets (ACDC and BRATS 2018 in their real on-disk layouts),
 * loading and preprocessing of cases (resampling, intensity normalisation, crop/pad), the
 * paper's partial-label protocols as declarative labelings, loss targets, training patches
 * and augmentation, and seeded phantom datasets written in the real layouts.
 *
 * Arrays are `[C, D, H, W]` / `[D, H, W]`, row-major, with the NIfTI i axis fastest
 * (W = i, H = j, D = k); spacings are `[sd, sh, sw]` in mm.
 *
 * @example
 * ```ts
 * import { applyLabeling, LABELINGS, makeTarget } from "./mod.ts";
 * import type { LoadedCase } from "./mod.ts";
 * const lgg = { group: "LGG", label: new Uint8Array([0, 1, 1]) } as unknown as LoadedCase;
 * const train = applyLabeling(lgg, LABELINGS.bratsPartial);
 * console.log(Array.from(makeTarget(train.label, { encoding: "binary" }))); // [0, 0, 0]
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./datasets.ts";
export * from "./info_cfg.ts";
export * from "./acdc.ts";
export * from "./brats.ts";
export * from "./list_dataset.ts";
export * from "./region.ts";
export * from "./resample.ts";
export * from "./intensity.ts";
export * from "./preprocess.ts";
export * from "./load_case.ts";
export * from "./labeling.ts";
export * from "./patch.ts";
export * from "./augment.ts";
export * from "./phantom_acdc.ts";
export * from "./phantom_brats.ts";
export * from "./ensure_phantom.ts";
// The seeded generator that samplePatch and augmentPatch take.
export { Rng } from "../core/rng.ts";
