/**
 * A cache of phantom datasets: generate once per (kind, options, generator version),
 * atomically (temporary folder + rename), and reuse afterwards.
 *
 * @module
 */

import { writeJsonAtomic } from "../core/atomic_write.ts";
import { exists } from "../core/exists.ts";
import { DATASETS } from "./dataset_descriptor.ts";
import type { AcdcPhantomOptions } from "./phantom_acdc.ts";
import type { BratsPhantomOptions } from "./phantom_brats.ts";
import type { DatasetKind } from "./types.ts";

/**
 * Version of each phantom generator. Bump a kind's version whenever a change alters one of its
 * generated voxels, so that cached datasets are regenerated.
 */
export const PHANTOM_VERSION: Readonly<Record<DatasetKind, number>> = Object.fromEntries(
  Object.entries(DATASETS).map(([kind, d]) => [kind, d.phantom.version]),
) as Record<DatasetKind, number>;

/** Options of {@linkcode ensurePhantom}: the generator options of the kind. */
export type PhantomOptions = AcdcPhantomOptions | BratsPhantomOptions;

/** The marker written last into a complete phantom folder. */
export interface PhantomMarker {
  /** Dataset kind. */
  kind: DatasetKind;
  /** Generator version. */
  version: number;
  /** Resolved generator options. */
  options: Record<string, unknown>;
  /** Cases written. */
  cases: number;
  /** Generation time in seconds. */
  seconds: number;
}

const MARKER = "phantom.json";

/**
 * The resolved options and cache key of a phantom.
 *
 * @param kind `"acdc"` or `"brats"`.
 * @param options Generator options (unknown keys are rejected).
 * @returns The options with defaults filled in and a 16-hex-digit key.
 * @throws {TypeError} When an option name is unknown for the kind.
 */
export async function phantomKey(
  kind: DatasetKind,
  options: PhantomOptions = {},
): Promise<{ options: Record<string, unknown>; key: string }> {
  const defaults: Record<string, unknown> = { ...DATASETS[kind].phantom.defaults };
  for (const k of Object.keys(options)) {
    if (!(k in defaults)) {
      throw new TypeError(
        `Cannot resolve ${kind} phantom options: unknown option "${k}" (known: ` +
          `${Object.keys(defaults).join(", ")})`,
      );
    }
  }
  const resolved: Record<string, unknown> = { ...defaults, ...options };
  const sorted = Object.fromEntries(Object.keys(resolved).sort().map((k) => [k, resolved[k]]));
  const text = JSON.stringify({ kind, version: PHANTOM_VERSION[kind], options: sorted });
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  const key = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  return { options: sorted, key };
}

/**
 * The root of a phantom dataset in `cacheDir`, generating it first when absent. Generation
 * writes into a temporary sibling folder and renames it into place, so concurrent callers
 * and interrupted runs never see a partial dataset; a complete folder holds `phantom.json`.
 *
 * @param kind `"acdc"` or `"brats"`.
 * @param cacheDir Folder for cached datasets (created when missing).
 * @param options Generator options.
 * @returns The dataset root (`<cacheDir>/<kind>-phantom-v<version>-<key>`), ready for
 *   `listAcdc` / `listBrats`.
 * @throws {TypeError} When an option name is unknown.
 * @example
 * ```ts ignore
 * const root = await ensurePhantom("brats", ".cache/phantoms", { hgg: 8, lgg: 4 });
 * const records = await listBrats(root);
 * ```
 */
export async function ensurePhantom(
  kind: DatasetKind,
  cacheDir: string,
  options: PhantomOptions = {},
): Promise<string> {
  const { options: resolved, key } = await phantomKey(kind, options);
  const root = `${cacheDir}/${kind}-phantom-v${PHANTOM_VERSION[kind]}-${key}`;
  if (await _complete(root, kind)) return root;
  await Deno.mkdir(cacheDir, { recursive: true });
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const tmp = `${root}.tmp-${Deno.pid}-${rand}`;
  try {
    const summary = await DATASETS[kind].phantom.generate(tmp, resolved);
    const marker: PhantomMarker = {
      kind,
      version: PHANTOM_VERSION[kind],
      options: resolved,
      cases: summary.cases,
      seconds: summary.seconds,
    };
    await writeJsonAtomic(`${tmp}/${MARKER}`, marker);
    try {
      await Deno.rename(tmp, root);
    } catch (err) {
      if (await _complete(root, kind)) {
        // Another process finished first: keep its copy.
        await Deno.remove(tmp, { recursive: true });
      } else if (await exists(root)) {
        // A stale folder without marker (never produced by a rename): replace it.
        await Deno.remove(root, { recursive: true });
        await Deno.rename(tmp, root);
      } else {
        throw err;
      }
    }
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  return root;
}

async function _complete(root: string, kind: DatasetKind): Promise<boolean> {
  try {
    const marker = JSON.parse(await Deno.readTextFile(`${root}/${MARKER}`)) as PhantomMarker;
    return marker.version === PHANTOM_VERSION[kind];
  } catch {
    return false;
  }
}
