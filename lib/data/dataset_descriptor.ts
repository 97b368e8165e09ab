/**
 * The dataset descriptor: everything the rest of dicelab knows about a dataset — its static
 * spec (channels, classes, groups, subgroups, fold rules, labelings; `datasets.ts`) plus how to
 * list its cases, the paper's and the phantom's preprocessing, and its phantom generator.
 * Pipeline, training, evaluation and report code read a descriptor and never test a dataset's
 * name or a group string. A new dataset format implements {@linkcode DatasetDescriptor} and
 * registers it in {@linkcode DATASETS}.
 *
 * @module
 */

import { listAcdc } from "./acdc.ts";
import { listBrats } from "./brats.ts";
import { ACDC, BRATS, DATASET_KINDS, type DatasetSpec } from "./datasets.ts";
import { ACDC_PHANTOM_DEFAULTS, generateAcdcPhantom } from "./phantom_acdc.ts";
import { BRATS_PHANTOM_DEFAULTS, generateBratsPhantom } from "./phantom_brats.ts";
import {
  PAPER_PREPROCESSING,
  PHANTOM_PREPROCESSING,
  type PreprocessingOptions,
} from "./preprocess.ts";
import type { CaseRecord, DatasetKind } from "./types.ts";

/** A dataset's phantom generator. */
export interface PhantomGenerator {
  /**
   * Generator version: bump it whenever a change alters one generated voxel, so that cached
   * datasets are regenerated.
   */
  version: number;
  /** Every option with its default. */
  defaults: Readonly<Record<string, unknown>>;
  /**
   * Write a phantom dataset in the real layout.
   *
   * @param dir Folder to write (created).
   * @param options Resolved options.
   * @returns Cases written and seconds spent.
   */
  generate(dir: string, options: Record<string, unknown>): Promise<{
    cases: number;
    seconds: number;
  }>;
}

/** One dataset: its static spec plus listing, preprocessing defaults and phantom. */
export interface DatasetDescriptor extends DatasetSpec {
  /**
   * List the cases of a dataset root in its real layout.
   *
   * @param root Dataset root.
   * @returns The case records.
   */
  list(root: string): Promise<CaseRecord[]>;
  /** Default preprocessing: the paper's (real data) and the phantom preset's. */
  preprocessing: {
    /** Applied to real data. */
    paper: PreprocessingOptions;
    /** Applied to the phantom. */
    phantom: PreprocessingOptions;
  };
  /** The phantom generator (same layout, read by {@linkcode DatasetDescriptor.list}). */
  phantom: PhantomGenerator;
}

/** Every dataset dicelab reads, by kind. */
export const DATASETS: Readonly<Record<DatasetKind, DatasetDescriptor>> = {
  acdc: {
    ...ACDC,
    list: listAcdc,
    preprocessing: { paper: PAPER_PREPROCESSING.acdc, phantom: PHANTOM_PREPROCESSING.acdc },
    phantom: {
      version: 3,
      defaults: ACDC_PHANTOM_DEFAULTS,
      generate: (dir, options) => generateAcdcPhantom(dir, options),
    },
  },
  brats: {
    ...BRATS,
    list: listBrats,
    preprocessing: { paper: PAPER_PREPROCESSING.brats, phantom: PHANTOM_PREPROCESSING.brats },
    phantom: {
      version: 2,
      defaults: BRATS_PHANTOM_DEFAULTS,
      generate: (dir, options) => generateBratsPhantom(dir, options),
    },
  },
};

/**
 * The descriptor of a dataset kind.
 *
 * @param kind `"acdc"` or `"brats"`.
 * @returns Its {@linkcode DatasetDescriptor}.
 * @throws {TypeError} For an unknown kind.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetDescriptor } from "./dataset_descriptor.ts";
 * assert.deepEqual(datasetDescriptor("brats").groups, ["HGG", "LGG"]);
 * ```
 */
export function datasetDescriptor(kind: DatasetKind): DatasetDescriptor {
  const d = (DATASETS as Record<string, DatasetDescriptor | undefined>)[kind];
  if (!d) {
    throw new TypeError(
      `Cannot find dataset: unknown kind "${kind}" (known: ${DATASET_KINDS.join(", ")})`,
    );
  }
  return d;
}
