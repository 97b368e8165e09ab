// Tiny phantom datasets for the patch-streaming tests: generated once per test module into a
// temporary folder (removed when the module unloads).

import { generateAcdcPhantom } from "../../lib/data/phantom_acdc.ts";
import { generateBratsPhantom } from "../../lib/data/phantom_brats.ts";
import { listDataset } from "../../lib/data/list_dataset.ts";
import type { PreprocessingOptions } from "../../lib/data/preprocess.ts";
import type { CaseRecord } from "../../lib/data/types.ts";

/** Preprocessing of the tiny phantoms: ACDC to [8, 32, 32], BRATS to [16, 24, 24]. */
export const TINY_PREPROCESSING: Readonly<Record<"acdc" | "brats", PreprocessingOptions>> = {
  acdc: { spacing: [10, 5, 5], size: [8, 32, 32] },
  brats: { spacing: [4, 4, 4] },
};

/** The tiny datasets' records: ACDC 5 patients × ED/ES, BRATS 2 HGG + 2 LGG. */
export interface TinyPhantoms {
  /** Temporary root. */
  root: string;
  /** ACDC-like frames (ED, ES alternating by patient). */
  acdc: CaseRecord[];
  /** BRATS-like subjects (HGG, HGG, LGG, LGG). */
  brats: CaseRecord[];
}

let _phantoms: Promise<TinyPhantoms> | undefined;

/** Generate the tiny phantoms once per module (about 0.5 s). */
export function tinyPhantoms(): Promise<TinyPhantoms> {
  _phantoms ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "patch_stream_" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* already gone */ }
    });
    await generateAcdcPhantom(`${root}/acdc`, { patientsPerGroup: 1, inPlaneSpacing: [5, 5.5] });
    await generateBratsPhantom(`${root}/brats`, {
      hgg: 2,
      lgg: 2,
      size: [24, 24, 16],
      spacing: 4,
    });
    return {
      root,
      acdc: await listDataset("acdc", `${root}/acdc`),
      brats: await listDataset("brats", `${root}/brats`),
    };
  })();
  return _phantoms;
}
