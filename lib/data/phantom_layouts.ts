/**
 * Phantom datasets in the nnU-Net v2 raw and the Decathlon layouts, so that pipelines on those
 * formats run on a fresh machine through the same readers as real data. The nnU-Net phantom
 * renders the ACDC-like hearts (one cine channel; RV, MYO, LV) as a dataset merged from two
 * sites: site B did not annotate the myocardium (its `annotated.json` lists what each case has),
 * the cases table gives each frame's group (its site, `siteA` or `siteB`), subject (the patient),
 * pathology and frame (ED/ES), and a few patients are held out in `imagesTs/`. The Decathlon phantom renders the BRATS-like brains as 4-D
 * four-modality images with the whole tumour as label 1.
 *
 * @module
 */

import { writeJsonAtomic } from "../core/atomic_write.ts";
import { writeNifti } from "../nifti/write_nifti.ts";
import { renderAcdcPatient } from "./phantom_acdc.ts";
import { renderBratsCase } from "./phantom_brats.ts";
import type { PhantomSummary } from "./phantom_brats.ts";

/** Options of {@linkcode generateNnunetPhantom}. */
export interface NnunetPhantomOptions {
  /** Training patients (two frames each). @default 12 */
  patients?: number;
  /** Held-out patients written to imagesTs (ED frame only). @default 2 */
  testPatients?: number;
  /** Every other training patient comes from site B, which did not annotate MYO. @default true */
  partialSite?: boolean;
  /** Field of view [min, max] in mm of the rendered hearts. @default [150, 160] */
  fieldOfView?: [number, number];
  /** Seed. @default 14 */
  seed?: number;
  /** gzip level. @default 1 */
  gzipLevel?: number;
  /**
   * Label the first and last `k` slices (NIfTI k axis) of every training label with nnU-Net's
   * `"ignore"` label (value 4 in dataset.json): the basal and apical slices that annotators
   * often leave unsure. @default 0 (no ignore label)
   */
  ignoreEdgeSlices?: number;
}

/** The defaults of {@linkcode generateNnunetPhantom}. */
export const NNUNET_PHANTOM_DEFAULTS: Readonly<Required<NnunetPhantomOptions>> = {
  patients: 12,
  testPatients: 2,
  partialSite: true,
  fieldOfView: [150, 160],
  seed: 14,
  gzipLevel: 1,
  ignoreEdgeSlices: 0,
};

const HEADER = {
  descrip: "dicelab nnU-Net-layout phantom",
  xyztUnits: 10,
  sformCode: 1,
  qformCode: 1,
};

/**
 * Write an nnU-Net v2 raw dataset (`dataset.json`, `imagesTr/`, `labelsTr/`, `imagesTs/`,
 * `cases.csv`, `annotated.json`) of ACDC-like hearts.
 *
 * @param dir Folder to write (created).
 * @param options Sizes, the partial site, seed.
 * @returns What was written.
 */
export async function generateNnunetPhantom(
  dir: string,
  options: NnunetPhantomOptions = {},
): Promise<PhantomSummary> {
  const start = performance.now();
  const o = { ...NNUNET_PHANTOM_DEFAULTS, ...options };
  for (const sub of ["imagesTr", "labelsTr", "imagesTs"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  }
  const rows = ["case,group,subject,pathology,frame"];
  const annotated: Record<string, string[]> = {};
  let files = 0;
  let cases = 0;
  const render = (index: number) =>
    renderAcdcPatient(index, {
      patientsPerGroup: Math.ceil((o.patients + o.testPatients) / 5),
      fieldOfView: o.fieldOfView,
      seed: o.seed,
    });
  for (let index = 0; index < o.patients + o.testPatients; index++) {
    const p = render(index);
    const common = { shape: p.shape, affine: p.affine, spacing: p.spacing, header: HEADER };
    const write = async (path: string, data: Float32Array | Int16Array | Uint8Array) => {
      await Deno.writeFile(
        path,
        writeNifti({ ...common, data }, { gzip: true, level: o.gzipLevel }),
      );
      files++;
    };
    if (index >= o.patients) {
      await write(`${dir}/imagesTs/${p.patient}_ED_0000.nii.gz`, p.ed.image);
      continue;
    }
    const site = o.partialSite && index % 2 === 1 ? "siteB" : "siteA";
    for (const [group, frame] of [["ED", p.ed], ["ES", p.es]] as const) {
      const id = `${p.patient}_${group}`;
      await write(`${dir}/imagesTr/${id}_0000.nii.gz`, frame.image);
      await write(`${dir}/labelsTr/${id}.nii.gz`, _ignoreEdges(frame.label, p.shape, o));
      rows.push(`${id},${site},${p.patient},${p.info.Group ?? "unknown"},${group}`);
      if (site === "siteB") annotated[id] = ["RV", "LV"];
      cases++;
    }
  }
  await writeJsonAtomic(`${dir}/dataset.json`, {
    name: "PhantomHeart",
    description: "dicelab phantom: ACDC-like cine MRI frames in the nnU-Net v2 raw layout",
    channel_names: { "0": "cineMRI" },
    labels: {
      background: 0,
      RV: 1,
      MYO: 2,
      LV: 3,
      ...(o.ignoreEdgeSlices > 0 ? { ignore: NNUNET_PHANTOM_IGNORE } : {}),
    },
    numTraining: cases,
    file_ending: ".nii.gz",
  });
  await Deno.writeTextFile(`${dir}/cases.csv`, rows.join("\n") + "\n");
  await writeJsonAtomic(`${dir}/annotated.json`, annotated);
  return { root: dir, cases, files: files + 3, seconds: (performance.now() - start) / 1000 };
}

/** The value of the nnU-Net phantom's `"ignore"` label (with `ignoreEdgeSlices`). */
export const NNUNET_PHANTOM_IGNORE = 4;

/** A label volume `[nx, ny, nz]` (i fastest) with its first and last k slices ignored. */
function _ignoreEdges(
  label: Uint8Array,
  shape: readonly number[],
  o: { ignoreEdgeSlices: number },
): Uint8Array {
  const k = o.ignoreEdgeSlices;
  if (!(k > 0)) return label;
  const [nx, ny, nz] = shape;
  if (2 * k >= nz) {
    throw new RangeError(`Invalid ignoreEdgeSlices: ${k} of ${nz} slices leaves none labelled`);
  }
  const out = label.slice();
  const slice = nx * ny;
  out.fill(NNUNET_PHANTOM_IGNORE, 0, k * slice);
  out.fill(NNUNET_PHANTOM_IGNORE, (nz - k) * slice, nz * slice);
  return out;
}

/** Options of {@linkcode generateMsdPhantom}. */
export interface MsdPhantomOptions {
  /** Cases. @default 8 */
  cases?: number;
  /** Volume size in voxels [nx, ny, nz]. @default [24, 24, 16] */
  size?: [number, number, number];
  /** Voxel spacing in mm. @default 4 */
  spacing?: number;
  /** Seed. @default 10 */
  seed?: number;
}

/** The defaults of {@linkcode generateMsdPhantom}. */
export const MSD_PHANTOM_DEFAULTS: Readonly<Required<MsdPhantomOptions>> = {
  cases: 8,
  size: [24, 24, 16],
  spacing: 4,
  seed: 10,
};

/**
 * Write a Decathlon dataset (`dataset.json` with `modality`, `labels`, `training`; 4-D
 * four-modality `imagesTr/`; `labelsTr/`) of BRATS-like brains, half of them low grade (the
 * group of `cases.csv`).
 *
 * @param dir Folder to write (created).
 * @param options Sizes and seed.
 * @returns What was written.
 */
export async function generateMsdPhantom(
  dir: string,
  options: MsdPhantomOptions = {},
): Promise<PhantomSummary> {
  const start = performance.now();
  const o = { ...MSD_PHANTOM_DEFAULTS, ...options };
  await Deno.mkdir(`${dir}/imagesTr`, { recursive: true });
  await Deno.mkdir(`${dir}/labelsTr`, { recursive: true });
  const training: { image: string; label: string }[] = [];
  const rows = ["case,group"];
  for (let i = 0; i < o.cases; i++) {
    const grade = i % 2 === 0 ? "HGG" : "LGG";
    const c = renderBratsCase(i, grade, { size: o.size, spacing: o.spacing, seed: o.seed });
    const n = c.shape[0] * c.shape[1] * c.shape[2];
    const image = new Int16Array(4 * n);
    c.channels.forEach((img, k) => image.set(img, k * n));
    const label = Uint8Array.from(c.seg, (v) => (v > 0 ? 1 : 0));
    const spacing = [c.spacing, c.spacing, c.spacing];
    const id = `PHANTOM_${String(i + 1).padStart(3, "0")}`;
    const common = { affine: c.affine, header: HEADER };
    await Deno.writeFile(
      `${dir}/imagesTr/${id}.nii.gz`,
      writeNifti({ ...common, shape: [...c.shape, 4], spacing: [...spacing, 1], data: image }, {
        gzip: true,
        level: 1,
      }),
    );
    await Deno.writeFile(
      `${dir}/labelsTr/${id}.nii.gz`,
      writeNifti({ ...common, shape: c.shape, spacing, data: label }, { gzip: true, level: 1 }),
    );
    training.push({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` });
    rows.push(`${id},${grade}`);
  }
  await writeJsonAtomic(`${dir}/dataset.json`, {
    name: "PhantomBrain",
    description: "dicelab phantom: BRATS-like brains in the Decathlon layout",
    modality: { "0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w" },
    labels: { "0": "background", "1": "tumour" },
    numTraining: o.cases,
    numTest: 0,
    training,
    test: [],
  });
  await Deno.writeTextFile(`${dir}/cases.csv`, rows.join("\n") + "\n");
  return {
    root: dir,
    cases: o.cases,
    files: 2 * o.cases + 2,
    seconds: (performance.now() - start) / 1000,
  };
}
