/**
 * Atomic file writes: write a sibling temporary file, then rename over the target, so a
 * reader (or a resumed run after a kill) never sees a half-written file.
 *
 * @module
 */

/**
 * Fault injection for the tests in tests/faults/ (inert unless the variable is set):
 * `DICELAB_FAULT=kill-before-rename:<text>` ends the process at once (exit 137, as after a kill -9) after the temporary
 * file of a target whose path contains `<text>` is written and before it is renamed (a crash in
 * the middle of a write); `DICELAB_FAULT=write-error:<text>` fails such a write as a full or
 * read-only disk would.
 */
function _fault(path: string): "kill" | "error" | undefined {
  let spec: string | undefined;
  try {
    spec = Deno.env.get("DICELAB_FAULT");
  } catch {
    return undefined; // no env permission: no fault injection
  }
  const m = spec ? /^(kill-before-rename|write-error):(.+)$/.exec(spec) : null;
  if (!m || !path.includes(m[2])) return undefined;
  return m[1] === "kill-before-rename" ? "kill" : "error";
}

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
 * @throws {Deno.errors.NotFound} When the directory does not exist (every error's message
 *   names the target file).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = _tempName(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const fault = _fault(path);
  try {
    if (fault === "error") {
      throw new Deno.errors.PermissionDenied(`No space left on device (injected fault)`);
    }
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    // Dies like a kill -9 would: no finally blocks, no rename, the temporary file left behind.
    if (fault === "kill") Deno.exit(137);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    if (err instanceof Error && !err.message.includes(path)) {
      err.message = `Cannot write ${path}: ${err.message}`;
    }
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
