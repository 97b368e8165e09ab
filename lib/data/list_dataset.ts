/**
 * One entry point for listing any dataset.
 *
 * @module
 */

import { datasetDescriptor } from "./dataset_descriptor.ts";
import type { CaseRecord, DatasetKind } from "./types.ts";

/**
 * List the cases of a dataset root in its real layout (the descriptor's `list`).
 *
 * @param kind `"acdc"` or `"brats"`.
 * @param root Dataset root.
 * @returns The case records.
 * @throws {Deno.errors.NotFound} When the layout is incomplete (see `listAcdc` / `listBrats`).
 * @throws {SyntaxError} When an Info.cfg or a case folder name is malformed.
 * @throws {TypeError} For an unknown kind.
 */
export function listDataset(kind: DatasetKind, root: string): Promise<CaseRecord[]> {
  return datasetDescriptor(kind).list(root);
}
