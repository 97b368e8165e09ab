/**
 * The native model file (`.dicelab`): one versioned, self-describing file holding a trained
 * model's weights (one member per fold of an ensemble), network configuration, preprocessing
 * rules, sliding-window settings, channel and class names, loss configuration and provenance,
 * with a SHA-256 checksum.
 *
 * Layout (all little-endian; the tensor encoding is the checkpoint's, `lib/nn/checkpoint.ts`):
 * ```
 * 0   8 bytes  magic "DLMODEL\0"
 * 8   u32      format version (1)
 * 12  u32      header length H in bytes
 * 16  H bytes  header JSON (UTF-8): { format: "dicelab.model", network, preprocessing,
 *              inference, dataset, loss, provenance, payloadBytes,
 *              members: [{ fold, job, seed, weights, epoch?, epsilon,
 *                          tensors: [{ name, shape, offset }] }] }
 *     pad      zero bytes up to a multiple of 4
 *     payload  payloadBytes bytes: float32 tensors at their offset (bytes from the payload start)
 * end 32 bytes SHA-256 of every preceding byte
 * ```
 *
 * @module
 */

import { writeFileAtomic } from "../core/atomic_write.ts";
import type { NamedTensor } from "../nn/checkpoint.ts";
import { type UNetConfig, unetParams, validateUNetConfig } from "../nn/unet_config.ts";
import type { DicelabModel, ModelMember } from "./model_types.ts";

const MAGIC = new Uint8Array([0x44, 0x4c, 0x4d, 0x4f, 0x44, 0x45, 0x4c, 0x00]); // "DLMODEL\0"
const CHECKPOINT_MAGIC = [0x44, 0x4c, 0x43, 0x4b, 0x50, 0x54]; // "DLCKPT"
const FORMAT = "dicelab.model";
const PREFIX = 16;
const DIGEST = 32;

/** The model file format version this build writes and reads. */
export const MODEL_FORMAT_VERSION = 1;

interface _TensorEntry {
  name: string;
  shape: number[];
  offset: number;
}

interface _Header extends Omit<DicelabModel, "members"> {
  format: string;
  payloadBytes: number;
  members: (Omit<ModelMember, "tensors"> & { tensors: _TensorEntry[] })[];
}

/**
 * Serialise a model.
 *
 * @param model The model.
 * @returns The file bytes, checksum included.
 * @throws {TypeError} When a member's tensors do not match the network (names, shapes, data
 *   length) or the model has no member.
 * @example
 * ```ts ignore
 * const bytes = await encodeModel(model);
 * await Deno.writeFile("model.dicelab", bytes);
 * ```
 */
export async function encodeModel(model: DicelabModel): Promise<Uint8Array> {
  if (model.members.length === 0) {
    throw new TypeError("Cannot encode model: it has no member (no trained network)");
  }
  const problem = _checkTensors(model.network, model.members);
  if (problem) throw new TypeError(`Cannot encode model: ${problem}`);
  let offset = 0;
  const members = model.members.map(({ tensors, ...rest }) => ({
    ...rest,
    tensors: tensors.map((t) => {
      const entry = { name: t.name, shape: [...t.shape], offset };
      offset += t.data.length * 4;
      return entry;
    }),
  }));
  const { members: _, ...meta } = model;
  const header: _Header = { format: FORMAT, ...meta, payloadBytes: offset, members };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const payloadStart = Math.ceil((PREFIX + json.length) / 4) * 4;
  const total = payloadStart + offset + DIGEST;
  const bytes = new Uint8Array(total);
  bytes.set(MAGIC, 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, MODEL_FORMAT_VERSION, true);
  view.setUint32(12, json.length, true);
  bytes.set(json, PREFIX);
  model.members.forEach((m, i) => {
    m.tensors.forEach((t, j) => {
      const base = payloadStart + members[i].tensors[j].offset;
      for (let k = 0; k < t.data.length; k++) view.setFloat32(base + 4 * k, t.data[k], true);
    });
  });
  const digest = await crypto.subtle.digest("SHA-256", bytes.subarray(0, total - DIGEST));
  bytes.set(new Uint8Array(digest), total - DIGEST);
  return bytes;
}

/**
 * Parse and verify a model file: magic, format version, length, checksum, then every header
 * field and every tensor against the network it describes.
 *
 * @param bytes The file bytes.
 * @param source Name for messages (a path). @default "model"
 * @returns The model.
 * @throws {SyntaxError} Naming `source` and the problem: not a model file (or a training
 *   checkpoint), an unknown format version, a truncated file or trailing bytes, a checksum
 *   mismatch, a malformed header or tensors that do not fit the network.
 * @example
 * ```ts ignore
 * const model = await loadModel(await Deno.readFile("model.dicelab"), "model.dicelab");
 * console.log(model.dataset.channels, model.members.length);
 * ```
 */
export async function loadModel(bytes: Uint8Array, source = "model"): Promise<DicelabModel> {
  const fail = (why: string) => new SyntaxError(`Cannot read model ${source}: ${why}`);
  if (bytes.length < PREFIX + DIGEST) {
    throw fail(`the file is truncated (${bytes.length} bytes; a model file has at least 48)`);
  }
  if (!MAGIC.every((b, i) => bytes[i] === b)) {
    if (CHECKPOINT_MAGIC.every((b, i) => bytes[i] === b)) {
      throw fail(
        "it is a checkpoint (weights.ckpt), not a model; predict from its job folder or export it " +
          "with `deno task export`",
      );
    }
    throw fail("not a dicelab model file (bad magic)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  const headerLength = view.getUint32(12, true);
  const headerEnd = PREFIX + headerLength;
  const text = () => new TextDecoder().decode(bytes.subarray(PREFIX, headerEnd));
  if (version !== MODEL_FORMAT_VERSION) {
    let writer = "";
    try {
      const v = JSON.parse(text())?.provenance?.dicelabVersion;
      if (typeof v === "string") writer = ` (written by dicelab ${v})`;
    } catch { /* an unknown version may have any header */ }
    throw fail(
      `format version ${version}${writer} is not supported: this dicelab reads version ` +
        `${MODEL_FORMAT_VERSION}; export the model again or use the dicelab that wrote it`,
    );
  }
  if (headerEnd > bytes.length - DIGEST) {
    throw fail(`the file is truncated (${bytes.length} bytes, shorter than its header)`);
  }
  let header: _Header;
  try {
    header = JSON.parse(text());
  } catch (err) {
    throw fail(`the header is not valid JSON (the file is corrupt: ${(err as Error).message})`);
  }
  if (!header || typeof header !== "object" || header.format !== FORMAT) {
    throw fail(`the header's format is ${JSON.stringify(header?.format)}, expected "${FORMAT}"`);
  }
  const payloadStart = Math.ceil(headerEnd / 4) * 4;
  if (!Number.isInteger(header.payloadBytes) || header.payloadBytes < 0) {
    throw fail("the header's payloadBytes is not a byte count (the file is corrupt)");
  }
  const expected = payloadStart + header.payloadBytes + DIGEST;
  if (bytes.length < expected) {
    throw fail(`the file is truncated (${bytes.length} of ${expected} bytes)`);
  }
  if (bytes.length > expected) {
    throw fail(`the file has ${bytes.length - expected} trailing bytes after its checksum`);
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      bytes.subarray(0, bytes.length - DIGEST) as Uint8Array<ArrayBuffer>,
    ),
  );
  const stored = bytes.subarray(bytes.length - DIGEST);
  if (!digest.every((b, i) => b === stored[i])) {
    throw fail("checksum mismatch (the file is corrupt)");
  }
  const bad = _checkHeader(header);
  if (bad) throw fail(bad);
  const members: ModelMember[] = header.members.map(({ tensors, ...rest }) => ({
    ...rest,
    tensors: tensors.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const start = payloadStart + t.offset;
      if (!Number.isInteger(t.offset) || t.offset < 0 || t.offset + 4 * n > header.payloadBytes) {
        throw fail(`tensor ${t.name} lies outside the payload`);
      }
      const data = new Float32Array(n);
      for (let k = 0; k < n; k++) data[k] = view.getFloat32(start + 4 * k, true);
      return { name: t.name, shape: t.shape, data };
    }),
  }));
  const mismatch = _checkTensors(header.network, members);
  if (mismatch) throw fail(mismatch);
  const { format: _f, payloadBytes: _p, members: _m, ...meta } = header;
  return { ...meta, members };
}

/**
 * Write a model file atomically (temporary sibling + rename).
 *
 * @param path Target path; its folder must exist.
 * @param model The model.
 * @returns Resolves when the file is in place.
 * @throws {TypeError} When the model's tensors do not match its network.
 */
export async function saveModel(path: string, model: DicelabModel): Promise<void> {
  await writeFileAtomic(path, await encodeModel(model));
}

/**
 * Read and verify a model file.
 *
 * @param path The `.dicelab` file.
 * @returns The model.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {SyntaxError} When it is not a valid model file (see {@linkcode loadModel}).
 */
export async function readModelFile(path: string): Promise<DicelabModel> {
  return await loadModel(await Deno.readFile(path), path);
}

/** What is wrong with a parsed header's fields, or undefined. */
function _checkHeader(h: _Header): string | undefined {
  const missing =
    (["network", "preprocessing", "inference", "dataset", "loss", "provenance"] as const)
      .find((k) => !h[k] || typeof h[k] !== "object");
  if (missing) return `the header has no ${missing} section`;
  try {
    validateUNetConfig(h.network);
  } catch (err) {
    return `the network configuration is invalid (${(err as Error).message})`;
  }
  const { window } = h.inference;
  if (!Array.isArray(window) || window.length !== 3 || !window.every((v) => v >= 1)) {
    return `inference.window ${JSON.stringify(window)} is not three positive sizes`;
  }
  if (!(h.inference.overlap >= 0 && h.inference.overlap < 1)) {
    return `inference.overlap ${h.inference.overlap} is not in [0, 1)`;
  }
  const ds = h.dataset;
  if (!Array.isArray(ds.channels) || ds.channels.length !== h.network.inChannels) {
    return `dataset.channels ${JSON.stringify(ds.channels)} does not match the network's ` +
      `${h.network.inChannels} input channel(s)`;
  }
  if (!Array.isArray(ds.outputs) || ds.outputs.length !== h.network.outChannels) {
    return `dataset.outputs ${JSON.stringify(ds.outputs)} does not match the network's ` +
      `${h.network.outChannels} output map(s)`;
  }
  if (!Array.isArray(ds.classes) || ds.classes.length < 2) {
    return `dataset.classes ${JSON.stringify(ds.classes)} names fewer than two classes`;
  }
  if (ds.target === "regions") {
    const K = h.network.outChannels;
    if (!Array.isArray(ds.regions) || ds.regions.length !== K) {
      return `dataset.regions ${JSON.stringify(ds.regions)} does not give one region per ` +
        `output map (${K})`;
    }
    const order = ds.regionsClassOrder;
    if (
      !Array.isArray(order) || order.length !== K ||
      !order.every((v) => Number.isInteger(v) && v >= 1 && v < ds.classes.length)
    ) {
      return `dataset.regionsClassOrder ${JSON.stringify(order)} does not give one label value ` +
        `1..${ds.classes.length - 1} per region`;
    }
    if (h.network.head !== "sigmoid") return `a region-based model needs a sigmoid head`;
  }
  if (!Array.isArray(h.members) || h.members.length === 0) return "the model has no member";
  const noTable = h.members.findIndex((m) => !Array.isArray(m.tensors));
  if (noTable >= 0) return `member ${noTable} has no tensor table`;
  return undefined;
}

/** The first tensor of a member that does not fit the network, as a message, or undefined. */
function _checkTensors(
  cfg: UNetConfig,
  members: readonly { fold: number; tensors: readonly NamedTensor[] }[],
): string | undefined {
  const { params, state } = unetParams(cfg);
  const want = [
    ...params.map((p) => ({ name: p.name, shape: [...p.shape] })),
    ...state.map((s) => ({ name: `state/${s.name}`, shape: [s.size] })),
  ];
  for (const m of members) {
    const have = new Map(m.tensors.map((t) => [t.name, t]));
    for (const w of want) {
      const t = have.get(w.name);
      if (!t) return `member of fold ${m.fold} has no tensor ${w.name}`;
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (JSON.stringify([...t.shape]) !== JSON.stringify(w.shape) || t.data.length !== n) {
        return `tensor ${w.name} of fold ${m.fold} has shape ${JSON.stringify([...t.shape])} ` +
          `(${t.data.length} values), the network needs ${JSON.stringify(w.shape)}`;
      }
    }
    if (m.tensors.length !== want.length) {
      const extra = m.tensors.find((t) => !want.some((w) => w.name === t.name));
      return `member of fold ${m.fold} has a tensor the network does not have (${extra?.name})`;
    }
  }
  return undefined;
}
