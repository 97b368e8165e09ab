/**
 * The ACDC training set on disk: `<root>/patientXXX/Info.cfg`,
 * `patientXXX_frameYY.nii.gz` and `patientXXX_frameYY_gt.nii.gz`, with `<root>` either the
 * folder of the patients or its parent holding `training/`.
 *
 * @module
 */

import { parseInfoCfg } from "./info_cfg.ts";
import type { CaseRecord } from "./types.ts";

const PATIENT = /^patient\d{3}$/;

async function _dirNames(dir: string): Promise<{ dirs: string[]; files: string[] }> {
  const dirs: string[] = [];
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) (e.isDirectory ? dirs : files).push(e.name);
  return { dirs: dirs.sort(), files: files.sort() };
}

async function _isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Find the folder that holds the `patientXXX` folders: `root` itself or `root/training`.
 *
 * @param root The dataset root.
 * @returns The patients folder.
 * @throws {Deno.errors.NotFound} When neither holds patient folders.
 */
export async function acdcPatientsDir(root: string): Promise<string> {
  if (!(await _isDir(root))) {
    throw new Deno.errors.NotFound(`Cannot list ACDC dataset: ${root} is not a directory`);
  }
  for (const dir of [root, `${root}/training`]) {
    if (!(await _isDir(dir))) continue;
    const { dirs } = await _dirNames(dir);
    if (dirs.some((d) => PATIENT.test(d))) return dir;
  }
  throw new Deno.errors.NotFound(
    `Cannot list ACDC dataset: neither ${root} nor ${root}/training holds patientXXX folders`,
  );
}

/**
 * List the ACDC cases: one record per patient and frame (ED, then ES), sorted by patient.
 *
 * @param root `<root>` or `<root>/training` of the ACDC layout.
 * @returns The records; `group` is `"ED"` or `"ES"`, `meta` holds `frame`, `pathology` and
 *   the parsed `info`.
 * @throws {Deno.errors.NotFound} When the root, an Info.cfg, a frame or its `_gt` file is
 *   missing (the message names the path and what was found instead).
 * @throws {SyntaxError} When an Info.cfg cannot be parsed.
 * @example
 * ```ts ignore
 * const records = await listAcdc("/data/ACDC");
 * console.log(records[0].id, records[0].imagePaths[0]); // patient001_ED …/patient001_frame01.nii.gz
 * ```
 */
export async function listAcdc(root: string): Promise<CaseRecord[]> {
  const base = await acdcPatientsDir(root);
  const { dirs } = await _dirNames(base);
  const out: CaseRecord[] = [];
  for (const patient of dirs) {
    if (!PATIENT.test(patient)) continue;
    const dir = `${base}/${patient}`;
    const cfg = `${dir}/Info.cfg`;
    let text: string;
    try {
      text = await Deno.readTextFile(cfg);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new Deno.errors.NotFound(`Cannot read ACDC Info.cfg: ${cfg} is missing`);
      }
      throw new Error(`Cannot read ACDC Info.cfg ${cfg}: ${(err as Error).message}`);
    }
    const info = parseInfoCfg(text, cfg);
    const { files } = await _dirNames(dir);
    for (const [group, frame] of [["ED", info.ED], ["ES", info.ES]] as const) {
      const stem = `${patient}_frame${String(frame).padStart(2, "0")}`;
      const image = _find(files, stem, dir, group, frame);
      const label = _find(files, `${stem}_gt`, dir, group, frame);
      out.push({
        dataset: "acdc",
        id: `${patient}_${group}`,
        subject: patient,
        group,
        imagePaths: [`${dir}/${image}`],
        labelPath: `${dir}/${label}`,
        meta: { frame, pathology: info.Group ?? "unknown", info },
      });
    }
  }
  return out;
}

function _find(files: string[], stem: string, dir: string, group: string, frame: number): string {
  for (const ext of [".nii.gz", ".nii"]) if (files.includes(stem + ext)) return stem + ext;
  const similar = files.filter((f) => /_frame\d+/.test(f));
  throw new Deno.errors.NotFound(
    `Cannot list ACDC case: ${dir}/${stem}.nii.gz is missing (Info.cfg ${group}: ${frame}; ` +
      `found ${similar.length ? similar.join(", ") : "no frame files"})`,
  );
}
