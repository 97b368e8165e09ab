/**
 * ACDC-like phantom: short-axis cine stacks (anisotropic voxels) at end-diastole and
 * end-systole with LV cavity, myocardium and RV cavity, written in the ACDC layout
 * (`patientXXX/Info.cfg`, `patientXXX_frameYY[_gt].nii.gz`).
 *
 * The heart is a truncated prolate LV (cavity + wall) with an RV crescent wrapped around
 * its septal side; the five ACDC groups change its shape (DCM dilated and thin, HCM thick with septal
 * hypertrophy, MINF a thin akinetic sector, RV a dilated hypokinetic RV, NOR normal). ES
 * has smaller cavities, a shorter LV and a thicker myocardium (myocardial area conserved
 * per section). Around it: atria above the base, lungs with vessels, chest wall and fat,
 * descending aorta, spine and liver, so bright blood and dark muscle are not unique to the
 * labelled structures. Slices integrate three sub-planes (partial volume); a smooth bias
 * field and Rician noise are added.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { writeNifti } from "../nifti/mod.ts";
import { _blur, _rotation, _smoothField, _toInt16 } from "./_phantom_common.ts";
import { type AcdcInfo, formatInfoCfg } from "./info_cfg.ts";
import type { PhantomSummary } from "./phantom_brats.ts";

/** The ACDC groups in the order of the real dataset's patient numbers. */
export const ACDC_PHANTOM_GROUPS = ["DCM", "HCM", "MINF", "NOR", "RV"] as const;

/** Options of the ACDC-like phantom. */
export interface AcdcPhantomOptions {
  /** Patients per group (5 groups; patient p belongs to group ⌊(p − 1)/n⌋). @default 20 */
  patientsPerGroup?: number;
  /** In-plane voxel size range in mm. @default [2.1, 2.7] */
  inPlaneSpacing?: [number, number];
  /** Slice thickness range in mm. @default [7.5, 10] */
  sliceThickness?: [number, number];
  /** In-plane field of view range in mm. @default [170, 190] */
  fieldOfView?: [number, number];
  /** Seed. @default 2017 */
  seed?: number;
  /** Rician noise σ relative to blood ≈ 1. @default 0.05 */
  noise?: number;
  /** Bias-field amplitude (log scale, ±). @default 0.25 */
  bias?: number;
  /** zlib level of the written files. @default 1 */
  gzipLevel?: number;
}

/** The defaults of {@linkcode AcdcPhantomOptions}. */
export const ACDC_PHANTOM_DEFAULTS: Readonly<Required<AcdcPhantomOptions>> = {
  patientsPerGroup: 20,
  inPlaneSpacing: [2.1, 2.7],
  sliceThickness: [7.5, 10],
  fieldOfView: [170, 190],
  seed: 2017,
  noise: 0.05,
  bias: 0.25,
  gzipLevel: 1,
};

/** One rendered frame. */
export interface AcdcPhantomFrame {
  /** Intensities as stored (int16, NIfTI order). */
  image: Int16Array;
  /** Labels 0 background, 1 RV, 2 MYO, 3 LV. */
  label: Uint8Array;
}

/** One rendered ACDC-like patient. */
export interface AcdcPhantomPatient {
  /** `patient001` … */
  patient: string;
  /** Pathology group. */
  group: (typeof ACDC_PHANTOM_GROUPS)[number];
  /** Info.cfg fields. */
  info: AcdcInfo;
  /** `[nx, ny, nz]`. */
  shape: [number, number, number];
  /** `[sx, sy, sz]` in mm (NIfTI order). */
  spacing: [number, number, number];
  /** Voxel-to-world matrix (oblique, as short-axis stacks are). */
  affine: number[][];
  /** End-diastole. */
  ed: AcdcPhantomFrame;
  /** End-systole. */
  es: AcdcPhantomFrame;
}

interface Heart {
  rc: number; // cavity radius at the base (mm)
  t: number; // wall thickness (mm)
  len: number; // base-to-apex length of the epicardium (mm)
  base: number; // long-axis position of the base plane (mm, heart frame)
  rvThickness: number; // RV cavity depth opposite the septum (mm)
  rvWidth: number; // RV half-width around the LV (radians)
  infarct: number; // wall factor in the infarct sector (1 = none)
  tInfarct: number; // wall thickness in the infarct (akinetic: the same at ED and ES)
}

const LUNG = 0.07, BLOOD = 1, MYO = 0.28, FAT = 0.85, MUSCLE = 0.33, LIVER = 0.42;

function _profile(u: number): number {
  return u >= 1 ? 0 : u <= 0 ? 1 : Math.pow(1 - Math.pow(u, 2.5), 0.4);
}

/**
 * Render one ACDC-like patient (both frames) in memory; deterministic in `(seed, index)`.
 *
 * @param index Patient index (0-based; patient number index + 1).
 * @param options Phantom options.
 * @returns The patient with its ED and ES frames.
 * @example
 * ```ts
 * import { renderAcdcPatient } from "./phantom_acdc.ts";
 * const p = renderAcdcPatient(0, { patientsPerGroup: 1 });
 * console.log(p.patient, p.group, p.info.ED); // patient001 DCM 1
 * ```
 */
export function renderAcdcPatient(
  index: number,
  options: AcdcPhantomOptions = {},
): AcdcPhantomPatient {
  const o = { ...ACDC_PHANTOM_DEFAULTS, ...options };
  const group = ACDC_PHANTOM_GROUPS[Math.min(4, Math.floor(index / o.patientsPerGroup))];
  const g = new Rng(o.seed, index * 16);

  // Acquisition.
  const s = g.uniform(o.inPlaneSpacing[0], o.inPlaneSpacing[1]);
  const t = g.uniform(o.sliceThickness[0], o.sliceThickness[1]);
  const nxy = Math.round(g.uniform(o.fieldOfView[0], o.fieldOfView[1]) / s);
  const p = _groupParams(group, g);
  const nz = Math.ceil((p.len + 2.6 * t) / t) + 1;
  const shape: [number, number, number] = [nxy, nxy, nz];

  // Pose: in-plane rotation of the whole chest, small tilt of the long axis, shifts.
  const theta = g.uniform(-0.45, 0.45);
  const rvAngle = Math.PI + theta; // RV towards image −x, rotated with the pose
  const tilt = _rotation(g.uniform(-0.14, 0.14), g.uniform(-0.14, 0.14), 0);
  const rEpi0 = p.rc + p.t;
  const centre = [
    -Math.cos(rvAngle) * 0.3 * rEpi0 + g.uniform(-6, 6),
    -Math.sin(rvAngle) * 0.3 * rEpi0 + g.uniform(-6, 6),
    ((nz - 1) / 2) * t - g.uniform(1.0, 1.6) * t,
  ];

  // Patient-specific texture, surroundings and fields (shared by ED and ES).
  const field = (cells: [number, number, number]) => _smoothField(g, [nxy, nxy, nz], cells);
  const bias = field([2, 2, 2]);
  const flow = field([nxy / 12, nxy / 12, 3]);
  const fatField = field([nxy / 8, nxy / 8, 3]);
  const trab = Array.from(
    { length: 4 },
    (_, m) => ({ m: m + 2, a: g.uniform(0, 0.035), ph: g.uniform(0, 2 * Math.PI) }),
  );
  const ellipticity = g.uniform(0.92, 1.08);
  const infarctAngle = rvAngle + g.uniform(1.2, Math.PI - 0.3) * (g.float() < 0.5 ? 1 : -1);
  const infarctWidth = g.uniform(0.8, 1.6);
  const infarctStart = g.uniform(0.2, 0.5);
  const chestWall = -(rEpi0 + g.uniform(12, 25)); // anterior (−y) of the heart
  const muscle = g.uniform(10, 16), fat = g.uniform(6, 14);
  const aorta = { x: g.uniform(-25, -5), y: rEpi0 + g.uniform(12, 22), r: g.uniform(9, 13) };
  const spine = {
    x: aorta.x + g.uniform(10, 20),
    y: aorta.y + g.uniform(22, 30),
    r: g.uniform(14, 18),
  };
  const vessels = Array.from({ length: 10 }, () => ({
    x: g.uniform(-90, 90),
    y: g.uniform(-60, 90),
    r: g.uniform(1.5, 3.5),
  }));
  const liverTop = -g.uniform(0.5, 0.7) * p.len;
  const gain = g.uniform(300, 500);
  const rot = _rotation(0, 0, theta);

  // Surroundings depend on the in-plane position only (plus the liver below liverTop).
  const around = new Float32Array(nxy * nxy);
  const liverMask = new Uint8Array(nxy * nxy);
  {
    const c0 = (nxy - 1) / 2;
    for (let j = 0, q = 0; j < nxy; j++) {
      for (let i = 0; i < nxy; i++, q++) {
        const x = (i - c0) * s, y = (j - c0) * s;
        const cx = rot[0][0] * x + rot[1][0] * y, cy = rot[0][1] * x + rot[1][1] * y;
        liverMask[q] = cx > 10 ? 1 : 0;
        const ar = Math.hypot(cx - aorta.x, cy - aorta.y);
        let value = -1; // −1: lung (textured per voxel)
        if (cy < chestWall - muscle - fat) value = 0.01;
        else if (cy < chestWall - muscle) value = FAT;
        else if (cy < chestWall) value = MUSCLE;
        else if (ar < aorta.r) value = BLOOD;
        else if (ar < aorta.r + 2) value = FAT;
        else if (Math.hypot(cx - spine.x, cy - spine.y) < spine.r) value = 0.45;
        else if (vessels.some((ve) => Math.hypot(cx - ve.x, cy - ve.y) < ve.r)) value = 0.75;
        around[q] = value;
        if (!(cy >= chestWall && ar >= aorta.r + 2)) liverMask[q] = 0;
      }
    }
  }
  const rvDir = Math.PI; // RV direction in the heart frame (the pose rotates it by theta)
  const infarctDir = infarctAngle - theta;
  const ux = Math.cos(rvDir), uy = Math.sin(rvDir);
  const rEpi = p.rc + p.t;

  const frame = (es: boolean, noiseRng: Rng): AcdcPhantomFrame => {
    const h = _frameHeart(p, es);
    const image = new Float32Array(nxy * nxy * nz);
    const label = new Uint8Array(nxy * nxy * nz);
    const sub = [-1 / 3, 0, 1 / 3];
    const c0 = (nxy - 1) / 2, z0 = (nz - 1) / 2;
    const reach = 1.8 * (h.rc + 1.5 * h.t) + h.rvThickness + 12; // beyond this: no heart
    const out = { value: 0, label: 0 };
    let v = 0;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < nxy; j++) {
        for (let i = 0; i < nxy; i++, v++) {
          const x = (i - c0) * s, y = (j - c0) * s;
          const q = j * nxy + i;
          let acc = 0;
          for (let m = 0; m < 3; m++) {
            const z = (k - z0 + sub[m]) * t;
            _tissue(x, y, z, v, q);
            acc += out.value;
            if (m === 1) label[v] = out.label;
          }
          image[v] = acc / 3;
        }
      }
    }
    const blurred = _blur(image, shape, [0.5, 0.5, 0]);
    for (let i = 0; i < blurred.length; i++) {
      const b = blurred[i] * Math.exp(o.bias * bias[i]);
      const re = b + o.noise * noiseRng.normal();
      const im = o.noise * noiseRng.normal();
      blurred[i] = Math.sqrt(re * re + im * im);
    }
    return { image: _toInt16(blurred, gain), label };

    function _set(value: number, lab: number): void {
      out.value = value;
      out.label = lab;
    }

    function _tissue(x: number, y: number, z: number, v: number, q: number): void {
      // Heart frame: undo the in-plane rotation, then the tilt; origin at the LV base centre.
      const dx = x - centre[0], dy = y - centre[1], dz = z - centre[2];
      const blood = BLOOD * (1 + 0.08 * flow[v]);
      if (Math.abs(dx) < reach && Math.abs(dy) < reach) {
        const hx0 = rot[0][0] * dx + rot[1][0] * dy, hy0 = rot[0][1] * dx + rot[1][1] * dy;
        const hx = tilt[0][0] * hx0 + tilt[1][0] * hy0 + tilt[2][0] * dz;
        const hy = tilt[0][1] * hx0 + tilt[1][1] * hy0 + tilt[2][1] * dz;
        const hz = tilt[0][2] * hx0 + tilt[1][2] * hy0 + tilt[2][2] * dz - h.base;
        const r = Math.hypot(hx * ellipticity, hy / ellipticity);
        if (hz <= 0) {
          const u = -hz / h.len; // 0 base … 1 apex
          const ang = Math.atan2(hy, hx);
          let wall = h.t;
          if (group === "HCM") wall *= 1 + 0.45 * Math.max(0, Math.cos(ang - rvDir)) ** 2;
          if (
            h.infarct < 1 && u > infarctStart &&
            Math.abs(_wrap(ang - infarctDir)) < infarctWidth / 2
          ) wall = h.tInfarct;
          const rEpiH = (h.rc + wall) * _profile(u);
          if (r < rEpiH) {
            const cavityEnd = 1 - (0.7 * h.t) / h.len;
            let trabeculae = 1;
            for (const tr of trab) trabeculae += tr.a * Math.cos(tr.m * ang + tr.ph);
            const rEndoH = Math.min(h.rc * _profile(u / cavityEnd) * trabeculae, rEpiH - 1.5);
            if (r >= rEndoH) return _set(MYO, 2);
            // Papillary muscles: dark, but labelled LV cavity as in ACDC.
            if (u > 0.25 && u < 0.75) {
              for (const pa of [2.3, -2.1]) {
                const px = Math.cos(rvDir + pa) * 0.62 * rEndoH;
                const py = Math.sin(rvDir + pa) * 0.62 * rEndoH;
                if (Math.hypot(hx - px, hy - py) < 0.17 * h.rc) return _set(MYO + 0.04, 3);
              }
            }
            return _set(blood, 3);
          }
          // RV crescent: wrapped around the septal side of the LV epicardium, thickest
          // opposite the septum centre and tapering to zero at ±width.
          const pr = _profile(u / 0.82);
          const phi = Math.abs(_wrap(ang - rvDir));
          if (pr > 0 && phi < h.rvWidth + 0.15) {
            const thick = phi < h.rvWidth
              ? h.rvThickness * pr * Math.pow(Math.cos((Math.PI / 2) * (phi / h.rvWidth)), 0.6)
              : 0;
            const depth = r - rEpiH;
            if (depth < thick) return _set(blood, 1);
            if (depth < thick + 3) return _set(MYO + 0.02, 0);
            if (depth < thick + 6 && fatField[v] > 0) return _set(FAT, 0);
          }
          if (r < rEpiH + 4 && fatField[v] > 0.2) return _set(FAT, 0);
        } else if (hz < 3 * t) {
          // Above the base: atria and aortic root (blood, unlabelled).
          const la = Math.hypot(hx + 0.35 * rEpi * ux, hy + 0.35 * rEpi * uy);
          const ra = Math.hypot(hx - 0.9 * rEpi * ux, hy - 0.9 * rEpi * uy);
          const ao = Math.hypot(hx + 0.45 * rEpi * uy, hy - 0.45 * rEpi * ux);
          if (la < 0.85 * h.rc || ra < 0.7 * h.rc || ao < 12) return _set(blood, 0);
          if (la < 0.85 * h.rc + 2.5 || ra < 0.7 * h.rc + 2.5) return _set(MYO + 0.05, 0);
        }
      }
      const a = around[q];
      if (a >= 0) return _set(a === BLOOD ? blood : a, 0);
      if (liverMask[q] && dz < liverTop) return _set(LIVER, 0);
      return _set(LUNG * (1 + 0.5 * fatField[v]), 0);
    }
  };

  const nbFrame = 12 + g.int(24);
  const info: AcdcInfo = {
    ED: 1,
    ES: 1 + Math.max(1, Math.round(nbFrame * g.uniform(0.3, 0.45))),
    Group: group,
    Height: Math.round(g.uniform(150, 195) * 10) / 10,
    NbFrame: nbFrame,
    Weight: Math.round(g.uniform(50, 110) * 10) / 10,
  };

  // Short-axis stacks are double-oblique in scanner coordinates.
  const scan = _rotation(g.uniform(-0.6, 0.6), g.uniform(-0.6, 0.6), g.uniform(-Math.PI, Math.PI));
  const zooms = [s, s, t];
  const origin = [g.uniform(-40, 40), g.uniform(-40, 40), g.uniform(-40, 40)];
  const affine = [0, 1, 2].map((r) => {
    const row = [scan[r][0] * zooms[0], scan[r][1] * zooms[1], scan[r][2] * zooms[2]];
    const c = [(nxy - 1) / 2, (nxy - 1) / 2, (nz - 1) / 2];
    return [...row, origin[r] - (row[0] * c[0] + row[1] * c[1] + row[2] * c[2])];
  });
  affine.push([0, 0, 0, 1]);

  return {
    patient: `patient${String(index + 1).padStart(3, "0")}`,
    group,
    info,
    shape,
    spacing: [s, s, t],
    affine,
    ed: frame(false, new Rng(o.seed, index * 16 + 1)),
    es: frame(true, new Rng(o.seed, index * 16 + 2)),
  };
}

function _wrap(a: number): number {
  return Math.atan2(Math.sin(a), Math.cos(a));
}

interface GroupParams {
  rc: number;
  t: number;
  ef: number;
  rvScale: number;
  rvEf: number;
  len: number;
  infarct: number;
}

function _groupParams(group: string, g: Rng): GroupParams {
  const u = (a: number, b: number) => g.uniform(a, b);
  switch (group) {
    case "DCM":
      return {
        rc: u(30, 36),
        t: u(5.5, 7.5),
        ef: u(0.2, 0.35),
        rvScale: u(1, 1.15),
        rvEf: u(0.25, 0.45),
        len: u(95, 108),
        infarct: 1,
      };
    case "HCM":
      return {
        rc: u(18, 24),
        t: u(13, 18),
        ef: u(0.65, 0.8),
        rvScale: u(0.85, 1),
        rvEf: u(0.5, 0.65),
        len: u(82, 95),
        infarct: 1,
      };
    case "MINF":
      return {
        rc: u(27, 33),
        t: u(7, 9),
        ef: u(0.3, 0.45),
        rvScale: u(0.95, 1.1),
        rvEf: u(0.35, 0.55),
        len: u(90, 102),
        infarct: u(0.45, 0.65),
      };
    case "RV":
      return {
        rc: u(21, 26),
        t: u(7, 9),
        ef: u(0.5, 0.65),
        rvScale: u(1.35, 1.6),
        rvEf: u(0.15, 0.35),
        len: u(85, 98),
        infarct: 1,
      };
    default: // NOR
      return {
        rc: u(22, 27),
        t: u(7, 9.5),
        ef: u(0.55, 0.7),
        rvScale: u(0.95, 1.1),
        rvEf: u(0.5, 0.65),
        len: u(85, 98),
        infarct: 1,
      };
  }
}

function _frameHeart(p: GroupParams, es: boolean): Heart {
  const rEpi = p.rc + p.t;
  const rvThickness = 0.5 * rEpi * p.rvScale;
  const rvWidth = Math.min(1.75, 1.2 * Math.sqrt(p.rvScale));
  const tInfarct = p.t * p.infarct;
  if (!es) {
    return {
      rc: p.rc,
      t: p.t,
      len: p.len,
      base: 0,
      rvThickness,
      rvWidth,
      infarct: p.infarct,
      tInfarct,
    };
  }
  // ES: the base descends (15 % shorter), the cavity keeps (1 − EF) of its volume and the
  // myocardial cross-section area is conserved, so the wall thickens; the RV cavity keeps
  // (1 − RV EF) of its volume (depth and width shrink); an infarct stays akinetic.
  const shorten = 0.85;
  const rc = p.rc * Math.sqrt((1 - p.ef) / shorten);
  const area = (rEpi * rEpi - p.rc * p.rc) / shorten;
  const t = Math.sqrt(rc * rc + area) - rc;
  const rv = Math.sqrt((1 - p.rvEf) / shorten);
  return {
    rc,
    t,
    len: p.len * shorten,
    base: -p.len * (1 - shorten),
    rvThickness: rvThickness * rv,
    rvWidth: rvWidth * Math.sqrt(rv),
    infarct: p.infarct,
    tInfarct,
  };
}

/**
 * Write a complete ACDC-like dataset in the ACDC layout: `patient001` … with `Info.cfg`,
 * the ED and ES frames (int16) and their `_gt` label maps (uint8). The 4-D cine
 * (`patientXXX_4d.nii.gz`) of the real dataset is not written.
 *
 * @param dir Target folder (created; existing files are overwritten).
 * @param options Phantom options.
 * @returns What was written.
 * @example
 * ```ts ignore
 * await generateAcdcPhantom("/tmp/acdc", { patientsPerGroup: 2 });
 * const records = await listAcdc("/tmp/acdc");
 * ```
 */
export async function generateAcdcPhantom(
  dir: string,
  options: AcdcPhantomOptions = {},
): Promise<PhantomSummary> {
  const start = performance.now();
  const o = { ...ACDC_PHANTOM_DEFAULTS, ...options };
  let files = 0;
  const total = 5 * o.patientsPerGroup;
  for (let index = 0; index < total; index++) {
    const p = renderAcdcPatient(index, o);
    const pdir = `${dir}/${p.patient}`;
    await Deno.mkdir(pdir, { recursive: true });
    await Deno.writeTextFile(`${pdir}/Info.cfg`, formatInfoCfg(p.info));
    const header = {
      descrip: "dicelab ACDC-like phantom",
      xyztUnits: 10,
      sformCode: 1,
      qformCode: 1,
    };
    for (const [frame, data] of [[p.info.ED, p.ed], [p.info.ES, p.es]] as const) {
      const stem = `${pdir}/${p.patient}_frame${String(frame).padStart(2, "0")}`;
      const common = { shape: p.shape, affine: p.affine, spacing: p.spacing, header };
      await Deno.writeFile(
        `${stem}.nii.gz`,
        writeNifti({ ...common, data: data.image }, { gzip: true, level: o.gzipLevel }),
      );
      await Deno.writeFile(
        `${stem}_gt.nii.gz`,
        writeNifti({ ...common, data: data.label }, { gzip: true, level: o.gzipLevel }),
      );
      files += 2;
    }
    files++;
  }
  return { root: dir, cases: total, files, seconds: (performance.now() - start) / 1000 };
}
