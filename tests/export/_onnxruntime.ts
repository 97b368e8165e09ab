/**
 * Runs exported ONNX models in tests with onnxruntime-web (WebAssembly, one thread, no native
 * addon and so no `--allow-ffi`).
 */

import * as ort from "onnxruntime-web";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/** Output of {@linkcode runOnnx}. */
export interface OnnxRun {
  /** Output values. */
  data: Float32Array;
  /** Output shape. */
  dims: number[];
}

/**
 * Run a model with one float32 input and read one float32 output.
 *
 * @param model Model bytes.
 * @param input Input values.
 * @param dims Input shape.
 * @param names Input and output names.
 * @returns The output.
 */
export async function runOnnx(
  model: Uint8Array,
  input: Float32Array,
  dims: readonly number[],
  names: { input: string; output: string } = { input: "image", output: "probabilities" },
): Promise<OnnxRun> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: "all" });
  try {
    const out = await session.run({ [names.input]: new ort.Tensor("float32", input, dims) });
    const y = out[names.output];
    return { data: y.data as Float32Array, dims: [...y.dims] };
  } finally {
    await session.release();
  }
}

/**
 * The inputs, outputs and metadata a runtime reads from a model.
 *
 * @param model Model bytes.
 * @returns Names of the inputs and outputs.
 */
export async function onnxSignature(
  model: Uint8Array,
): Promise<{ inputs: readonly string[]; outputs: readonly string[] }> {
  const session = await ort.InferenceSession.create(model);
  try {
    return { inputs: [...session.inputNames], outputs: [...session.outputNames] };
  } finally {
    await session.release();
  }
}
