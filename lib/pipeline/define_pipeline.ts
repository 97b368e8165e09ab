/**
 * `definePipeline` for pipeline files, and validation that lists every problem by field path
 * with a hint, before any work starts.
 *
 * @module
 */

import type { z } from "zod";
import { type Pipeline, type PipelineInput, PipelineSchema } from "./schema.ts";

/** One validation problem. */
export interface PipelineIssue {
  /** Dotted field path, e.g. `experiments.I_eps.loss.epsilon`. */
  path: string;
  /** What is wrong. */
  message: string;
  /** The field's description, when known. */
  hint?: string;
}

/** A pipeline file failed validation; `issues` lists every problem. */
export class PipelineError extends Error {
  /** Every problem found. */
  readonly issues: PipelineIssue[];
  /**
   * Create the error.
   *
   * @param source The pipeline file or name.
   * @param issues The problems.
   */
  constructor(source: string, issues: PipelineIssue[]) {
    const lines = issues.map((i) =>
      `  ${i.path || "(root)"}: ${i.message}${i.hint ? ` — ${i.hint}` : ""}`
    );
    super(`Invalid pipeline ${source}: ${issues.length} problem(s)\n${lines.join("\n")}`);
    this.name = "PipelineError";
    this.issues = issues;
  }
}

/** A pipeline file that cannot be imported, or has no default export (exit 2, like a bad pipeline). */
export class PipelineLoadError extends Error {
  /**
   * Create the error.
   *
   * @param message What failed, naming the file.
   */
  constructor(message: string) {
    super(message);
    this.name = "PipelineLoadError";
  }
}

/**
 * Declare a pipeline (the default export of a file under `pipelines/`). It returns the
 * definition unchanged; validation happens when the CLI loads it, so every problem is
 * reported at once with its field path.
 *
 * @param pipeline The pipeline definition.
 * @returns The same definition, typed.
 * @example
 * ```ts ignore
 * export default definePipeline({ ...acdcBase, name: "acdc-eps", seed: 2 });
 * ```
 */
export function definePipeline(pipeline: PipelineInput): PipelineInput {
  return pipeline;
}

type AnySchema = z.ZodType;

/** A schema's definition, read field by field (zod 4's `_zod.def`). */
interface SchemaDef {
  type: string;
  [field: string]: unknown;
}

function _def(s: AnySchema): SchemaDef {
  return s._zod.def as SchemaDef;
}

function _unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    const def = _def(cur) as SchemaDef & { innerType?: AnySchema; in?: AnySchema };
    if (
      (def.type === "default" || def.type === "optional" || def.type === "prefault" ||
        def.type === "nullable" || def.type === "readonly" || def.type === "catch") && def.innerType
    ) cur = def.innerType;
    else if (def.type === "pipe" && def.in) cur = def.in;
    else break;
  }
  return cur;
}

function _description(s: AnySchema): string | undefined {
  let cur: AnySchema | undefined = s;
  for (let i = 0; cur && i < 10; i++) {
    if (cur.description) return cur.description;
    const def = _def(cur) as SchemaDef & { innerType?: AnySchema };
    cur = def.innerType;
  }
  return undefined;
}

/** Find the description of the field at `path`, following the value for unions. */
function _hintAt(root: AnySchema, path: PropertyKey[], value: unknown): string | undefined {
  let s: AnySchema | undefined = root;
  let v = value;
  let hint: string | undefined;
  for (const key of path) {
    if (!s) return hint;
    s = _unwrap(s);
    const def = _def(s);
    const next = v && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[key] : undefined;
    if (def.type === "object") {
      s = (def.shape as Record<string, AnySchema>)[String(key)];
    } else if (def.type === "record") {
      s = def.valueType as AnySchema;
    } else if (def.type === "array") {
      s = def.element as AnySchema;
    } else if (def.type === "tuple") {
      s = (def.items as AnySchema[])[Number(key)];
    } else if (def.type === "union") {
      const options = def.options as AnySchema[];
      const kind = v && typeof v === "object" ? (v as { kind?: unknown }).kind : undefined;
      const match = options.map(_unwrap).find((o) => {
        const od = _def(o) as SchemaDef & { shape?: Record<string, AnySchema> };
        if (od.type !== "object" || !od.shape) return false;
        const k = od.shape.kind &&
          _def(_unwrap(od.shape.kind)) as SchemaDef & { values?: unknown[] };
        return !kind || (k?.values?.includes(kind) ?? false);
      });
      s = match
        ? (_def(_unwrap(match)) as SchemaDef & { shape: Record<string, AnySchema> }).shape[
          String(key)
        ]
        : undefined;
    } else {
      s = undefined;
    }
    v = next;
    if (s) hint = _description(s) ?? hint;
  }
  return s ? _description(s) : hint;
}

/** Cross-field checks zod cannot express per field. */
function _crossCheck(p: Pipeline): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  for (const [name, exp] of Object.entries(p.experiments)) {
    const { loss } = exp;
    if (
      Array.isArray(loss.epsilon) && loss.classes && loss.epsilon.length !== loss.classes.length
    ) {
      issues.push({
        path: `experiments.${name}.loss.epsilon`,
        message:
          `a per-class array needs one entry per kept class (${loss.classes.length}), got ${loss.epsilon.length}`,
      });
    }
  }
  const q = p.quick;
  for (const e of q.experiments ?? []) {
    if (!(e in p.experiments)) {
      issues.push({
        path: "quick.experiments",
        message: `unknown experiment "${e}" (have ${Object.keys(p.experiments).join(", ")})`,
      });
    }
  }
  for (const l of q.labelings ?? []) {
    if (!(l in p.labelings)) {
      issues.push({
        path: "quick.labelings",
        message: `unknown labeling "${l}" (have ${Object.keys(p.labelings).join(", ")})`,
      });
    }
  }
  for (const f of q.folds ?? []) {
    if (f >= p.evaluation.folds) {
      issues.push({
        path: "quick.folds",
        message: `fold ${f} does not exist (folds 0..${p.evaluation.folds - 1})`,
      });
    }
  }
  return issues;
}

/**
 * Validate a pipeline definition, filling defaults.
 *
 * @param value The definition (e.g. a pipeline module's default export).
 * @param source File or name for the error message.
 * @returns The validated pipeline.
 * @throws {PipelineError} Listing every problem with its field path and a hint.
 */
export function validatePipeline(value: unknown, source = "pipeline"): Pipeline {
  const result = PipelineSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i): PipelineIssue => {
      const path = i.path.map(String).join(".");
      let message = i.message;
      if (i.code === "unrecognized_keys") {
        message = `unknown field(s) ${
          (i as { keys: string[] }).keys.map((k) => `"${k}"`).join(", ")
        }`;
      }
      return {
        path,
        message,
        hint: _hintAt(PipelineSchema, i.path, value),
      };
    });
    throw new PipelineError(source, issues);
  }
  const cross = _crossCheck(result.data);
  if (cross.length > 0) throw new PipelineError(source, cross);
  return result.data;
}

/**
 * Import a pipeline file and validate its default export.
 *
 * @param path Path of the pipeline module.
 * @returns The validated pipeline and its absolute URL.
 * @throws {PipelineError} When the definition is invalid.
 * @throws {PipelineLoadError} When the file cannot be imported or has no default export.
 */
export async function loadPipeline(path: string): Promise<{ pipeline: Pipeline; url: string }> {
  const url = new URL(path, `file://${Deno.cwd()}/`).href;
  let mod: { default?: unknown };
  try {
    mod = await import(url);
  } catch (err) {
    throw new PipelineLoadError(`Cannot load pipeline ${path}: ${(err as Error).message}`);
  }
  if (mod.default === undefined) {
    throw new PipelineLoadError(
      `Cannot load pipeline ${path}: it has no default export (export default definePipeline({...}))`,
    );
  }
  return { pipeline: validatePipeline(mod.default, path), url };
}
