/**
 * Atomic file writes: write a sibling temporary file, then rename over the target, so a
 * reader (or a resumed run after a kill) never sees a half-written file.
 *
 * @module
 */

function _tempName(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${path}.tmp-${Deno.pid}-${rand}`;
}

/**
 * Write bytes or text to `path` atomically (temp file + rename in the same directory).
 *
 * @param path Target path; its directory must exist.
 * @param data Bytes or UTF-8 text.
 * @returns Resolves when the file is in place.
 * @throws {Deno.errors.NotFound} When the directory does not exist.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = _tempName(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Write JSON to `path` atomically (pretty-printed, trailing newline).
 *
 * @param path Target path.
 * @param value A JSON-serialisable value.
 * @returns Resolves when the file is in place.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}
