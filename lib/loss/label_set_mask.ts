/**
 * The per-map mask that removes a set-labelled voxel from the maps of its set's members: the
 * "exclude, don't penalise" reading of leaf Dice on label sets, as opposed to Fidon's own
 * `LeafDiceLoss`, where such a voxel is a negative of every class (docs/loss-family.md).
 *
 * @module
 */

import { checkShape, type LabelSetIndex } from "./dice_options.ts";

/** Options of {@linkcode labelSetExclusionMask}. */
export interface LabelSetExclusionMaskOptions {
  /** Label sets: `labelSets[s − 1]` lists the channels of set s. */
  labelSets: ReadonlyArray<ReadonlyArray<number>>;
  /** Per-voxel label set `[B, ...spatial]`: 0 = leaf label, s ≥ 1 = `labelSets[s − 1]`. */
  labelSetIndex: LabelSetIndex;
}

/**
 * A `[B, C, ...spatial]` mask for `diceLoss`'s `mask` option: 0 at voxel i of map (b, c) when
 * the voxel is labelled with a set that contains c, else 1. With it, a voxel labelled
 * {a, b} enters neither the target nor the prediction sums of classes a and b, and stays a
 * negative of every other class:
 * `sDSC_c = (2 Σ_{i ∉ U_c} y_c ŷ_c + ε_nr) / (Σ_{i ∉ U_c} (y_c + ŷ_c) + ε_dr)`,
 * U_c = the voxels whose label set contains c.
 *
 * @param shape `[B, C, ...spatial]`.
 * @param options The label sets and the per-voxel set index.
 * @returns The mask, 1 = counted.
 * @throws {TypeError} When the shape or the index length is invalid.
 * @throws {RangeError} When an index or a channel is out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { labelSetExclusionMask } from "./label_set_mask.ts";
 * // One image, 3 channels, 2 voxels; voxel 1 is "channel 0 or 2".
 * const mask = labelSetExclusionMask([1, 3, 2], {
 *   labelSets: [[0, 2]],
 *   labelSetIndex: new Uint8Array([0, 1]),
 * });
 * assert.deepEqual([...mask], [1, 0, 1, 1, 1, 0]);
 * ```
 */
export function labelSetExclusionMask(
  shape: readonly number[],
  options: LabelSetExclusionMaskOptions,
): Uint8Array {
  const { batch: B, channels: C, voxels: V } = checkShape(shape);
  const { labelSets, labelSetIndex } = options;
  if (labelSetIndex.length !== B * V) {
    throw new TypeError(
      `Invalid options.labelSetIndex: length ${labelSetIndex.length} does not match [B, ...spatial] (${
        B * V
      } voxels)`,
    );
  }
  for (const [s, set] of labelSets.entries()) {
    for (const c of set) {
      if (!Number.isInteger(c) || c < 0 || c >= C) {
        throw new RangeError(
          `Invalid options.labelSets[${s}]: ${c} is not a channel index in 0..${C - 1}`,
        );
      }
    }
  }
  const mask = new Uint8Array(B * C * V).fill(1);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < V; i++) {
      const s = labelSetIndex[b * V + i];
      if (s === 0) continue;
      if (s > labelSets.length) {
        throw new RangeError(
          `Invalid options.labelSetIndex: element ${
            b * V + i
          } is ${s}, but there are ${labelSets.length} label set(s)`,
        );
      }
      for (const c of labelSets[s - 1]) mask[(b * C + c) * V + i] = 0;
    }
  }
  return mask;
}
