/**
 * Where a run's cases come from: the real dataset (`--data` or `dataset.root`) with the paper's
 * preprocessing, or the dataset's phantom, generated once into the cache, with the phantom
 * preset.
 *
 * @module
 */

import { ensurePhantom, type PhantomOptions } from "../data/ensure_phantom.ts";
import type { PreprocessingOptions } from "../data/preprocess.ts";
import { DATASETS } from "../data/dataset_descriptor.ts";
import { readJsonFile } from "../data/dataset_json.ts";
import type { Pipeline } from "./pipeline_types.ts";

/** The dataset a run reads. */
export interface DatasetRoot {
  /** Root folder. */
  root: string;
  /** Whether it is the phantom. */
  phantom: boolean;
  /** Preprocessing applied to its cases. */
  preprocessing: PreprocessingOptions;
}

/**
 * Resolve dataset root, preprocessing and phantom generation.
 *
 * @param p Effective pipeline.
 * @param o `data` (real dataset root) and the phantom cache folder.
 * @param log Log sink.
 * @returns Root, phantom flag and preprocessing.
 */
export async function resolveDataset(
  p: Pipeline,
  o: { data?: string; cacheDir?: string },
  log: (l: string) => void,
): Promise<DatasetRoot> {
  const ds = DATASETS[p.dataset.kind];
  const name = p.dataset.kind.toUpperCase();
  const real = o.data ?? p.dataset.root;
  if (real) {
    log(`Dataset: real ${name} data at ${real}`);
    return {
      root: real,
      phantom: false,
      preprocessing: p.dataset.preprocessing ?? ds.preprocessing.paper,
    };
  }
  const cache = o.cacheDir ?? ".cache/phantoms";
  const t = performance.now();
  const root = await ensurePhantom(
    p.dataset.kind,
    cache,
    p.dataset.phantom.options as PhantomOptions,
  );
  log(
    `Dataset: no --data given, using the phantom ${name} dataset at ${root} ` +
      `(generated once and cached; ${((performance.now() - t) / 1000).toFixed(1)} s)`,
  );
  return {
    root,
    phantom: true,
    preprocessing: p.dataset.phantom.preprocessing ?? ds.preprocessing.phantom,
  };
}

/**
 * The pipeline with what its dataset's own files say filled in: `dataset.spec` (channels,
 * classes, groups, shipped splits) for datasets described by a dataset.json, and each
 * `annotatedClasses` labeling's `file` (relative to the dataset root) read into its `cases`.
 * Other pipelines are returned unchanged.
 *
 * @param p Effective pipeline.
 * @param root The dataset root.
 * @returns The completed pipeline (a copy when anything was filled in).
 * @throws {TypeError} Naming the file and field of a malformed description or labeling file.
 */
export async function describeDataset(p: Pipeline, root: string): Promise<Pipeline> {
  const format = DATASETS[p.dataset.kind];
  const files = Object.entries(p.labelings).filter(([, l]) =>
    l.kind === "annotatedClasses" && l.file && !l.cases
  );
  if (!format.describe && files.length === 0) return p;
  const out: Pipeline = structuredClone(p);
  if (format.describe) out.dataset.spec = await format.describe(root);
  for (const [name, l] of files) {
    if (l.kind !== "annotatedClasses" || !l.file) continue;
    const path = `${root}/${l.file}`;
    const value = await readJsonFile(path);
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw new TypeError(
        `Invalid ${path} (labelings.${name}.file): expected { case: [class, …] }`,
      );
    }
    const cases: Record<string, string[]> = {};
    for (const [id, v] of Object.entries(value as Record<string, unknown>)) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
        throw new TypeError(
          `Invalid ${path} (labelings.${name}.file): ${id} must list class names`,
        );
      }
      cases[id] = v as string[];
    }
    out.labelings[name] = { ...l, cases };
  }
  return out;
}
