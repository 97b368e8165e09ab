/**
 * WebGPU adapter and device acquisition with clear, typed failures.
 *
 * @module
 */

/** Thrown when no usable WebGPU adapter or device can be obtained. */
export class GpuUnavailableError extends Error {
  /** Create the error; `message` says what was tried and what to install. */
  constructor(message: string) {
    super(message);
    this.name = "GpuUnavailableError";
  }
}

/** What we report about the adapter a device was created on. */
export interface AdapterReport {
  /** Human-readable adapter description, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`. */
  description: string;
  /** Vendor string or id as reported by the implementation. */
  vendor: string;
  /** Architecture string (often empty). */
  architecture: string;
  /** True for software / fallback adapters such as llvmpipe. */
  isFallbackAdapter: boolean;
  /** The limits the device was created with (the adapter's maxima for the ones we raise). */
  limits: Record<string, number>;
}

/** A device together with the report of the adapter that produced it. */
export interface GpuContext {
  /** The WebGPU device. */
  device: GPUDevice;
  /** Adapter description and the limits the device was created with. */
  adapter: AdapterReport;
}

/** Options for {@linkcode requestGpu}. */
export interface RequestGpuOptions {
  /**
   * Adapter power preference passed to `navigator.gpu.requestAdapter`.
   * @default "high-performance"
   */
  powerPreference?: GPUPowerPreference;
}

const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
] as const;

const INSTALL_HINT =
  "install a WebGPU-capable driver: on Debian/Ubuntu `apt-get install libegl1 libgl1-mesa-dri` " +
  "(software llvmpipe through EGL) or `mesa-vulkan-drivers` (lavapipe), or a vendor GPU driver";

/**
 * Request a WebGPU adapter and a device with the adapter's maximum compute limits.
 *
 * @param options Adapter preference.
 * @returns The device and a report of its adapter.
 * @throws {GpuUnavailableError} When WebGPU is not enabled, no adapter exists, or device creation fails.
 * @example
 * ```ts ignore
 * const { device, adapter } = await requestGpu();
 * console.log(adapter.description);
 * device.destroy();
 * ```
 */
export async function requestGpu(options: RequestGpuOptions = {}): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new GpuUnavailableError(
      "Cannot acquire a WebGPU adapter: navigator.gpu is undefined; run Deno with " +
        '--unstable-webgpu or add "unstable": ["webgpu"] to deno.json',
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference ?? "high-performance",
    });
  } catch (err) {
    throw new GpuUnavailableError(
      `Cannot acquire a WebGPU adapter: requestAdapter failed (${String(err)}); ${INSTALL_HINT}`,
    );
  }
  if (!adapter) {
    throw new GpuUnavailableError(
      `Cannot acquire a WebGPU adapter: none was found; ${INSTALL_HINT}`,
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits });
  } catch (err) {
    throw new GpuUnavailableError(
      `Cannot create a WebGPU device: requestDevice failed (${String(err)}); ${INSTALL_HINT}`,
    );
  }
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    limits[name] = device.limits[name];
  }
  limits.minStorageBufferOffsetAlignment = device.limits.minStorageBufferOffsetAlignment;
  limits.minUniformBufferOffsetAlignment = device.limits.minUniformBufferOffsetAlignment;
  return {
    device,
    adapter: {
      description: info.description || info.device || "unknown adapter",
      vendor: info.vendor,
      architecture: info.architecture,
      isFallbackAdapter: Boolean(info.isFallbackAdapter),
      limits,
    },
  };
}
