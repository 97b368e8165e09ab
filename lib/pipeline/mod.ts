/**
 * Declarative pipelines: the zod schema, `definePipeline`, jobs and shards, running, merging,
 * reproduction checks and the Φ/ε regime analysis.
 *
 * @module
 */

export * from "./schema.ts";
export * from "./define_pipeline.ts";
export * from "./jobs.ts";
export * from "./run.ts";
export * from "./merge.ts";
export * from "./reproduce.ts";
export * from "./analyze.ts";
