/**
 * Declarative pipelines: `definePipeline` and the zod-validated schema, jobs and shards,
 * running, merging, reproduction checks and the Φ/ε regime analysis. Published as the
 * `./pipeline` entry point.
 *
 * @example
 * ```ts ignore
 * import { definePipeline } from "jsr:@dicelab/dicelab/pipeline";
 * export default definePipeline({ ...base, name: "acdc-eps", seed: 2 });
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export * from "./define_pipeline.ts";
export * from "./jobs.ts";
export * from "./run.ts";
export * from "./merge.ts";
export * from "./reproduce.ts";
export * from "./analyze.ts";
export * from "./compare.ts";
export * from "./breakdown.ts";
