/**
 * The example-case format of a run folder, read by the report for the overlays:
 * `examples/<name>.json` describes a case and points to raw little-endian arrays
 * (`float32` image, `uint8` label maps) in `.bin` files beside it. Independent of lib/nifti:
 * the pipeline writes these with {@linkcode writeExample}. Format: docs/report-schema.md.
 *
 * @module
 */

import { writeFileAtomic, writeJsonAtomic } from "../core/atomic_write.ts";
import type { OverlayExample } from "./overlay.ts";

/** Element type of a raw array file. */
export type RawDtype = "float32" | "uint8";

/** A raw array file reference. */
export interface RawArrayRef {
  /** File name relative to the JSON file. */
  file: string;
  /** Element type (little-endian). */
  dtype: RawDtype;
}

/** `examples/<name>.json`. */
export interface ExampleFile {
  /** Case id. */
  caseId: string;
  /** Group. */
  group?: string;
  /** Caption. */
  title?: string;
  /** Volume shape `[D, H, W]`. */
  shape: [number, number, number];
  /** Slice to draw (index along D). */
  slice?: number;
  /** Image intensities. */
  image: RawArrayRef;
  /** Full ground truth. */
  truth: RawArrayRef;
  /** Ground truth used in training. */
  truthTrain?: RawArrayRef;
  /** Predictions, one panel each. */
  predictions: (RawArrayRef & { label: string })[];
}

/**
 * Read every `examples/*.json` of a run folder (sorted by file name); an absent folder gives
 * no examples.
 *
 * @param runDir The run folder.
 * @returns The examples with their arrays loaded.
 * @throws {SyntaxError} When a JSON file does not parse.
 * @throws {TypeError} When a field is missing or an array has the wrong size.
 */
export async function readExamples(runDir: string): Promise<OverlayExample[]> {
  const dir = `${runDir}/examples`;
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".json")) names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const out: OverlayExample[] = [];
  for (const name of names.sort()) out.push(await _readExample(dir, name));
  return out;
}

/**
 * Write an example in the run-folder format (`<dir>/<name>.json` plus one `.bin` per array),
 * atomically.
 *
 * @param dir The examples folder (created if missing).
 * @param name Base name of the files (letters, digits, `_`, `-`, `.`).
 * @param example The case.
 * @returns Resolves when every file is in place.
 * @throws {RangeError} When the name has other characters.
 */
export async function writeExample(
  dir: string,
  name: string,
  example: OverlayExample,
): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new RangeError(`Cannot write example: name "${name}" has unsafe characters`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const bytes = (a: Float32Array | Uint8Array) => {
    if (a instanceof Uint8Array) return a;
    const out = new Uint8Array(a.length * 4);
    const view = new DataView(out.buffer);
    a.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return out;
  };
  const ref = async (suffix: string, a: Float32Array | Uint8Array): Promise<RawArrayRef> => {
    const file = `${name}.${suffix}.bin`;
    await writeFileAtomic(`${dir}/${file}`, bytes(a));
    return { file, dtype: a instanceof Float32Array ? "float32" : "uint8" };
  };
  const json: ExampleFile = {
    caseId: example.caseId,
    ...(example.group !== undefined ? { group: example.group } : {}),
    ...(example.title !== undefined ? { title: example.title } : {}),
    shape: example.shape,
    ...(example.slice !== undefined ? { slice: example.slice } : {}),
    image: await ref("image", example.image),
    truth: await ref("truth", example.truth),
    ...(example.truthTrain ? { truthTrain: await ref("truth_train", example.truthTrain) } : {}),
    predictions: [],
  };
  for (const [i, p] of example.predictions.entries()) {
    json.predictions.push({ label: p.label, ...(await ref(`pred${i}`, p.labels)) });
  }
  await writeJsonAtomic(`${dir}/${name}.json`, json);
}

async function _readExample(dir: string, name: string): Promise<OverlayExample> {
  const path = `${dir}/${name}`;
  let json: ExampleFile;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new SyntaxError(`Cannot read example ${path}: ${(err as Error).message}`);
  }
  const fail = (field: string, state: string) =>
    new TypeError(`Cannot read example ${path}: ${field} ${state}`);
  if (typeof json.caseId !== "string") throw fail("caseId", "is not a string");
  const shape = json.shape;
  if (
    !Array.isArray(shape) || shape.length !== 3 || !shape.every((s) => Number.isInteger(s) && s > 0)
  ) {
    throw fail("shape", `is ${JSON.stringify(shape)}, expected [D, H, W]`);
  }
  const n = shape[0] * shape[1] * shape[2];
  const load = async (field: string, ref: RawArrayRef | undefined) => {
    if (!ref || typeof ref.file !== "string" || ref.file.includes("/") || ref.file.includes("\\")) {
      throw fail(`${field}.file`, `is ${JSON.stringify(ref?.file)}`);
    }
    const raw = await Deno.readFile(`${dir}/${ref.file}`);
    const size = ref.dtype === "float32" ? 4 : ref.dtype === "uint8" ? 1 : 0;
    if (size === 0) throw fail(`${field}.dtype`, `is ${JSON.stringify(ref.dtype)}`);
    if (raw.length !== n * size) {
      throw fail(field, `file ${ref.file} has ${raw.length} bytes, expected ${n * size}`);
    }
    if (ref.dtype === "uint8") return { f32: undefined, u8: raw };
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const f32 = new Float32Array(n);
    for (let i = 0; i < n; i++) f32[i] = view.getFloat32(i * 4, true);
    return { f32, u8: undefined };
  };
  const labels = async (field: string, ref: RawArrayRef | undefined) => {
    const { f32, u8 } = await load(field, ref);
    return u8 ?? Uint8Array.from(f32!, (v) => Math.round(v));
  };
  const image = await load("image", json.image);
  if (!Array.isArray(json.predictions)) throw fail("predictions", "is not an array");
  return {
    caseId: json.caseId,
    group: json.group,
    title: json.title,
    shape: [shape[0], shape[1], shape[2]],
    slice: json.slice,
    image: image.f32 ?? Float32Array.from(image.u8!),
    truth: await labels("truth", json.truth),
    truthTrain: json.truthTrain ? await labels("truthTrain", json.truthTrain) : undefined,
    predictions: await Promise.all(json.predictions.map(async (p, i) => ({
      label: String(p.label ?? `prediction ${i + 1}`),
      labels: await labels(`predictions.${i}`, p),
    }))),
  };
}
