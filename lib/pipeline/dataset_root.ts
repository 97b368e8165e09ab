/**
 * Where a run's cases come from: the real dataset (`--data` or `dataset.root`) with the paper's
 * preprocessing, or the dataset's phantom, generated once into the cache, with the phantom
 * preset.
 *
 * @module
 */

import { ensurePhantom, type PhantomOptions } from "../data/ensure_phantom.ts";
import type { PreprocessingOptions } from "../data/preprocess.ts";
import { pipelineDataset } from "./resolve.ts";
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
  const ds = pipelineDataset(p);
  const name = ds.kind.toUpperCase();
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
  const root = await ensurePhantom(ds.kind, cache, p.dataset.phantom.options as PhantomOptions);
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
