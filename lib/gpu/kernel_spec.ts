/**
 * Typed WGSL kernel specs and the code generator that turns a spec into a WGSL module.
 *
 * A spec declares its storage bindings, its uniform struct, its workgroup size, how many
 * workgroups a call needs, and the body of `main`. The generated preamble declares exactly
 * the bindings, `u` (the uniforms) and the builtins `gid`, `lid`, `wid`, `nwg`; nothing else
 * is hidden. Module-scope helpers a kernel needs are written in the spec's `prelude`.
 *
 * @module
 */

/** Access mode of a storage binding. `"write"` is generated as `read_write` (WGSL has no write-only storage buffers). */
export type BindingAccess = "read" | "write" | "read_write";

/** Element type of a storage array binding. */
export type ElementType = "f32" | "u32" | "i32" | "vec4<f32>" | "atomic<u32>" | "atomic<i32>";

/** A binding: an access mode (element type `f32`) or an access mode and element type. */
export type BindingDecl = BindingAccess | { access: BindingAccess; type: ElementType };

/** Scalar type of a uniform field. All are 4 bytes, so the uniform struct packs without padding. */
export type UniformType = "u32" | "i32" | "f32";

/** Number of workgroups of a call, per dimension. */
export type Workgroups = readonly [number, number, number];

/** A compute kernel declared as data. */
export interface KernelSpec<U extends string = string> {
  /** Kernel name: labels the pipeline and selects `DICELAB_PRINT_WGSL` dumps. */
  name: string;
  /** Storage bindings in binding order. */
  bindings: Readonly<Record<string, BindingDecl>>;
  /** Uniform struct fields in declaration order (the struct is bound as `u`). */
  uniforms: Readonly<Record<U, UniformType>>;
  /** `@workgroup_size`; a number means `[n, 1, 1]`. */
  workgroupSize: number | readonly [number, number, number];
  /** Workgroups to dispatch for the given uniform values. */
  dispatch: (u: Readonly<Record<U, number>>) => Workgroups;
  /** Module-scope WGSL (consts, helper functions, `var<workgroup>`), emitted before `main`. */
  prelude?: string;
  /** The body of `main`. */
  body: string;
}

/**
 * Tag for WGSL template literals; returns the source unchanged (it exists so editors and
 * readers can spot WGSL, and so interpolated values are visible at the call site).
 *
 * @param strings Template strings.
 * @param values Interpolated values (numbers are formatted as WGSL literals by the caller).
 * @returns The WGSL source.
 */
export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += String(values[i]) + strings[i + 1];
  return out;
}

/** Normalise a binding declaration to `{ access, type }`. */
export function bindingOf(decl: BindingDecl): { access: BindingAccess; type: ElementType } {
  return typeof decl === "string" ? { access: decl, type: "f32" } : decl;
}

/** Workgroup size as a triple. */
export function workgroupTriple(spec: KernelSpec): [number, number, number] {
  const w = spec.workgroupSize;
  return typeof w === "number" ? [w, 1, 1] : [w[0], w[1], w[2]];
}

/** Byte size of the uniform buffer of a spec (fields are 4 bytes; rounded up to 16). */
export function uniformByteSize(spec: KernelSpec): number {
  const n = Object.keys(spec.uniforms).length;
  return Math.max(16, Math.ceil((n * 4) / 16) * 16);
}

/**
 * Generate the complete WGSL module of a spec.
 *
 * @param spec The kernel spec.
 * @returns WGSL source with the generated preamble, the prelude and `main`.
 */
export function generateWgsl(spec: KernelSpec): string {
  const lines: string[] = [];
  const uniformNames = Object.keys(spec.uniforms);
  let binding = 0;
  for (const [name, decl] of Object.entries(spec.bindings)) {
    const { access, type } = bindingOf(decl);
    const mode = access === "read" ? "read" : "read_write";
    lines.push(
      `@group(0) @binding(${binding++}) var<storage, ${mode}> ${name}: array<${type}>;`,
    );
  }
  if (uniformNames.length > 0) {
    lines.push(`struct Uniforms {`);
    for (const name of uniformNames) {
      lines.push(`  ${name}: ${(spec.uniforms as Record<string, UniformType>)[name]},`);
    }
    lines.push(`}`);
    lines.push(`@group(0) @binding(${binding++}) var<uniform> u: Uniforms;`);
  }
  if (spec.prelude) lines.push(spec.prelude.trim());
  const [x, y, z] = workgroupTriple(spec);
  lines.push(`@compute @workgroup_size(${x}, ${y}, ${z})`);
  lines.push(
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>, ` +
      `@builtin(local_invocation_id) lid: vec3<u32>, ` +
      `@builtin(workgroup_id) wid: vec3<u32>, ` +
      `@builtin(num_workgroups) nwg: vec3<u32>) {`,
  );
  lines.push(spec.body.replace(/^\n+|\s+$/g, ""));
  lines.push(`}`);
  return lines.join("\n") + "\n";
}

/**
 * Workgroups for a 1-D problem of `n` invocations, folded into x and y so that neither
 * exceeds `maxPerDim`. Kernels recover the flat index as
 * `gid.x + gid.y * nwg.x * WORKGROUP_SIZE`.
 *
 * @param n Number of invocations needed.
 * @param workgroupSize Invocations per workgroup.
 * @param maxPerDim Largest workgroup count per dimension.
 * @returns The workgroup triple.
 */
export function grid1d(n: number, workgroupSize: number, maxPerDim = 65535): Workgroups {
  const groups = Math.max(1, Math.ceil(n / workgroupSize));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

/** Format a number as a WGSL `f32` literal (always with a decimal point or exponent). */
export function f32Literal(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`Cannot format WGSL literal: value is ${v}`);
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
