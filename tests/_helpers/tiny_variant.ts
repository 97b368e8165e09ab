/**
 * Test helpers for trainings on the tiny BRATS preset: a validated variant with phantom-training
 * and training overrides (partial labels, BI, fold 0 under `--quick`), and a bit-for-bit
 * comparison of checkpoint tensors.
 */

import assert from "node:assert/strict";
import type { NamedTensor } from "../../lib/nn/checkpoint.ts";
import { definePipeline, validatePipeline } from "../../lib/pipeline/define_pipeline.ts";
import type { Pipeline, PipelineInput } from "../../lib/pipeline/schema.ts";
import tiny from "../../pipelines/tiny_brats.ts";

/**
 * The tiny BRATS preset with `dataset.phantom.training` and `training` fields replaced.
 *
 * @param name Pipeline name.
 * @param phantomTraining Phantom-training overrides (epochs, lr, schedule, evaluateWeights…).
 * @param training Training overrides (e.g. pipelining).
 * @returns The validated pipeline; `--quick` runs BI with partial labels on fold 0.
 */
export function tinyVariant(
  name: string,
  phantomTraining: NonNullable<PipelineInput["dataset"]["phantom"]>["training"],
  training: Partial<PipelineInput["training"]> = {},
): Pipeline {
  return validatePipeline(
    definePipeline({
      ...tiny,
      name,
      dataset: {
        ...tiny.dataset,
        phantom: {
          ...tiny.dataset.phantom,
          training: { ...tiny.dataset.phantom!.training, ...phantomTraining },
        },
      },
      training: { ...tiny.training, ...training },
      quick: { folds: [0], labelings: ["partial"], experiments: ["BI"] },
    }),
    name,
  );
}

/**
 * Assert that two lists of tensors are bit-identical (names and every float's bits).
 *
 * @param actual Tensors to check.
 * @param expected Reference tensors.
 * @param what Label for messages.
 */
export function assertSameTensors(
  actual: readonly NamedTensor[],
  expected: readonly NamedTensor[],
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: tensor count`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i].name, expected[i].name, `${what}: tensor ${i} name`);
    assert.deepEqual(
      new Uint32Array(actual[i].data.buffer, actual[i].data.byteOffset, actual[i].data.length),
      new Uint32Array(
        expected[i].data.buffer,
        expected[i].data.byteOffset,
        expected[i].data.length,
      ),
      `${what}: tensor ${expected[i].name} differs`,
    );
  }
}
