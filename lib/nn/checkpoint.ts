/**
 * The versioned checkpoint format (weights, optimiser state, trainer state) with a SHA-256
 * checksum, written atomically.
 *
 * Layout (all little-endian):
 * ```
 * 0   8 bytes  magic "DLCKPT\0\x01"
 * 8   u32      format version (1)
 * 12  u32      header length H in bytes
 * 16  H bytes  header JSON (UTF-8): { kind, createdAt, config, tensors: [{ name, shape, offset }], meta }
 *     pad      zero bytes up to a multiple of 4
 *     payload  float32 tensors at header.tensors[i].offset (bytes from the payload start)
 * end 32 bytes SHA-256 of every preceding byte
 * ```
 * `kind` is `"weights"` (parameters and normalisation state only) or `"training"` (also Adam
 * moments and the trainer's resume state in `meta`).
 *
 * @module
 */

import { writeFileAtomic } from "../core/atomic_write.ts";

const MAGIC = new Uint8Array([0x44, 0x4c, 0x43, 0x4b, 0x50, 0x54, 0x00, 0x01]); // "DLCKPT\0\x01"
/** Current checkpoint format version. */
export const CHECKPOINT_VERSION = 1;

/** A named float32 tensor. */
export interface NamedTensor {
  /** Unique name. */
  name: string;
  /** Shape. */
  shape: readonly number[];
  /** Data (length = product of shape). */
  data: Float32Array;
}

/** Contents of a checkpoint. */
export interface Checkpoint {
  /** `"weights"` or `"training"`. */
  kind: "weights" | "training";
  /** ISO time of creation. */
  createdAt: string;
  /** The model configuration (JSON). */
  config: unknown;
  /** Tensors in order. */
  tensors: NamedTensor[];
  /** Free-form JSON state (trainer progress, optimiser step, RNG positions …). */
  meta: Record<string, unknown>;
}

/**
 * Serialise a checkpoint.
 *
 * @param ckpt The checkpoint.
 * @returns The file bytes, checksum included.
 * @throws {TypeError} When a tensor's data length does not match its shape.
 */
export async function encodeCheckpoint(ckpt: Checkpoint): Promise<Uint8Array> {
  let offset = 0;
  const table = ckpt.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) {
      throw new TypeError(
        `Cannot encode checkpoint: tensor ${t.name} has ${t.data.length} values for shape ${
          JSON.stringify(t.shape)
        }`,
      );
    }
    const entry = { name: t.name, shape: [...t.shape], offset };
    offset += n * 4;
    return entry;
  });
  const header = new TextEncoder().encode(JSON.stringify({
    kind: ckpt.kind,
    createdAt: ckpt.createdAt,
    config: ckpt.config,
    tensors: table,
    meta: ckpt.meta,
  }));
  const headerEnd = 16 + header.length;
  const payloadStart = Math.ceil(headerEnd / 4) * 4;
  const total = payloadStart + offset + 32;
  const bytes = new Uint8Array(total);
  bytes.set(MAGIC, 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, header.length, true);
  bytes.set(header, 16);
  ckpt.tensors.forEach((t, i) => {
    const base = payloadStart + table[i].offset;
    for (let j = 0; j < t.data.length; j++) view.setFloat32(base + 4 * j, t.data[j], true);
  });
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes.subarray(0, total - 32)),
  );
  bytes.set(digest, total - 32);
  return bytes;
}

/**
 * Parse and verify a checkpoint.
 *
 * @param bytes File bytes.
 * @param source Name for error messages (a path).
 * @returns The checkpoint.
 * @throws {SyntaxError} On a wrong magic, unknown version, checksum mismatch, malformed header
 *   or truncated payload — naming `source`.
 */
export async function decodeCheckpoint(
  bytes: Uint8Array,
  source = "checkpoint",
): Promise<Checkpoint> {
  const fail = (why: string) => new SyntaxError(`Cannot read checkpoint ${source}: ${why}`);
  if (bytes.length < 16 + 32) throw fail(`file is too short (${bytes.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw fail("not a dicelab checkpoint (bad magic)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) {
    throw fail(`format version ${version} is not supported (expected ${CHECKPOINT_VERSION})`);
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      bytes.subarray(0, bytes.length - 32) as Uint8Array<ArrayBuffer>,
    ),
  );
  const stored = bytes.subarray(bytes.length - 32);
  if (!digest.every((b, i) => b === stored[i])) {
    throw fail("checksum mismatch (the file is corrupt or truncated)");
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length - 32) throw fail("header length exceeds the file");
  let header: {
    kind: Checkpoint["kind"];
    createdAt: string;
    config: unknown;
    tensors: { name: string; shape: number[]; offset: number }[];
    meta: Record<string, unknown>;
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  } catch (err) {
    throw fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(header.tensors)) throw fail("header has no tensor table");
  const payloadStart = Math.ceil((16 + headerLength) / 4) * 4;
  const payloadEnd = bytes.length - 32;
  const tensors = header.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const start = payloadStart + t.offset;
    if (!Number.isInteger(n) || n < 0 || start + 4 * n > payloadEnd) {
      throw fail(`tensor ${t.name} lies outside the payload`);
    }
    const data = new Float32Array(n);
    for (let j = 0; j < n; j++) data[j] = view.getFloat32(start + 4 * j, true);
    return { name: t.name, shape: t.shape, data };
  });
  return {
    kind: header.kind,
    createdAt: header.createdAt,
    config: header.config,
    tensors,
    meta: header.meta ?? {},
  };
}

/**
 * Write a checkpoint file atomically (temp file + rename), so a kill never leaves a partial
 * checkpoint behind.
 *
 * @param path Target path.
 * @param ckpt The checkpoint.
 * @returns Resolves when the file is in place.
 */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(ckpt));
}

/**
 * Read and verify a checkpoint file.
 *
 * @param path The file.
 * @returns The checkpoint.
 * @throws {SyntaxError} When the file is not a valid checkpoint (names the path).
 * @throws {Deno.errors.NotFound} When the file does not exist.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await Deno.readFile(path), path);
}
