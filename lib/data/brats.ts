/**
 * The BRATS 2018 training set on disk:
 * `<root>/{HGG,LGG}/Brats18_*\/Brats18_*_{flair,t1,t1ce,t2,seg}.nii.gz`.
 *
 * @module
 */

import { BRATS } from "./datasets.ts";
import type { CaseRecord } from "./types.ts";

const SUBJECT = /^Brats18_/;

async function _isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * List the BRATS 2018 cases: HGG subjects first, then LGG, each sorted by name.
 *
 * @param root Folder holding `HGG/` and/or `LGG/`.
 * @returns One record per subject; `imagePaths` in the order FLAIR, T1, T1ce, T2.
 * @throws {Deno.errors.NotFound} When the root has neither `HGG/` nor `LGG/`, or a case
 *   misses a file (the message names the path and the files found).
 * @throws {SyntaxError} When a folder inside `HGG/` or `LGG/` is not a `Brats18_*` case.
 * @example
 * ```ts ignore
 * const records = await listBrats("/data/MICCAI_BraTS_2018_Data_Training");
 * console.log(records.length); // 285
 * ```
 */
export async function listBrats(root: string): Promise<CaseRecord[]> {
  if (!(await _isDir(root))) {
    throw new Deno.errors.NotFound(`Cannot list BRATS dataset: ${root} is not a directory`);
  }
  const grades: string[] = [];
  for (const g of ["HGG", "LGG"]) if (await _isDir(`${root}/${g}`)) grades.push(g);
  if (grades.length === 0) {
    throw new Deno.errors.NotFound(
      `Cannot list BRATS dataset: ${root} holds neither HGG/ nor LGG/`,
    );
  }
  const out: CaseRecord[] = [];
  for (const grade of grades) {
    const names: string[] = [];
    for await (const e of Deno.readDir(`${root}/${grade}`)) if (e.isDirectory) names.push(e.name);
    for (const subject of names.sort()) {
      const dir = `${root}/${grade}/${subject}`;
      if (!SUBJECT.test(subject)) {
        throw new SyntaxError(
          `Cannot list BRATS dataset: ${dir} is not a Brats18_* case folder`,
        );
      }
      const files: string[] = [];
      for await (const e of Deno.readDir(dir)) if (e.isFile) files.push(e.name);
      const find = (suffix: string): string => {
        for (const ext of [".nii.gz", ".nii"]) {
          const name = `${subject}_${suffix}${ext}`;
          if (files.includes(name)) return `${dir}/${name}`;
        }
        throw new Deno.errors.NotFound(
          `Cannot list BRATS case: ${dir}/${subject}_${suffix}.nii.gz is missing ` +
            `(found ${files.length ? files.sort().join(", ") : "no files"})`,
        );
      };
      out.push({
        dataset: "brats",
        id: subject,
        subject,
        group: grade,
        imagePaths: BRATS.channels.map(find),
        labelPath: find("seg"),
        meta: { grade },
      });
    }
  }
  return out;
}
