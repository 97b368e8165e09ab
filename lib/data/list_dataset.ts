/**
 * One entry point for listing either dataset.
 *
 * @module
 */

import { listAcdc } from "./acdc.ts";
import { listBrats } from "./brats.ts";
import type { CaseRecord, DatasetKind } from "./types.ts";

/**
 * List the cases of a dataset root in its real layout.
 *
 * @param kind `"acdc"` or `"brats"`.
 * @param root Dataset root.
 * @returns The case records.
 * @throws {Deno.errors.NotFound} When the layout is incomplete (see `listAcdc` / `listBrats`).
 * @throws {SyntaxError} When an Info.cfg or a case folder name is malformed.
 * @throws {TypeError} For an unknown kind.
 */
export function listDataset(kind: DatasetKind, root: string): Promise<CaseRecord[]> {
  if (kind === "acdc") return listAcdc(root);
  if (kind === "brats") return listBrats(root);
  throw new TypeError(`Cannot list dataset: unknown kind "${kind}"`);
}
