/**
 * Export of trained networks to other runtimes: the ONNX model of a U-Net (standard opset
 * operators, weights as initializers), from tensors in memory or from a dicelab checkpoint.
 *
 * @module
 */

export {
  DEFAULT_ONNX_OPSET,
  ONNX_INPUT_NAME,
  ONNX_OPSET_RANGE,
  ONNX_OUTPUT_NAME,
  unetToOnnx,
  type UNetToOnnxOptions,
} from "./unet_to_onnx.ts";
export {
  unetConfigOfCheckpoint,
  unetToOnnxFromCheckpoint,
} from "./unet_to_onnx_from_checkpoint.ts";
