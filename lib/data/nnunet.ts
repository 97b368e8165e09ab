/**
 * Datasets in the nnU-Net v2 raw layout and in the Medical Segmentation Decathlon layout,
 * read from their own `dataset.json`:
 *
 * ```
 * nnU-Net:  dataset.json  imagesTr/CASE_0000.nii.gz …  labelsTr/CASE.nii.gz  [imagesTs/]
 *           [splits_final.json]  [cases.csv | cases.json]
 * Decathlon: dataset.json (modality, labels, training: [{ image, label }])  imagesTr/CASE.nii.gz
 *           (4-D when several modalities)  labelsTr/CASE.nii.gz  [cases.csv | cases.json]
 * ```
 *
 * Groups (and subjects, and further fields such as a site or a pathology) come from the optional
 * `cases.csv` / `cases.json`, so the paper's partial-label protocols apply to any dataset. An
 * nnU-Net dataset whose `labels` give a label as a list of values is region-based (nnU-Net v2's
 * region-based training): its spec lists the regions and `regions_class_order`, its stored
 * values load as they are and its loss target is one sigmoid map per region. Every error names
 * the file and the field.
 *
 * @module
 */

import {
  type CaseTable,
  classNames,
  parseChannels,
  readCaseTable,
  readJsonFile,
  readSplits,
} from "./dataset_json.ts";
import type { CaseRecord, DatasetKind, DatasetRegion, DatasetSpecData } from "./types.ts";
import { FIRST_SPECIAL_LABEL, IGNORE_LABEL } from "../core/voxel_labels.ts";

/** A dataset read from its own description. */
export interface DescribedDataset {
  /** Its spec (channels, classes, groups, shipped splits). */
  spec: DatasetSpecData;
  /** Its training cases. */
  records: CaseRecord[];
}

async function _names(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) out.push(e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read dataset: ${dir} is missing`);
    }
    throw err;
  }
  return out.sort();
}

/**
 * A dataset.json `labels` table: class names by value, nnU-Net's ignore label's value, and the
 * regions when the table gives any label as a list of several values (region-based training).
 */
interface _Labels {
  table: Map<number, string>;
  ignore?: number;
  regions?: DatasetRegion[];
}

function _labelTable(
  labels: unknown,
  file: string,
  byName: boolean,
): _Labels {
  const where = `${file}: labels`;
  if (!labels || typeof labels !== "object" || Array.isArray(labels)) {
    throw new TypeError(`Invalid ${where}: expected an object`);
  }
  const entries = Object.entries(labels as Record<string, unknown>);
  // nnU-Net v2's rule (LabelManager): a dataset is region-based when a label is a list of more
  // than one value; a list of one value is that value.
  if (byName && entries.some(([, v]) => Array.isArray(v) && v.length > 1)) {
    return _regionTable(entries, where);
  }
  const out = new Map<number, string>();
  let ignore: number | undefined;
  for (const [k, v0] of entries) {
    if (byName) {
      const v = Array.isArray(v0) && v0.length === 1 ? v0[0] : v0;
      if (!Number.isInteger(v) || (v as number) < 0) {
        throw new TypeError(
          `Invalid ${where}: "${k}" must be a label value ≥ 0, got ${JSON.stringify(v0)}`,
        );
      }
      if (out.has(v as number) || ignore === v) {
        throw new TypeError(`Invalid ${where}: value ${v} is given twice`);
      }
      if (k === "ignore") ignore = v as number;
      else out.set(v as number, k);
    } else {
      const value = Number(k);
      if (!Number.isInteger(value) || value < 0 || typeof v0 !== "string") {
        throw new TypeError(`Invalid ${where}: expected { "0": "background", "1": name, … }`);
      }
      out.set(value, v0);
    }
  }
  if (ignore !== undefined) {
    const top = Math.max(...out.keys());
    _checkIgnore(ignore, top, `class "${out.get(top)}" has ${top}`, where);
  }
  return { table: out, ...(ignore !== undefined ? { ignore } : {}) };
}

/**
 * nnU-Net v2's own rule for the ignore label: it has the highest value (above `top`, the
 * largest other value, as `what` says), and here it must fit a label map byte.
 */
function _checkIgnore(ignore: number, top: number, what: string, where: string): void {
  if (ignore <= top) {
    throw new TypeError(
      `Invalid ${where}: the "ignore" label (${ignore}) must have the highest value (${what})`,
    );
  }
  if (ignore > 255) {
    throw new TypeError(`Invalid ${where}: the "ignore" label (${ignore}) must be ≤ 255`);
  }
}

/**
 * The labels of a region-based dataset: background 0 (a single value), every other label a
 * region (a value or a list of values ≥ 1), an optional `"ignore"` value above all of them. The
 * stored label values are 0..the largest region value, loaded as they are.
 */
function _regionTable(entries: [string, unknown][], where: string): _Labels {
  const bg = entries.find(([k]) => k === "background");
  if (!bg || bg[1] !== 0) {
    throw new TypeError(
      `Invalid ${where}: a region-based table needs "background": 0 (a single value, not a ` +
        `region), got ${bg ? JSON.stringify(bg[1]) : "none"}`,
    );
  }
  const regions: DatasetRegion[] = [];
  let ignore: number | undefined;
  for (const [k, v] of entries) {
    if (k === "background") continue;
    if (k === "ignore") {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new TypeError(
          `Invalid ${where}: the "ignore" label must be one value ≥ 1 (not a region), got ${
            JSON.stringify(v)
          }`,
        );
      }
      ignore = v as number;
      continue;
    }
    const values = Array.isArray(v) ? v : [v];
    const bad = values.find((x) =>
      !Number.isInteger(x) || (x as number) < 1 || (x as number) >= FIRST_SPECIAL_LABEL
    );
    if (values.length === 0 || bad !== undefined) {
      throw new TypeError(
        `Invalid ${where}: region "${k}" must be a label value or a non-empty list of label ` +
          `values in 1..${FIRST_SPECIAL_LABEL - 1}, got ${JSON.stringify(v)}`,
      );
    }
    const sorted = [...new Set(values as number[])].sort((a, b) => a - b);
    if (sorted.length !== values.length) {
      throw new TypeError(
        `Invalid ${where}: region "${k}" lists a value twice (${JSON.stringify(v)})`,
      );
    }
    const same = regions.find((r) => r.values.join() === sorted.join());
    if (same) {
      throw new TypeError(
        `Invalid ${where}: regions "${same.name}" and "${k}" have the same values (${sorted})`,
      );
    }
    regions.push({ name: k, values: sorted });
  }
  if (regions.length === 0) throw new TypeError(`Invalid ${where}: no foreground region`);
  const top = Math.max(...regions.flatMap((r) => r.values));
  if (ignore !== undefined) {
    _checkIgnore(ignore, top, `the regions use values up to ${top}`, where);
  }
  const table = new Map<number, string>([[0, "background"]]);
  for (let v = 1; v <= top; v++) table.set(v, `label ${v}`);
  return { table, regions, ...(ignore !== undefined ? { ignore } : {}) };
}

/**
 * Check dataset.json's `regions_class_order` against the regions: one label value per region,
 * each a stored label value 1..the largest region value.
 */
function _regionsClassOrder(value: unknown, regions: DatasetRegion[], file: string): number[] {
  const where = `${file}: regions_class_order`;
  const names = regions.map((r) => `"${r.name}"`).join(", ");
  if (value === undefined) {
    throw new TypeError(
      `Invalid ${where}: missing — region-based labels (${names}) need the label value each ` +
        `region writes into a predicted label map, one per region in order`,
    );
  }
  if (!Array.isArray(value) || value.length !== regions.length) {
    throw new TypeError(
      `Invalid ${where}: expected a list of ${regions.length} label value(s), one per region ` +
        `(${names}), got ${JSON.stringify(value)}`,
    );
  }
  const top = Math.max(...regions.flatMap((r) => r.values));
  value.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 1 || v > top) {
      throw new TypeError(
        `Invalid ${where}: entry ${i} (region "${regions[i].name}") is ${
          JSON.stringify(v)
        }, not a label value of the regions (1..${top})`,
      );
    }
  });
  return value as number[];
}

function _spec(
  kind: DatasetKind,
  title: string,
  channels: string[],
  classes: string[],
  table: CaseTable,
  splits?: Record<string, number>,
  ignore?: number,
  regions?: { regions: DatasetRegion[]; classOrder: number[] },
): DatasetSpecData {
  const groups = [...new Set([...table.rows.values()].map((r) => r.group))].sort();
  const first = [...table.rows.values()][0];
  const extra = first ? Object.keys(first.meta)[0] : undefined;
  return {
    kind,
    title,
    channels,
    labelValues: ignore === undefined ? classes.map((_, i) => i) : [...classes.keys(), ignore],
    classes,
    classOf: Object.fromEntries([
      ...classes.map((_, i) => [String(i), i]),
      ...(ignore === undefined ? [] : [[String(ignore), IGNORE_LABEL]]),
    ]),
    ...(ignore === undefined ? {} : { ignoreLabel: ignore }),
    target: regions ? "regions" : classes.length === 2 ? "binary" : "oneHot",
    ...(regions ? { regions: regions.regions, regionsClassOrder: regions.classOrder } : {}),
    intensityMask: "all",
    groups: groups.length > 0 ? groups : ["all"],
    ...(extra && table.source ? { subgroup: { key: extra, source: table.source } } : {}),
    displayChannel: 0,
    ...(splits ? { splits } : {}),
  };
}

function _record(
  spec: DatasetSpecData,
  table: CaseTable,
  id: string,
  imagePaths: string[],
  labelPath: string,
): CaseRecord {
  const row = table.rows.get(id);
  if (table.source && !row) {
    throw new TypeError(
      `Invalid ${table.source}: case "${id}" has no row (every case needs a group)`,
    );
  }
  return {
    dataset: spec.kind,
    spec,
    id,
    subject: row?.subject ?? id,
    group: row?.group ?? "all",
    imagePaths,
    labelPath,
    meta: { ...row?.meta },
  };
}

function _checkTable(table: CaseTable, ids: ReadonlySet<string>): void {
  for (const id of table.rows.keys()) {
    if (!ids.has(id)) {
      throw new TypeError(`Invalid ${table.source}: case "${id}" is not in the dataset`);
    }
  }
}

/**
 * Read a dataset in the nnU-Net v2 raw layout.
 *
 * @param root The `DatasetXXX_Name` folder.
 * @returns Its spec and training records.
 * @throws {Deno.errors.NotFound} Naming a missing dataset.json, folder or file.
 * @throws {TypeError} Naming the file and field: channel_names, labels (an `"ignore"` label
 *   must have the highest value; region labels need background 0 and values ≥ 1),
 *   regions_class_order (required with regions: one value of the regions per region),
 *   numTraining, file_ending, channel files, splits, cases table.
 */
export async function readNnunetDataset(root: string): Promise<DescribedDataset> {
  const file = `${root}/dataset.json`;
  const json = await readJsonFile(file) as Record<string, unknown>;
  const channels = parseChannels(json.channel_names ?? json.modality, `${file}: channel_names`);
  const labelTable = _labelTable(json.labels, file, true);
  const classes = classNames(labelTable.table, `${file}: labels`);
  const ending = json.file_ending ?? ".nii.gz";
  if (ending !== ".nii.gz" && ending !== ".nii") {
    throw new TypeError(
      `Invalid ${file}: file_ending ${
        JSON.stringify(ending)
      } is not supported (".nii.gz" or ".nii")`,
    );
  }
  const images = await _names(`${root}/imagesTr`);
  const labels = new Set(await _names(`${root}/labelsTr`));
  const re = new RegExp(`^(.+)_(\\d{4})${ending.replaceAll(".", "\\.")}$`);
  const cases = new Map<string, Map<number, string>>();
  for (const name of images) {
    const m = re.exec(name);
    if (!m) continue;
    const ch = Number(m[2]);
    if (ch >= channels.length) {
      throw new TypeError(
        `Invalid ${root}/imagesTr/${name}: channel ${ch}, but ${file} lists ${channels.length} ` +
          `channel(s) (${channels.join(", ")})`,
      );
    }
    if (!cases.has(m[1])) cases.set(m[1], new Map());
    cases.get(m[1])!.set(ch, `${root}/imagesTr/${name}`);
  }
  const ids = [...cases.keys()].sort();
  if (ids.length === 0) {
    throw new Deno.errors.NotFound(
      `Cannot read dataset: ${root}/imagesTr has no CASE_0000${ending} files`,
    );
  }
  for (const id of ids) {
    const chans = cases.get(id)!;
    for (let c = 0; c < channels.length; c++) {
      if (!chans.has(c)) {
        throw new Deno.errors.NotFound(
          `Cannot read dataset: ${root}/imagesTr/${id}_${String(c).padStart(4, "0")}${ending} ` +
            `is missing (channel ${c}, "${channels[c]}", of case ${id})`,
        );
      }
    }
    if (!labels.has(`${id}${ending}`)) {
      throw new Deno.errors.NotFound(
        `Cannot read dataset: ${root}/labelsTr/${id}${ending} is missing`,
      );
    }
  }
  for (const l of labels) {
    const id = l.endsWith(ending) ? l.slice(0, -ending.length) : undefined;
    if (id && !cases.has(id)) {
      throw new TypeError(`Invalid ${root}/labelsTr/${l}: no images of case ${id} in imagesTr`);
    }
  }
  if (json.numTraining !== undefined && json.numTraining !== ids.length) {
    throw new TypeError(
      `Invalid ${file}: numTraining is ${json.numTraining}, but imagesTr holds ${ids.length} case(s)`,
    );
  }
  const table = await readCaseTable(root);
  _checkTable(table, new Set(ids));
  const subjectOf = new Map(ids.map((id) => [id, table.rows.get(id)?.subject ?? id]));
  const splits = await readSplits(`${root}/splits_final.json`, subjectOf);
  const title = typeof json.name === "string" && json.name ? json.name : root.split("/").pop()!;
  const regions = labelTable.regions && {
    regions: labelTable.regions,
    classOrder: _regionsClassOrder(json.regions_class_order, labelTable.regions, file),
  };
  const spec = _spec(
    "nnunet",
    title,
    channels,
    classes,
    table,
    splits,
    labelTable.ignore,
    regions,
  );
  const records = ids.map((id) =>
    _record(
      spec,
      table,
      id,
      channels.map((_, c) => cases.get(id)!.get(c)!),
      `${root}/labelsTr/${id}${ending}`,
    )
  );
  return { spec, records };
}

/**
 * Read a dataset in the Medical Segmentation Decathlon layout (4-D images when it has several
 * modalities: the 4th dimension is the channel).
 *
 * @param root The `TaskXX_Name` folder.
 * @returns Its spec and training records.
 * @throws {Deno.errors.NotFound} Naming a missing dataset.json or file.
 * @throws {TypeError} Naming the file and field: modality, labels, numTraining, training entries,
 *   cases table.
 */
export async function readMsdDataset(root: string): Promise<DescribedDataset> {
  const file = `${root}/dataset.json`;
  const json = await readJsonFile(file) as Record<string, unknown>;
  const channels = parseChannels(json.modality, `${file}: modality`);
  const classes = classNames(_labelTable(json.labels, file, false).table, `${file}: labels`);
  const training = json.training;
  if (!Array.isArray(training) || training.length === 0) {
    throw new TypeError(`Invalid ${file}: training must be a non-empty list of { image, label }`);
  }
  if (json.numTraining !== undefined && json.numTraining !== training.length) {
    throw new TypeError(
      `Invalid ${file}: numTraining is ${json.numTraining}, but training lists ${training.length} case(s)`,
    );
  }
  const resolve = (p: unknown, k: number, field: string) => {
    if (typeof p !== "string" || p === "") {
      throw new TypeError(`Invalid ${file}: training[${k}].${field} must be a file path`);
    }
    return `${root}/${p.replace(/^\.\//, "")}`;
  };
  const entries = training.map((t, k) => {
    const e = t as { image?: unknown; label?: unknown };
    const image = resolve(e.image, k, "image");
    const label = resolve(e.label, k, "label");
    const id = image.split("/").pop()!.replace(/\.nii(\.gz)?$/, "");
    return { id, image, label };
  });
  for (const e of entries) {
    for (const path of [e.image, e.label]) {
      try {
        await Deno.stat(path);
      } catch {
        throw new Deno.errors.NotFound(
          `Cannot read dataset: ${path} is missing (listed in ${file})`,
        );
      }
    }
  }
  const ids = new Set(entries.map((e) => e.id));
  if (ids.size !== entries.length) {
    throw new TypeError(`Invalid ${file}: a training image is listed twice`);
  }
  const table = await readCaseTable(root);
  _checkTable(table, ids);
  const title = typeof json.name === "string" && json.name ? json.name : root.split("/").pop()!;
  const spec = _spec("msd", title, channels, classes, table);
  const records = entries.sort((a, b) => a.id.localeCompare(b.id)).map((e) =>
    _record(spec, table, e.id, [e.image], e.label)
  );
  return { spec, records };
}
