/**
 * BRATS-like phantom: four MR-like channels (FLAIR, T1, T1ce, T2) of a skull-stripped brain
 * with a glioma (core + oedema), written in the BRATS 2018 layout
 * (`HGG|LGG/Brats18_*\/Brats18_*_{flair,t1,t1ce,t2,seg}.nii.gz`).
 *
 * What differs between grades is only the T1ce signal of the tumour core: HGG cores have an
 * enhancing rim (label 4) around necrosis (label 1); LGG cores (label 1) do not enhance.
 * Geometry, the other three channels and the whole-tumour mask come from streams that do not
 * depend on the grade, so "learn empty maps for LGG" is learnable only through that rim.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { writeNifti } from "../nifti/mod.ts";
import { _blur, _logUniform, _rotation, _smoothField, _toInt16 } from "./_phantom_common.ts";

/** Options of the BRATS-like phantom. */
export interface BratsPhantomOptions {
  /** High-grade cases. @default 210 */
  hgg?: number;
  /** Low-grade cases. @default 75 */
  lgg?: number;
  /** Grid `[nx, ny, nz]` (NIfTI order). @default [60, 60, 40] */
  size?: [number, number, number];
  /** Isotropic voxel size in mm (60·1.6 = 96 mm → 48 voxels at 2 mm). @default 1.6 */
  spacing?: number;
  /** Seed. @default 2018 */
  seed?: number;
  /** Noise σ relative to white matter T1 ≈ 0.8. @default 0.035 */
  noise?: number;
  /** Bias-field amplitude (log scale, ±). @default 0.2 */
  bias?: number;
  /** zlib level of the written files. @default 1 */
  gzipLevel?: number;
}

/** The defaults of {@linkcode BratsPhantomOptions}. */
export const BRATS_PHANTOM_DEFAULTS: Readonly<Required<BratsPhantomOptions>> = {
  hgg: 210,
  lgg: 75,
  size: [60, 60, 40],
  spacing: 1.6,
  seed: 2018,
  noise: 0.035,
  bias: 0.2,
  gzipLevel: 1,
};

/** One rendered BRATS-like case. */
export interface BratsPhantomCase {
  /** Subject id (`Brats18_PHANTOM_001_1`). */
  subject: string;
  /** `"HGG"` or `"LGG"`. */
  grade: "HGG" | "LGG";
  /** FLAIR, T1, T1ce, T2 as stored (int16, NIfTI order). */
  channels: Int16Array[];
  /** Labels 0, 1 (core / necrosis), 2 (oedema), 4 (enhancing rim). */
  seg: Uint8Array;
  /** `[nx, ny, nz]`. */
  shape: [number, number, number];
  /** Voxel size in mm. */
  spacing: number;
  /** Voxel-to-world matrix. */
  affine: number[][];
  /** Brain voxels. */
  brainVoxels: number;
  /** Whole-tumour voxels. */
  tumourVoxels: number;
  /** Tumour-core voxels (labels 1 and 4). */
  coreVoxels: number;
}

// Tissue codes and their base intensities [FLAIR, T1, T1ce, T2].
const BG = 0, WM = 1, GM = 2, CSF = 3, LESION = 4, VESSEL = 5, OEDEMA = 6, CORE = 7, RIM = 8;
const BASE: number[][] = [
  [0, 0, 0, 0],
  [0.45, 0.8, 0.8, 0.4], // white matter
  [0.62, 0.6, 0.62, 0.6], // grey matter
  [0.12, 0.22, 0.22, 1.0], // CSF
  [0.8, 0.72, 0.72, 0.78], // white-matter lesion (FLAIR/T2 bright distractor)
  [0.2, 0.55, 1.1, 0.25], // vessel / choroid plexus (T1ce bright distractor)
  [0.75, 0.62, 0.62, 0.8], // oedema (FLAIR set per case)
  [0.72, 0.45, 0.45, 0.88], // core: LGG tumour / HGG necrosis
  [0.72, 0.45, 1.2, 0.88], // HGG enhancing rim (T1ce set per case)
];

/** T1ce of HGG necrosis inside the enhancing rim (LGG cores: 0.45). */
const HGG_NECROSIS_T1CE = 0.25;

function _streams(seed: number, index: number) {
  return {
    geometry: new Rng(seed, index * 16),
    t1ce: new Rng(seed, index * 16 + 1),
    noise: (c: number) => new Rng(seed, index * 16 + 2 + c),
  };
}

/**
 * Render one BRATS-like case in memory (deterministic in `(seed, index)`; the grade changes
 * only the T1ce intensities of the tumour core and the core labels).
 *
 * @param index Case index (0-based; decides the geometry).
 * @param grade Grade to render.
 * @param options Phantom options.
 * @returns The case.
 * @example
 * ```ts
 * import { renderBratsCase } from "./phantom_brats.ts";
 * const c = renderBratsCase(0, "HGG", { size: [24, 24, 16], spacing: 4 });
 * console.log(c.channels.length, c.seg.length); // 4 9216
 * ```
 */
export function renderBratsCase(
  index: number,
  grade: "HGG" | "LGG",
  options: BratsPhantomOptions = {},
): BratsPhantomCase {
  const o = { ...BRATS_PHANTOM_DEFAULTS, ...options };
  const [nx, ny, nz] = o.size;
  const s = o.spacing;
  const n = nx * ny * nz;
  const { geometry: g, t1ce: gt, noise } = _streams(o.seed, index);
  const fov = [nx * s, ny * s, nz * s];

  // Head pose and brain ellipsoid (semi-axes in mm, a fraction of the field of view).
  const rot = _rotation(g.uniform(-0.1, 0.1), g.uniform(-0.1, 0.1), g.uniform(-0.18, 0.18));
  const shift = fov.map((f) => g.uniform(-0.03, 0.03) * f);
  const axes = [
    g.uniform(0.37, 0.41) * fov[0],
    g.uniform(0.4, 0.44) * fov[1],
    g.uniform(0.38, 0.43) * fov[2],
  ];
  const cortex = g.uniform(3, 4.5) / Math.min(...axes);
  const ventricle = g.uniform(0.8, 1.3);
  const surface = _smoothField(g, o.size, [4, 4, 3]);
  const sulci = _smoothField(g, o.size, [nx / 5, ny / 5, nz / 5]);
  const texture = _smoothField(g, o.size, [nx / 3, ny / 3, nz / 3]);

  // Distractors: white-matter lesions (FLAIR bright) and vessels (T1ce bright).
  const lesions = Array.from({ length: 1 + g.int(5) }, () => {
    const dir = _unit(g);
    const r = g.uniform(0.3, 0.75);
    return { c: dir.map((d, a) => d * r * axes[a]), r: g.uniform(1.5, 3) };
  });
  const vessels = Array.from({ length: 2 }, () => {
    const dir = _unit(g);
    const r = g.uniform(0.65, 0.85);
    const p0 = dir.map((d, a) => d * r * axes[a]);
    const u = _unit(g);
    const len = g.uniform(15, 30);
    return { p0, d: u.map((v) => v * len), len, r: g.uniform(0.8, 1.3) };
  });

  // Tumour: volume log-uniform in 2–25 % of the brain, core 15–50 % of it.
  const brainVolume = (4 / 3) * Math.PI * axes[0] * axes[1] * axes[2];
  const wtVolume = _logUniform(g, 0.02, 0.25) * brainVolume;
  const coreFraction = g.uniform(0.15, 0.5);
  const rWt = Math.cbrt((3 * wtVolume) / (4 * Math.PI));
  const rCore = rWt * Math.cbrt(coreFraction);
  const side = g.float() < 0.5 ? -1 : 1;
  const tDir = _unit(g);
  tDir[0] = side * Math.max(0.35, Math.abs(tDir[0]));
  const tRad = g.uniform(0.2, 0.55);
  const tCentre = tDir.map((d, a) => (d / Math.hypot(...tDir)) * tRad * axes[a]);
  const coreShape = _ellipsoid(g, rCore);
  const wtShape = _ellipsoid(g, rWt);
  const lobes = _smoothField(g, o.size, [nx / 8, ny / 8, nz / 8]);
  const fingers = _smoothField(g, o.size, [nx / 6, ny / 6, nz / 6]);
  const rimMm = g.uniform(3, 5);
  // FLAIR contrast varies per case: oedema from barely to clearly above grey matter, cores
  // from cystic (dark) to solid (bright), so that no FLAIR threshold finds the tumour.
  const flairOedema = g.uniform(0.55, 0.8);
  const flairCore = g.uniform(0.3, 0.8);
  const jitter = BASE.map((row) => row.map(() => 1 + 0.05 * g.normal()));
  const biasFields = [0, 1, 2, 3].map(() => _smoothField(g, o.size, [2, 2, 2]));
  const gains = [0, 1, 2, 3].map(() => g.uniform(700, 1300));
  const rimT1ce = gt.uniform(1.3, 1.6);

  const tissue = new Uint8Array(n);
  const seg = new Uint8Array(n);
  const c0 = [(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2];
  let brainVoxels = 0, tumourVoxels = 0, coreVoxels = 0;
  // Row-major rotation entries for q = Rᵀ p, kept in scalars for speed.
  const [r00, r01, r02] = rot[0], [r10, r11, r12] = rot[1], [r20, r21, r22] = rot[2];
  const [ia, ib, ic] = [1 / axes[0], 1 / axes[1], 1 / axes[2]];
  const vx = 0.08 * axes[0] * ventricle, vy = 0.33 * axes[1] * ventricle;
  const vz = 0.2 * axes[2] * ventricle;
  const rimEdge = 1 - rimMm / rCore;
  const capSize = (1 + g.uniform(1, 3) / vx) ** 2;
  const q = [0, 0, 0], dq = [0, 0, 0];
  let v = 0;
  for (let k = 0; k < nz; k++) {
    const pz = (k - c0[2]) * s - shift[2];
    for (let j = 0; j < ny; j++) {
      const py = (j - c0[1]) * s - shift[1];
      for (let i = 0; i < nx; i++, v++) {
        const px = (i - c0[0]) * s - shift[0];
        // Anatomical coordinates q = Rᵀ p.
        q[0] = r00 * px + r10 * py + r20 * pz;
        q[1] = r01 * px + r11 * py + r21 * pz;
        q[2] = r02 * px + r12 * py + r22 * pz;
        const nq0 = q[0] * ia, nq1 = q[1] * ib, nq2 = q[2] * ic;
        const rho = Math.sqrt(nq0 * nq0 + nq1 * nq1 + nq2 * nq2) * (1 + 0.05 * surface[v]);
        if (rho > 1) continue;
        brainVoxels++;
        let t = WM;
        if (rho > 1 - cortex) t = sulci[v] > 0.25 ? CSF : GM;
        const ax = Math.abs(q[0]);
        if (
          _inside(
            ax - 0.33 * axes[0],
            q[1] - 0.05 * axes[1],
            q[2] + 0.05 * axes[2],
            0.17 * axes[0],
            0.2 * axes[1],
            0.2 * axes[2],
          )
        ) t = GM;
        const ve = _ellipse(ax - 0.14 * axes[0], q[1], q[2] - 0.1 * axes[2], vx, vy, vz);
        const inVentricle = ve < 1;
        if (t === WM && ve < capSize) t = LESION; // periventricular FLAIR hyperintensity
        if (inVentricle) {
          const plexus = _inside(
            ax - 0.14 * axes[0],
            q[1] + 0.5 * vy,
            q[2] - 0.1 * axes[2],
            0.6 * vx,
            0.25 * vy,
            0.35 * vz,
          );
          t = plexus ? VESSEL : CSF;
        }
        if (t === WM) {
          for (const l of lesions) {
            const dx = q[0] - l.c[0], dy = q[1] - l.c[1], dz = q[2] - l.c[2];
            if (dx * dx + dy * dy + dz * dz < l.r * l.r) t = LESION;
          }
        }
        for (const ves of vessels) {
          if (_segmentDistance(q, ves.p0, ves.d, ves.len) < ves.r) t = VESSEL;
        }

        dq[0] = q[0] - tCentre[0];
        dq[1] = q[1] - tCentre[1];
        dq[2] = q[2] - tCentre[2];
        const dCore = _norm(coreShape, dq) * (1 + 0.15 * lobes[v]);
        if (dCore < 1) {
          t = dCore > rimEdge && grade === "HGG" ? RIM : CORE;
          seg[v] = t === RIM ? 4 : 1;
          coreVoxels++;
          tumourVoxels++;
        } else {
          const limit = t === GM ? 0.8 : inVentricle ? 0 : 1;
          if (limit > 0 && _norm(wtShape, dq) * (1 + 0.35 * fingers[v]) < limit) {
            t = OEDEMA;
            seg[v] = 2;
            tumourVoxels++;
          }
        }
        tissue[v] = t;
      }
    }
  }

  const channels: Int16Array[] = [];
  for (let c = 0; c < 4; c++) {
    const img = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let t = tissue[i];
      if (t === BG) continue;
      // The rim is core tissue everywhere but on T1ce, so HGG and LGG agree there.
      if (t === RIM && c !== 2) t = CORE;
      let base = BASE[t][c] * jitter[t][c];
      if (c === 0 && t === OEDEMA) base = flairOedema * jitter[t][c];
      if (c === 0 && (t === CORE || t === RIM)) base = flairCore * jitter[t][c];
      if (c === 2 && t === RIM) base = rimT1ce;
      // HGG cores are necrotic inside the rim: dark on T1ce (LGG cores keep the core value).
      if (c === 2 && t === CORE && grade === "HGG") base = HGG_NECROSIS_T1CE * jitter[t][c];
      img[i] = base * (1 + 0.03 * texture[i]);
    }
    // Partial volume / point-spread blur; the skull-stripped background stays exactly 0.
    const blurred = _blur(img, o.size, [0.6, 0.6, 0.6]);
    const rng = noise(c);
    const bias = biasFields[c];
    for (let i = 0; i < n; i++) {
      if (tissue[i] === BG) {
        blurred[i] = 0;
        continue;
      }
      blurred[i] = blurred[i] * Math.exp(o.bias * bias[i]) + o.noise * rng.normal();
    }
    channels.push(_toInt16Brain(blurred, tissue, gains[c]));
  }

  const affine = [
    [-s, 0, 0, c0[0] * s],
    [0, -s, 0, c0[1] * s],
    [0, 0, s, -c0[2] * s],
    [0, 0, 0, 1],
  ];
  return {
    subject: `Brats18_PHANTOM_${String(index + 1).padStart(3, "0")}_1`,
    grade,
    channels,
    seg,
    shape: [nx, ny, nz],
    spacing: s,
    affine,
    brainVoxels,
    tumourVoxels,
    coreVoxels,
  };
}

function _toInt16Brain(values: Float32Array, tissue: Uint8Array, gain: number): Int16Array {
  const out = _toInt16(values, gain, 0);
  // Inside the brain stay ≥ 1 so that the non-zero mask is the brain mask.
  for (let i = 0; i < out.length; i++) if (tissue[i] !== BG && out[i] < 1) out[i] = 1;
  return out;
}

function _unit(rng: Rng): number[] {
  const v = [rng.normal(), rng.normal(), rng.normal()];
  const l = Math.hypot(...v) || 1;
  return v.map((x) => x / l);
}

function _ellipse(x: number, y: number, z: number, a: number, b: number, c: number): number {
  return (x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2;
}

function _inside(x: number, y: number, z: number, a: number, b: number, c: number): boolean {
  return _ellipse(x, y, z, a, b, c) < 1;
}

// A random ellipsoid of equivalent radius r: rows of M with |M·d| < 1 inside.
function _ellipsoid(rng: Rng, r: number): number[][] {
  const ratios = [rng.uniform(0.75, 1.3), rng.uniform(0.75, 1.3), 1];
  const norm = Math.cbrt(ratios[0] * ratios[1] * ratios[2]);
  const rot = _rotation(rng.uniform(0, Math.PI), rng.uniform(0, Math.PI), rng.uniform(0, Math.PI));
  // M = diag(1/(r·ratio)) · Rᵀ
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => rot[j][i] / ((r * ratios[i]) / norm)));
}

function _norm(m: number[][], d: number[]): number {
  const a = m[0][0] * d[0] + m[0][1] * d[1] + m[0][2] * d[2];
  const b = m[1][0] * d[0] + m[1][1] * d[1] + m[1][2] * d[2];
  const c = m[2][0] * d[0] + m[2][1] * d[1] + m[2][2] * d[2];
  return Math.sqrt(a * a + b * b + c * c);
}

function _segmentDistance(q: number[], p0: number[], d: number[], len: number): number {
  const w = [q[0] - p0[0], q[1] - p0[1], q[2] - p0[2]];
  const t = Math.min(1, Math.max(0, (w[0] * d[0] + w[1] * d[1] + w[2] * d[2]) / (len * len)));
  return Math.hypot(w[0] - t * d[0], w[1] - t * d[1], w[2] - t * d[2]);
}

/** What a generator wrote. */
export interface PhantomSummary {
  /** Dataset root. */
  root: string;
  /** Cases written. */
  cases: number;
  /** Files written. */
  files: number;
  /** Wall time in seconds. */
  seconds: number;
}

/**
 * Write a complete BRATS-like dataset in the BRATS 2018 layout: `HGG/` then `LGG/`, five
 * gzipped NIfTI files per subject (int16 images, uint8 seg, 1 = core, 2 = oedema, 4 =
 * enhancing). Case i is HGG for i < `hgg`, LGG after.
 *
 * @param dir Target folder (created; existing files are overwritten).
 * @param options Phantom options.
 * @returns What was written.
 * @example
 * ```ts ignore
 * await generateBratsPhantom("/tmp/brats", { hgg: 4, lgg: 2 });
 * const records = await listBrats("/tmp/brats");
 * ```
 */
export async function generateBratsPhantom(
  dir: string,
  options: BratsPhantomOptions = {},
): Promise<PhantomSummary> {
  const start = performance.now();
  const o = { ...BRATS_PHANTOM_DEFAULTS, ...options };
  let files = 0;
  const total = o.hgg + o.lgg;
  for (let index = 0; index < total; index++) {
    const grade = index < o.hgg ? "HGG" : "LGG";
    const c = renderBratsCase(index, grade, o);
    const caseDir = `${dir}/${grade}/${c.subject}`;
    await Deno.mkdir(caseDir, { recursive: true });
    const spacing = [c.spacing, c.spacing, c.spacing];
    const header = {
      descrip: "dicelab BRATS-like phantom",
      xyztUnits: 2,
      sformCode: 1,
      qformCode: 1,
    };
    const names = ["flair", "t1", "t1ce", "t2"];
    for (let ch = 0; ch < 4; ch++) {
      const bytes = writeNifti(
        { shape: c.shape, data: c.channels[ch], affine: c.affine, spacing, header },
        { gzip: true, level: o.gzipLevel },
      );
      await Deno.writeFile(`${caseDir}/${c.subject}_${names[ch]}.nii.gz`, bytes);
      files++;
    }
    const seg = writeNifti(
      { shape: c.shape, data: c.seg, affine: c.affine, spacing, header },
      { gzip: true, level: o.gzipLevel },
    );
    await Deno.writeFile(`${caseDir}/${c.subject}_seg.nii.gz`, seg);
    files++;
  }
  return { root: dir, cases: total, files, seconds: (performance.now() - start) / 1000 };
}
