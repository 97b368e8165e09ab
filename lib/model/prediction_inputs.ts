/**
 * The scans to predict: a folder or a file in any of the layouts dicelab reads — nnU-Net
 * channel files (`CASE_0000.nii.gz`, `CASE_0001.nii.gz`, …), channel files named by the model's
 * channel names (BRATS' `CASE_flair.nii.gz`, `CASE_t1.nii.gz`, …), 4-D NIfTI with the channels
 * on the 4th axis (the Medical Segmentation Decathlon's), or plain 3-D files for one-channel
 * models — found in the folder or, when it holds none at its top, in its subfolders (the
 * native ACDC and BRATS trees), without the files of the layout that are not scans (labels,
 * auxiliary volumes; reported), checked against the model's channels, and read into one
 * `[C, D, H, W]` volume per case.
 *
 * @module
 */

import { nonScanFileRules } from "../data/datasets.ts";
import type { NonScanFileRule, Vec3 } from "../data/types.ts";
import type { NiftiHeader } from "../nifti/header.ts";
import { type NiftiImage, readNiftiFile } from "../nifti/read_nifti.ts";

/** One case to predict and its files. */
export interface PredictionInput {
  /** Case id: the file name without the channel suffix and `.nii(.gz)`. */
  id: string;
  /**
   * `"channels"`: one 3-D file per channel (`files[c]` is `CASE_000c` or `CASE_<name of
   * channel c>`); `"single"`: one file, 3-D (one channel) or 4-D (channels on the 4th axis).
   */
  layout: "channels" | "single";
  /** The files, in channel order. */
  files: string[];
}

/** A file left out of the inputs because it is not a scan of its layout. */
export interface SkippedInput {
  /** The file. */
  file: string;
  /** The rule's name suffix (`"_seg"`). */
  suffix: string;
  /** What it is, singular (`"label file"`). */
  what: string;
}

/** The cases found, and the files left out. */
export interface PredictionInputListing {
  /** The cases, sorted by id. */
  cases: PredictionInput[];
  /** The files that are not scans (labels, auxiliary volumes), sorted by path. */
  skipped: SkippedInput[];
}

/** Options of {@linkcode findPredictionInputs} and {@linkcode listPredictionInputs}. */
export interface PredictionInputOptions {
  /**
   * The dataset kind the model was trained on (`model.dataset.kind`): it decides which files
   * are not scans (`nonScanFileRules` of lib/data).
   * @default "" (a kind without rules of its own: every known dataset's rules)
   */
  kind?: string;
}
/** A scan read for prediction: its channels on its own grid, and its header. */
export interface ScanVolumes {
  /** Case id. */
  id: string;
  /** Intensities `[C, D, H, W]` (NIfTI voxel order: W = i fastest). */
  image: Float32Array;
  /** Channels C. */
  channels: number;
  /** `[D, H, W]` = NIfTI `[k, j, i]`. */
  shape: Vec3;
  /** Spacing `[sd, sh, sw]` in mm (|pixdim[3]|, |pixdim[2]|, |pixdim[1]|). */
  spacing: Vec3;
  /** Voxel-to-world matrix of the scan (NIfTI index order). */
  affine: number[][];
  /** The header of its (first) file, reused for the outputs. */
  header: NiftiHeader;
}

const _NUMBERED = /^(.+)_(\d{4})$/;
const _NIFTI = /\.nii(\.gz)?$/;

/**
 * The cases of a folder or a file, and the files left out. In a folder, the `.nii`/`.nii.gz`
 * files at its top; when there are none, those of all its subfolders, at any depth (case ids
 * stay the file names: two cases of the same id in different folders are an error). Each file
 * name (without `.nii(.gz)`) is, in this order:
 * - `CASE_NNNN`: channel NNNN of `CASE` (nnU-Net); the numbers must be exactly `0000 … C−1`;
 * - `CASE_<channel>`, `<channel>` one of the model's channel names (case-insensitive; the
 *   longest that fits): that channel of `CASE` (BRATS' `Brats18_X_flair` … `_t2`);
 * - ending in a suffix of `nonScanFileRules(kind)` (BRATS' `_seg`, ACDC's `_gt` and `_4d`): not
 *   a scan, skipped and reported;
 * - else a case of its own (3-D, or 4-D with the channels on the 4th axis).
 *
 * A file given directly that is a channel file brings the other channels of its case along.
 *
 * @param path A folder or a `.nii`/`.nii.gz` file.
 * @param channels The model's channel names, in order.
 * @param options The model's dataset kind.
 * @returns The cases, sorted by id, and the skipped files.
 * @throws {Deno.errors.NotFound} When the path does not exist.
 * @throws {TypeError} When the path holds no scan or is a file that is not one, a case is both
 *   a plain file and channel files, mixes numbered and named channel files, has a channel
 *   twice, misses a channel or has one too many, or a case id is in two folders — naming the
 *   case, the files and the model's channels.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findPredictionInputs } from "./prediction_inputs.ts";
 * const dir = await Deno.makeTempDir();
 * for (const name of ["B1_flair", "B1_t1", "B1_seg"]) await Deno.writeFile(`${dir}/${name}.nii`, new Uint8Array());
 * const found = await findPredictionInputs(dir, ["flair", "t1"], { kind: "brats" });
 * assert.deepEqual(found.cases.map((c) => [c.id, c.files.length]), [["B1", 2]]);
 * assert.deepEqual(found.skipped.map((s) => s.what), ["label file"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function findPredictionInputs(
  path: string,
  channels: readonly string[],
  options: PredictionInputOptions = {},
): Promise<PredictionInputListing> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read input ${path}: it does not exist`);
    }
    throw err;
  }
  const rules = nonScanFileRules(options.kind ?? "");
  const classify = (name: string) => _classify(name, channels, rules);
  let files: { dir: string; name: string }[];
  if (info.isDirectory) {
    const root = path.replace(/(.)\/+$/, "$1");
    files = await _niftiFiles(root);
    if (files.length === 0) {
      const subs = await _subfolders(root);
      for (const sub of subs) files.push(...(await _walk(sub)));
      if (files.length === 0) {
        throw new TypeError(
          `Cannot predict: ${path} holds no .nii or .nii.gz file` +
            (subs.length > 0 ? ", nor do its subfolders" : ""),
        );
      }
    }
  } else {
    const slash = path.lastIndexOf("/");
    const dir = slash >= 0 ? path.slice(0, slash) : "";
    const name = path.slice(slash + 1);
    if (!_NIFTI.test(name)) {
      throw new TypeError(`Cannot predict: ${path} is not a .nii or .nii.gz file`);
    }
    const cls = classify(name);
    if (cls.kind === "skip") {
      throw new TypeError(
        `Cannot predict: ${path} is a ${cls.rule.what}, not a scan (file names ending in ` +
          `${cls.rule.suffix} are not scans for this model)`,
      );
    }
    files = [{ dir, name }];
    if (cls.kind === "channel") {
      for (const o of await _niftiFiles(dir)) {
        const c = classify(o.name);
        if (o.name !== name && c.kind === "channel" && c.id === cls.id) files.push(o);
      }
    }
  }

  const skipped: SkippedInput[] = [];
  const plain = new Map<string, { id: string; file: string }>();
  const split = new Map<
    string,
    { id: string; dir: string; files: Map<number, string>; named: string[]; numbered: string[] }
  >();
  files.sort((a, b) => _cmp(_join(a.dir, a.name), _join(b.dir, b.name)));
  for (const { dir, name } of files) {
    const file = _join(dir, name);
    const cls = classify(name);
    if (cls.kind === "skip") {
      skipped.push({ file, suffix: cls.rule.suffix, what: cls.rule.what });
    } else if (cls.kind === "plain") {
      plain.set(`${dir}\0${cls.id}`, { id: cls.id, file });
    } else {
      const key = `${dir}\0${cls.id}`;
      const entry = split.get(key) ??
        { id: cls.id, dir, files: new Map<number, string>(), named: [], numbered: [] };
      split.set(key, entry);
      (cls.numbered ? entry.numbered : entry.named).push(file);
      if (entry.named.length > 0 && entry.numbered.length > 0) {
        throw new TypeError(
          `Cannot predict case ${cls.id}: it has numbered channel files (${entry.numbered[0]}) ` +
            `and channel files named by channel (${entry.named[0]}); keep one layout`,
        );
      }
      const twice = entry.files.get(cls.channel);
      if (twice !== undefined) {
        throw new TypeError(
          `Cannot predict case ${cls.id}: channel ${_channelText(cls.channel, channels)} is ` +
            `there twice (${twice} and ${file})`,
        );
      }
      entry.files.set(cls.channel, file);
    }
  }

  // One layout per case, one folder per case id.
  const where = new Map<string, string>();
  const claim = (id: string, file: string) => {
    const other = where.get(id);
    if (other !== undefined) {
      throw new TypeError(
        `Cannot predict: case ${id} is in two folders (${other} and ${file}); the outputs go ` +
          `flat into the output folder as ${id}.nii.gz, so case ids must be unique`,
      );
    }
    where.set(id, file);
  };
  for (const [key, entry] of split) {
    const first = [...entry.files.values()][0];
    const p = plain.get(key);
    if (p) {
      throw new TypeError(
        `Cannot predict case ${entry.id}: it is both a file (${p.file}) and channel files ` +
          `(${first}); keep one layout`,
      );
    }
    claim(entry.id, first);
  }
  for (const p of plain.values()) claim(p.id, p.file);

  const out: PredictionInput[] = [];
  const want = `${channels.length} channel(s): ${_channelList(channels)}`;
  for (const entry of split.values()) {
    const { id, files } = entry;
    const first = [...files.values()][0];
    for (let c = 0; c < channels.length; c++) {
      if (!files.has(c)) {
        const ext = first.endsWith(".gz") ? ".nii.gz" : ".nii";
        const tag = entry.numbered.length > 0 ? _num(c) : channels[c];
        throw new TypeError(
          `Cannot predict case ${id}: channel ${_channelText(c, channels)} is missing ` +
            `(expected ${_join(entry.dir, `${id}_${tag}${ext}`)}; the model needs ${want})`,
        );
      }
    }
    const extra = [...files.keys()].filter((c) => c >= channels.length);
    if (extra.length > 0) {
      throw new TypeError(
        `Cannot predict case ${id}: it has channel file ${files.get(extra[0])} but the model ` +
          `needs ${want}`,
      );
    }
    out.push({ id, layout: "channels", files: channels.map((_, c) => files.get(c)!) });
  }
  for (const { id, file } of plain.values()) out.push({ id, layout: "single", files: [file] });
  if (out.length === 0) {
    throw new TypeError(
      `Cannot predict: ${path} holds no scan (skipped ${skippedSummary(skipped)})`,
    );
  }
  return { cases: out.sort((a, b) => _cmp(a.id, b.id)), skipped };
}

/**
 * The cases of a folder or a file: {@linkcode findPredictionInputs} without the list of the
 * files left out.
 *
 * @param path A folder or a `.nii`/`.nii.gz` file.
 * @param channels The model's channel names, in order.
 * @param options The model's dataset kind.
 * @returns The cases, sorted by id.
 * @throws {Deno.errors.NotFound} When the path does not exist.
 * @throws {TypeError} As {@linkcode findPredictionInputs}.
 */
export async function listPredictionInputs(
  path: string,
  channels: readonly string[],
  options: PredictionInputOptions = {},
): Promise<PredictionInput[]> {
  return (await findPredictionInputs(path, channels, options)).cases;
}

/**
 * The skipped files in a few words, by what they are and their name pattern.
 *
 * @param skipped The skipped files.
 * @returns E.g. `20 label files (…_seg.nii.gz), 10 cine volumes (…_4d.nii.gz)`; `""` for none.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { skippedSummary } from "./prediction_inputs.ts";
 * const s = skippedSummary([
 *   { file: "a/p1_frame01_gt.nii.gz", suffix: "_gt", what: "label file" },
 *   { file: "a/p1_4d.nii.gz", suffix: "_4d", what: "cine volume" },
 *   { file: "a/p2_frame01_gt.nii.gz", suffix: "_gt", what: "label file" },
 * ]);
 * assert.equal(s, "2 label files (…_gt.nii.gz), 1 cine volume (…_4d.nii.gz)");
 * ```
 */
export function skippedSummary(skipped: readonly SkippedInput[]): string {
  const groups = new Map<string, { n: number; patterns: string[] }>();
  for (const s of skipped) {
    const g = groups.get(s.what) ?? { n: 0, patterns: [] };
    groups.set(s.what, g);
    g.n++;
    const pattern = `…${s.suffix}${s.file.endsWith(".gz") ? ".nii.gz" : ".nii"}`;
    if (!g.patterns.includes(pattern)) g.patterns.push(pattern);
  }
  return [...groups].map(([what, g]) =>
    `${g.n} ${what}${g.n === 1 ? "" : "s"} (${g.patterns.join(", ")})`
  ).join(", ");
}

type _Class =
  | { kind: "channel"; id: string; channel: number; numbered: boolean }
  | { kind: "skip"; rule: NonScanFileRule }
  | { kind: "plain"; id: string };

function _classify(
  name: string,
  channels: readonly string[],
  rules: readonly NonScanFileRule[],
): _Class {
  const stem = name.replace(_NIFTI, "");
  const m = _NUMBERED.exec(stem);
  if (m) return { kind: "channel", id: m[1], channel: Number(m[2]), numbered: true };
  const lower = stem.toLowerCase();
  let best = -1;
  channels.forEach((ch, c) => {
    const tail = `_${ch.toLowerCase()}`;
    if (
      ch.length > 0 && lower.length > tail.length && lower.endsWith(tail) &&
      (best < 0 || ch.length > channels[best].length)
    ) best = c;
  });
  if (best >= 0) {
    return {
      kind: "channel",
      id: stem.slice(0, stem.length - channels[best].length - 1),
      channel: best,
      numbered: false,
    };
  }
  for (const rule of rules) {
    const tail = rule.suffix.toLowerCase();
    if (lower.length > tail.length && lower.endsWith(tail)) return { kind: "skip", rule };
  }
  return { kind: "plain", id: stem };
}

/** The NIfTI files directly in a folder (not hidden). */
async function _niftiFiles(dir: string): Promise<{ dir: string; name: string }[]> {
  const out: { dir: string; name: string }[] = [];
  for await (const e of Deno.readDir(dir || ".")) {
    if (e.isFile && !e.name.startsWith(".") && _NIFTI.test(e.name)) out.push({ dir, name: e.name });
  }
  return out;
}

/** The subfolders of a folder (not hidden; links are not followed), sorted. */
async function _subfolders(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && !e.name.startsWith(".")) out.push(_join(dir, e.name));
  }
  return out.sort(_cmp);
}

/** Every NIfTI file in a folder and its subfolders, at any depth. */
async function _walk(dir: string): Promise<{ dir: string; name: string }[]> {
  const out = await _niftiFiles(dir);
  for (const sub of await _subfolders(dir)) out.push(...(await _walk(sub)));
  return out;
}

function _join(dir: string, name: string): string {
  return dir ? (dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`) : name;
}

function _cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Read a case's files into one `[C, D, H, W]` volume, checking that it has the model's
 * channels: every channel file 3-D on the same grid (shape and affine), or one file that is
 * 3-D (one channel) or 4-D with C volumes; every voxel finite.
 *
 * @param input The case.
 * @param channels The model's channel names, in order.
 * @returns The scan.
 * @throws {Deno.errors.NotFound} When a file does not exist.
 * @throws {SyntaxError} When a file is not valid NIfTI.
 * @throws {TypeError} When the channel count, a shape or an affine does not fit — naming the
 *   case, the file and what the model needs.
 * @throws {RangeError} When a voxel is not finite or the spacing is not positive.
 */
export async function readPredictionInput(
  input: PredictionInput,
  channels: readonly string[],
): Promise<ScanVolumes> {
  const C = channels.length;
  const want = `${C} channel(s): ${_channelList(channels)}`;
  const first = await readNiftiFile(input.files[0]);
  const dims = first.shape;
  const shape: Vec3 = [dims[2] ?? 1, dims[1] ?? 1, dims[0]];
  const n = shape[0] * shape[1] * shape[2];
  const image = new Float32Array(C * n);
  if (input.layout === "single") {
    const extra = dims.slice(4).findIndex((d) => d !== 1);
    const volumes = dims[3] ?? 1;
    if (dims.length < 3 || extra >= 0) {
      throw new TypeError(
        `Cannot predict case ${input.id}: ${first.name} has shape ${dims.join("×")}; ` +
          `expected 3-D, or 4-D with the channels on the 4th axis`,
      );
    }
    if (volumes !== C) {
      throw new TypeError(
        `Cannot predict case ${input.id}: ${first.name} has ${volumes} channel(s) ` +
          `(shape ${dims.join("×")}), the model needs ${want}` +
          (C > 1 && volumes === 1
            ? ` (give a 4-D file or channel files ${input.id}_0000 … ${input.id}_${_num(C - 1)})`
            : ""),
      );
    }
    for (let c = 0; c < C; c++) {
      _setChannel(image, c, n, first, first.data.subarray(c * n, (c + 1) * n), input.id);
    }
  } else {
    for (let c = 0; c < C; c++) {
      const img = c === 0 ? first : await readNiftiFile(input.files[c]);
      const s = img.shape;
      if (s.length < 3 || s.slice(3).some((d) => d !== 1)) {
        throw new TypeError(
          `Cannot predict case ${input.id}: channel file ${img.name} has shape ${s.join("×")}, ` +
            `expected 3-D`,
        );
      }
      if (s[0] !== dims[0] || s[1] !== dims[1] || s[2] !== dims[2]) {
        throw new TypeError(
          `Cannot predict case ${input.id}: ${img.name} has shape ${s.join("×")} but ` +
            `${first.name} has ${dims.join("×")}`,
        );
      }
      if (!_sameAffine(img.affine, first.affine)) {
        throw new TypeError(
          `Cannot predict case ${input.id}: ${img.name} and ${first.name} have different affines`,
        );
      }
      _setChannel(image, c, n, img, img.data.subarray(0, n), input.id);
    }
  }
  const spacing: Vec3 = [
    Math.abs(first.spacing[2] ?? 1),
    Math.abs(first.spacing[1] ?? 1),
    Math.abs(first.spacing[0]),
  ];
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new RangeError(
      `Cannot predict case ${input.id}: ${first.name} has voxel spacing ` +
        `[${first.spacing.slice(0, 3)}] (pixdim[1..3] must be positive)`,
    );
  }
  return {
    id: input.id,
    image,
    channels: C,
    shape,
    spacing,
    affine: first.affine,
    header: first.header,
  };
}

function _setChannel(
  image: Float32Array,
  c: number,
  n: number,
  img: NiftiImage,
  data: Float32Array | Float64Array,
  id: string,
): void {
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(
      `Cannot predict case ${id}: ${img.name} holds a non-finite value (${data[bad]}) at ` +
        `voxel ${bad} of channel ${c}`,
    );
  }
  image.set(data, c * n);
}

function _sameAffine(a: number[][], b: number[][]): boolean {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      if (!(Math.abs(a[r][c] - b[r][c]) <= 1e-4 * (1 + Math.abs(b[r][c])))) return false;
    }
  }
  return true;
}

function _num(c: number): string {
  return String(c).padStart(4, "0");
}

function _channelText(c: number, channels: readonly string[]): string {
  return c < channels.length ? `${_num(c)} (${channels[c]})` : _num(c);
}

function _channelList(channels: readonly string[]): string {
  return channels.map((name, c) => `${_num(c)} ${name}`).join(", ");
}
