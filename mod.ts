/**
 * dicelab: train 3D U-Nets on WebGPU for medical image segmentation with the Dice loss's two
 * hidden choices made explicit — the reduction sets Φ and the smoothing term ε
 * (Tilborghs, Bertels et al., "The Dice loss in the context of missing or empty labels",
 * MICCAI 2022).
 *
 * - Dice-loss family (float64, exact gradients): {@linkcode diceLoss}, {@linkcode heuristicEpsilon},
 *   and the Φ/ε regime analyzer {@linkcode analyzeRegime}.
 * - NIfTI I/O: {@linkcode readNifti}, {@linkcode writeNifti}.
 * - Datasets, preprocessing, partial labels and phantoms: {@linkcode listDataset},
 *   {@linkcode loadCase}, {@linkcode ensurePhantom}.
 * - Statistics and reports: {@linkcode pairedBootstrap}, {@linkcode permutationTest},
 *   {@linkcode writeReport}.
 * - WebGPU training: {@linkcode requestGpu}, {@linkcode Trainer}, {@linkcode buildUNetPlan}.
 * - Pipelines (schema, runner, reproduce, analyze) live in the `./pipeline` entry point.
 *
 * @example
 * ```ts
 * import { diceLoss } from "./mod.ts";
 * const pred = new Float32Array([0.9, 0.1, 0.8, 0.2]);
 * const target = new Float32Array([1, 0, 1, 0]);
 * const { loss, grad } = diceLoss(pred, target, [1, 1, 4], { phi: "BI", epsilon: 1e-7 });
 * console.log(loss.toFixed(4), grad.length);
 * ```
 *
 * @module
 */

export * from "./lib/loss/mod.ts";
export * from "./lib/nifti/mod.ts";
export * from "./lib/data/mod.ts";
export * from "./lib/eval/mod.ts";
export * from "./lib/report/mod.ts";
export * from "./lib/gpu/mod.ts";
export * from "./lib/nn/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/pool/mod.ts";
