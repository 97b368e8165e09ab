/**
 * Whether a path exists.
 *
 * @module
 */

/**
 * Whether a file or folder exists at `path` (any stat error counts as absent).
 *
 * @param path The path.
 * @returns True when `Deno.stat` succeeds.
 * @example
 * ```ts
 * import { exists } from "./exists.ts";
 * console.log(await exists("deno.json"));
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
