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
import { DATASET_KINDS, type DatasetSpec, datasetSpec, specFromData } from "./datasets.ts";
import { readMsdDataset, readNnunetDataset } from "./nnunet.ts";
import {
  generateMsdPhantom,
  generateNnunetPhantom,
  MSD_PHANTOM_DEFAULTS,
  NNUNET_PHANTOM_DEFAULTS,
} from "./phantom_layouts.ts";
import { ACDC_PHANTOM_DEFAULTS, generateAcdcPhantom } from "./phantom_acdc.ts";
import { BRATS_PHANTOM_DEFAULTS, generateBratsPhantom } from "./phantom_brats.ts";
import {
  PAPER_PREPROCESSING,
  PHANTOM_PREPROCESSING,
  type PreprocessingOptions,
} from "./preprocess.ts";
import type { CaseRecord, DatasetKind, DatasetSpecData } from "./types.ts";

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

/** How a dataset is read: listing, its own description (if any), preprocessing, phantom. */
export interface DatasetFormat {
  /**
   * List the cases of a dataset root in its real layout.
   *
   * @param root Dataset root.
   * @returns The case records.
   */
  list(root: string): Promise<CaseRecord[]>;
  /**
   * Read the dataset's own description (nnU-Net / Decathlon `dataset.json`); absent for the
   * datasets with a fixed spec.
   *
   * @param root Dataset root.
   * @returns Its spec data.
   */
  describe?(root: string): Promise<DatasetSpecData>;
  /** Default preprocessing: the paper's (real data) and the phantom preset's. */
  preprocessing: {
    /** Applied to real data. */
    paper: PreprocessingOptions;
    /** Applied to the phantom. */
    phantom: PreprocessingOptions;
  };
  /** The phantom generator (same layout, read by {@linkcode DatasetFormat.list}). */
  phantom: PhantomGenerator;
}

/** One dataset: its spec plus listing, preprocessing defaults and phantom. */
export type DatasetDescriptor = DatasetSpec & DatasetFormat;

/** Every dataset format dicelab reads, by kind. */
export const DATASETS: Readonly<Record<DatasetKind, DatasetFormat>> = {
  acdc: {
    list: listAcdc,
    preprocessing: { paper: PAPER_PREPROCESSING.acdc, phantom: PHANTOM_PREPROCESSING.acdc },
    phantom: {
      version: 3,
      defaults: ACDC_PHANTOM_DEFAULTS,
      generate: (dir, options) => generateAcdcPhantom(dir, options),
    },
  },
  brats: {
    list: listBrats,
    preprocessing: { paper: PAPER_PREPROCESSING.brats, phantom: PHANTOM_PREPROCESSING.brats },
    phantom: {
      version: 2,
      defaults: BRATS_PHANTOM_DEFAULTS,
      generate: (dir, options) => generateBratsPhantom(dir, options),
    },
  },
  nnunet: {
    list: async (root) => (await readNnunetDataset(root)).records,
    describe: async (root) => (await readNnunetDataset(root)).spec,
    // nnU-Net keeps each dataset's own spacing; the phantom uses the ACDC phantom preset.
    preprocessing: { paper: {}, phantom: PHANTOM_PREPROCESSING.acdc },
    phantom: {
      version: 3,
      defaults: NNUNET_PHANTOM_DEFAULTS,
      generate: (dir, options) => generateNnunetPhantom(dir, options),
    },
  },
  msd: {
    list: async (root) => (await readMsdDataset(root)).records,
    describe: async (root) => (await readMsdDataset(root)).spec,
    preprocessing: { paper: {}, phantom: { spacing: [4, 4, 4], size: [16, 24, 24] } },
    phantom: {
      version: 1,
      defaults: MSD_PHANTOM_DEFAULTS,
      generate: (dir, options) => generateMsdPhantom(dir, options),
    },
  },
};

/**
 * The descriptor of a dataset: its kind's format with its fixed spec, or — for a dataset read
 * from its own description — with the spec data read from it.
 *
 * @param kind The dataset kind.
 * @param data The spec data of a described dataset (`dataset.spec` of an effective pipeline).
 * @returns Its {@linkcode DatasetDescriptor}.
 * @throws {TypeError} For an unknown kind, or a described kind without its data.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetDescriptor } from "./dataset_descriptor.ts";
 * assert.deepEqual(datasetDescriptor("brats").groups, ["HGG", "LGG"]);
 * ```
 */
export function datasetDescriptor(kind: DatasetKind, data?: DatasetSpecData): DatasetDescriptor {
  const format = (DATASETS as Record<string, DatasetFormat | undefined>)[kind];
  if (!format) {
    throw new TypeError(
      `Cannot find dataset: unknown kind "${kind}" (known: ${DATASET_KINDS.join(", ")})`,
    );
  }
  const spec = format.describe ? (data ? specFromData(data) : undefined) : datasetSpec(kind);
  if (!spec) {
    throw new TypeError(
      `Cannot describe the ${kind} dataset: its dataset.json has not been read (resolve the dataset first)`,
    );
  }
  return { ...spec, ...format };
}
