/**
 * The scans to predict: a folder or a file in either dataset layout — nnU-Net channel files
 * (`CASE_0000.nii.gz`, `CASE_0001.nii.gz`, …), 4-D NIfTI with the channels on the 4th axis (the
 * Medical Segmentation Decathlon's), or plain 3-D files for one-channel models — listed by case,
 * checked against the model's channels, and read into one `[C, D, H, W]` volume per case.
 *
 * @module
 */

import type { Vec3 } from "../data/types.ts";
import type { NiftiHeader } from "../nifti/header.ts";
import { type NiftiImage, readNiftiFile } from "../nifti/read_nifti.ts";

/** One case to predict and its files. */
export interface PredictionInput {
  /** Case id: the file name without the channel suffix and `.nii(.gz)`. */
  id: string;
  /**
   * `"channels"`: one 3-D file per channel (`files[c]` is `CASE_000c`); `"single"`: one file,
   * 3-D (one channel) or 4-D (channels on the 4th axis).
   */
  layout: "channels" | "single";
  /** The files, in channel order. */
  files: string[];
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

const _CHANNEL = /^(.+)_(\d{4})\.nii(\.gz)?$/;
const _NIFTI = /\.nii(\.gz)?$/;

/**
 * The cases of a folder or a file. File names ending in `_NNNN.nii(.gz)` are channel files of
 * the case before the suffix (nnU-Net); any other `.nii`/`.nii.gz` file is a case of its own.
 * A file given directly that is a channel file brings its sibling channels along. Channel
 * numbers must be exactly `0000 … C−1` of the model's C channels.
 *
 * @param path A folder or a `.nii`/`.nii.gz` file.
 * @param channels The model's channel names, in order.
 * @returns The cases, sorted by id.
 * @throws {Deno.errors.NotFound} When the path does not exist.
 * @throws {TypeError} When the path holds no NIfTI file, a case is both a plain file and
 *   channel files or has a channel twice, or a case misses a channel or has one too many —
 *   naming the case, the file expected and the model's channels.
 */
export async function listPredictionInputs(
  path: string,
  channels: readonly string[],
): Promise<PredictionInput[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read input ${path}: it does not exist`);
    }
    throw err;
  }
  const slash = path.lastIndexOf("/");
  const dir = info.isDirectory ? path.replace(/\/+$/, "") : slash >= 0 ? path.slice(0, slash) : "";
  const join = (n: string) => (dir ? `${dir}/${n}` : n);
  let names: string[];
  if (info.isDirectory) {
    names = [];
    for await (const e of Deno.readDir(path)) {
      if (e.isFile && !e.name.startsWith(".") && _NIFTI.test(e.name)) names.push(e.name);
    }
    if (names.length === 0) {
      throw new TypeError(`Cannot predict: ${path} holds no .nii or .nii.gz file`);
    }
  } else {
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (!_NIFTI.test(name)) {
      throw new TypeError(`Cannot predict: ${path} is not a .nii or .nii.gz file`);
    }
    const m = _CHANNEL.exec(name);
    names = [name];
    if (m) {
      for await (const e of Deno.readDir(dir || ".")) {
        const o = _CHANNEL.exec(e.name);
        if (e.isFile && o && o[1] === m[1] && e.name !== name) names.push(e.name);
      }
    }
  }
  const plain = new Map<string, string>();
  const split = new Map<string, Map<number, string>>();
  for (const name of names.sort()) {
    const m = _CHANNEL.exec(name);
    if (!m) {
      plain.set(name.replace(_NIFTI, ""), join(name));
      continue;
    }
    const files = split.get(m[1]) ?? new Map<number, string>();
    const c = Number(m[2]);
    if (files.has(c)) {
      throw new TypeError(
        `Cannot predict case ${m[1]}: channel ${m[2]} is there twice (${files.get(c)} and ` +
          `${join(name)})`,
      );
    }
    files.set(c, join(name));
    split.set(m[1], files);
  }
  const out: PredictionInput[] = [];
  const want = `${channels.length} channel(s): ${_channelList(channels)}`;
  for (const [id, files] of split) {
    if (plain.has(id)) {
      throw new TypeError(
        `Cannot predict case ${id}: it is both a file (${plain.get(id)}) and channel files ` +
          `(${[...files.values()][0]}); keep one layout`,
      );
    }
    for (let c = 0; c < channels.length; c++) {
      if (!files.has(c)) {
        const ext = [...files.values()][0].endsWith(".gz") ? ".nii.gz" : ".nii";
        throw new TypeError(
          `Cannot predict case ${id}: channel ${_num(c)} (${channels[c]}) is missing ` +
            `(expected ${join(`${id}_${_num(c)}${ext}`)}; the model needs ${want})`,
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
    out.push({
      id,
      layout: "channels",
      files: channels.map((_, c) => files.get(c)!),
    });
  }
  for (const [id, file] of plain) out.push({ id, layout: "single", files: [file] });
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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

function _channelList(channels: readonly string[]): string {
  return channels.map((name, c) => `${_num(c)} ${name}`).join(", ");
}
