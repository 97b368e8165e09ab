/**
 * The network: U-Net configuration and presets, parameter storage, the GPU training/inference
 * plan, its float64 reference, and the checkpoint format.
 *
 * @module
 */

export * from "./unet_config.ts";
export * from "./param_store.ts";
export * from "./unet3d.ts";
export * from "./unet3d_ref.ts";
export * from "./checkpoint.ts";
