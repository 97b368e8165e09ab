/**
 * The dicelab version recorded in exported models (kept equal to deno.json's `version` by
 * `tests/predict/model_file_test.ts`).
 *
 * @module
 */

/** This build's version (deno.json `version`). */
export const DICELAB_VERSION = "0.1.0";
