// Phantom datasets: real layouts that the loaders read, determinism, what distinguishes
// HGG/LGG and ED/ES, sizes after the default preprocessing, and that no single intensity
// threshold solves them.

import assert from "node:assert/strict";
import { ACDC, BRATS } from "./datasets.ts";
import { listAcdc } from "./acdc.ts";
import { listBrats } from "./brats.ts";
import { loadCase } from "./load_case.ts";
import { generateAcdcPhantom, renderAcdcPatient } from "./phantom_acdc.ts";
import { BRATS_PHANTOM_DEFAULTS, generateBratsPhantom, renderBratsCase } from "./phantom_brats.ts";
import { PHANTOM_PREPROCESSING, preprocessVolumes } from "./preprocess.ts";
import { parseInfoCfg } from "./info_cfg.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "phantom_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function dsc(pred: (i: number) => boolean, truth: (i: number) => boolean, n: number): number {
  let tp = 0, p = 0, t = 0;
  for (let i = 0; i < n; i++) {
    const a = pred(i), b = truth(i);
    if (a) p++;
    if (b) t++;
    if (a && b) tp++;
  }
  return p + t === 0 ? 1 : (2 * tp) / (p + t);
}

// Best mean DSC over one global threshold (either direction, thresholds −3 … 4 in steps of
// 0.1) on z-scored intensities, from per-case histograms.
function bestThreshold(
  cases: { image: Float32Array; label: Uint8Array }[],
  channel: number,
  target: (label: number) => boolean,
  inside: (c: { image: Float32Array }, i: number) => boolean = () => true,
): number {
  const bins = 71; // threshold t_b = −3 + 0.1·b
  const sums = [new Float64Array(bins), new Float64Array(bins)];
  for (const c of cases) {
    const n = c.label.length;
    // above[b]: voxels with value > t_b; hit: of those, in the target.
    const count = new Float64Array(bins + 1), hit = new Float64Array(bins + 1);
    let truth = 0, total = 0, totalHit = 0;
    for (let i = 0; i < n; i++) {
      if (!inside(c, i)) {
        if (target(c.label[i])) truth++;
        continue;
      }
      const x = c.image[channel * n + i];
      const y = target(c.label[i]);
      if (y) truth++;
      total++;
      if (y) totalHit++;
      // number of thresholds below x: b with −3 + 0.1·b < x
      const k = Math.max(0, Math.min(bins, Math.ceil((x + 3) / 0.1 - 1e-9)));
      count[k]++;
      if (y) hit[k]++;
    }
    // cumulative: voxels with k > b are above t_b
    let above = 0, aboveHit = 0;
    for (let b = bins - 1; b >= 0; b--) {
      above += count[b + 1];
      aboveHit += hit[b + 1];
      const below = total - above, belowHit = totalHit - aboveHit;
      sums[0][b] += above + truth === 0 ? 1 : (2 * aboveHit) / (above + truth);
      sums[1][b] += below + truth === 0 ? 1 : (2 * belowHit) / (below + truth);
    }
  }
  let best = 0;
  for (const s of sums) for (const v of s) best = Math.max(best, v / cases.length);
  return best;
}

// BRATS-like cases rendered once: 12 at default size (8 HGG, 4 LGG), preprocessed.
const BRATS_CASES = Array.from({ length: 12 }, (_, i) => {
  const c = renderBratsCase(i, i < 8 ? "HGG" : "LGG");
  const n = c.seg.length;
  const image = new Float32Array(4 * n);
  c.channels.forEach((ch, k) => image.set(ch, k * n));
  const s = c.spacing;
  const out = preprocessVolumes(
    {
      dataset: BRATS,
      image,
      label: Uint8Array.from(c.seg, (v) => BRATS.classOf[v]),
      channels: 4,
      shape: [c.shape[2], c.shape[1], c.shape[0]],
      spacing: [s, s, s],
      affine: c.affine,
    },
    PHANTOM_PREPROCESSING.brats,
  );
  return { raw: c, ...out };
});

// ACDC-like patients rendered once: two per group, both frames, preprocessed.
const ACDC_PATIENTS = [0, 11, 20, 33, 40, 57, 60, 72, 80, 95].map((index) => {
  const p = renderAcdcPatient(index);
  const frames = [p.ed, p.es].map((f) =>
    preprocessVolumes(
      {
        dataset: ACDC,
        image: Float32Array.from(f.image),
        label: f.label,
        channels: 1,
        shape: [p.shape[2], p.shape[1], p.shape[0]],
        spacing: [p.spacing[2], p.spacing[1], p.spacing[0]],
        affine: p.affine,
      },
      PHANTOM_PREPROCESSING.acdc,
    )
  );
  return { raw: p, ed: frames[0], es: frames[1] };
});

Deno.test("generateAcdcPhantom writes the ACDC layout that listAcdc and loadCase read", async () => {
  await withTemp(async (dir) => {
    const summary = await generateAcdcPhantom(dir, { patientsPerGroup: 1 });
    assert.equal(summary.cases, 5);
    assert.equal(summary.files, 25);
    const records = await listAcdc(dir);
    assert.equal(records.length, 10);
    assert.deepEqual(
      records.filter((r) => r.group === "ED").map((r) => r.meta.pathology),
      ["DCM", "HCM", "MINF", "NOR", "RV"],
    );
    const info = parseInfoCfg(await Deno.readTextFile(`${dir}/patient003/Info.cfg`), "x");
    assert.equal(info.ED, 1);
    assert.ok(info.ES > 1 && info.ES <= info.NbFrame!);
    const es = records.find((r) => r.id === "patient003_ES")!;
    assert.ok(
      es.imagePaths[0].endsWith(`patient003_frame${String(info.ES).padStart(2, "0")}.nii.gz`),
    );
    const c = await loadCase(es, PHANTOM_PREPROCESSING.acdc);
    assert.deepEqual(c.shape, [16, 64, 64]);
    assert.deepEqual(c.spacing, [7.5, 2.5, 2.5]);
    assert.deepEqual(new Set(c.label), new Set([0, 1, 2, 3]));
  });
});

Deno.test("generateBratsPhantom writes the BRATS 2018 layout that listBrats and loadCase read", async () => {
  await withTemp(async (dir) => {
    const summary = await generateBratsPhantom(dir, { hgg: 2, lgg: 1 });
    assert.equal(summary.files, 15);
    const records = await listBrats(dir);
    assert.deepEqual(records.map((r) => [r.id, r.group]), [
      ["Brats18_PHANTOM_001_1", "HGG"],
      ["Brats18_PHANTOM_002_1", "HGG"],
      ["Brats18_PHANTOM_003_1", "LGG"],
    ]);
    const c = await loadCase(records[0], PHANTOM_PREPROCESSING.brats);
    assert.deepEqual(c.shape, [32, 48, 48]);
    assert.equal(c.channels, 4);
    assert.ok(c.label.some((v) => v === 1));
  });
});

Deno.test("phantoms are deterministic in the seed, and files are byte-identical", async () => {
  assert.deepEqual(renderBratsCase(3, "HGG"), renderBratsCase(3, "HGG"));
  assert.notDeepEqual(renderBratsCase(3, "HGG").seg, renderBratsCase(3, "HGG", { seed: 7 }).seg);
  const a = renderAcdcPatient(7);
  assert.deepEqual(a, renderAcdcPatient(7));
  assert.notDeepEqual(a.ed.label, renderAcdcPatient(7, { seed: 9 }).ed.label);
  await withTemp(async (dir) => {
    const opts = { hgg: 1, lgg: 0, size: [24, 24, 16] as [number, number, number], spacing: 4 };
    await generateBratsPhantom(`${dir}/a`, opts);
    await generateBratsPhantom(`${dir}/b`, opts);
    const f = "HGG/Brats18_PHANTOM_001_1/Brats18_PHANTOM_001_1_t1ce.nii.gz";
    assert.deepEqual(await Deno.readFile(`${dir}/a/${f}`), await Deno.readFile(`${dir}/b/${f}`));
  });
});

Deno.test("HGG and LGG phantoms differ only in the T1ce of the tumour core (the enhancing rim)", () => {
  const [nx, ny, nz] = BRATS_PHANTOM_DEFAULTS.size;
  for (let index = 0; index < 4; index++) {
    const hgg = renderBratsCase(index, "HGG");
    const lgg = renderBratsCase(index, "LGG");
    for (const c of [0, 1, 3]) assert.deepEqual(hgg.channels[c], lgg.channels[c], `channel ${c}`);
    assert.deepEqual(
      Uint8Array.from(hgg.seg, (v) => (v > 0 ? 1 : 0)),
      Uint8Array.from(lgg.seg, (v) => (v > 0 ? 1 : 0)),
    );
    assert.ok(!lgg.seg.includes(4));
    // T1ce differs only within 2 voxels (the blur) of the core.
    const core = (i: number, j: number, k: number) =>
      i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz &&
      (hgg.seg[(k * ny + j) * nx + i] === 1 || hgg.seg[(k * ny + j) * nx + i] === 4);
    let rimH = 0, rimL = 0, rim = 0;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const v = (k * ny + j) * nx + i;
          if (hgg.seg[v] === 4) {
            rimH += hgg.channels[2][v];
            rimL += lgg.channels[2][v];
            rim++;
          }
          if (hgg.channels[2][v] === lgg.channels[2][v]) continue;
          let near = false;
          for (let d = -2; d <= 2 && !near; d++) {
            for (let e = -2; e <= 2 && !near; e++) {
              for (let f = -2; f <= 2 && !near; f++) near = core(i + d, j + e, k + f);
            }
          }
          assert.ok(near, `T1ce differs away from the core at (${i}, ${j}, ${k})`);
        }
      }
    }
    assert.ok(rim > 0, "HGG has an enhancing rim");
    assert.ok(rimH / rim > 1.3 * (rimL / rim), `rim T1ce ${rimH / rim} vs ${rimL / rim}`);
  }
});

Deno.test("BRATS-like tumours cover roughly 2–25 % of the brain with a realistic spread", () => {
  const fractions = BRATS_CASES.map((c) => c.raw.tumourVoxels / c.raw.brainVoxels).sort();
  assert.ok(fractions[0] > 0.01 && fractions.at(-1)! < 0.35, `${fractions}`);
  assert.ok(fractions.at(-1)! / fractions[0] > 4, `${fractions}`);
  assert.ok(BRATS_CASES.every((c) => c.raw.coreVoxels > 0));
});

Deno.test("default phantom cases are at most 48×48×32 (BRATS) and 64×64×16 (ACDC) and lose no label", () => {
  for (const c of BRATS_CASES) {
    assert.deepEqual(c.shape, [32, 48, 48]);
    // 1.6 mm → 2 mm: (1.6/2)³ of the tumour voxels, within partial-volume effects
    const before = c.raw.tumourVoxels * 0.512;
    const after = c.label.reduce((a, v) => a + v, 0);
    assert.ok(Math.abs(after - before) < 0.25 * before + 20, `${after} vs ${before}`);
  }
  for (const p of ACDC_PATIENTS) {
    for (const [frame, raw] of [[p.ed, p.raw.ed], [p.es, p.raw.es]] as const) {
      assert.deepEqual(frame.shape, [16, 64, 64]);
      const ratio = (p.raw.spacing[0] * p.raw.spacing[1] * p.raw.spacing[2]) / (7.5 * 2.5 * 2.5);
      for (const cls of [1, 2, 3]) {
        const before = raw.label.reduce((a, v) => a + (v === cls ? 1 : 0), 0) * ratio;
        const after = frame.label.reduce((a, v) => a + (v === cls ? 1 : 0), 0);
        assert.ok(Math.abs(after - before) < 0.2 * before + 10, `${p.raw.patient} class ${cls}`);
      }
    }
  }
});

// Mean myocardial thickness (voxels) of the mid-ventricular slice:
// √((A_myo + A_lv)/π) − √(A_lv/π).
function midThickness(c: { label: Uint8Array; shape: number[] }): number {
  const [D, H, W] = c.shape;
  let best = { lv: 0, myo: 0 };
  for (let d = 0; d < D; d++) {
    let lv = 0, myo = 0;
    for (let i = d * H * W; i < (d + 1) * H * W; i++) {
      if (c.label[i] === 3) lv++;
      if (c.label[i] === 2) myo++;
    }
    if (lv > best.lv) best = { lv, myo };
  }
  return Math.sqrt((best.myo + best.lv) / Math.PI) - Math.sqrt(best.lv / Math.PI);
}

Deno.test("ED and ES differ by size and shape: smaller cavities, thicker myocardium at ES", () => {
  for (const p of ACDC_PATIENTS) {
    const vol = (f: { label: Uint8Array }, cls: number) =>
      f.label.reduce((a, v) => a + (v === cls ? 1 : 0), 0);
    assert.ok(vol(p.es, 3) < vol(p.ed, 3), `${p.raw.patient} LV`);
    assert.ok(vol(p.es, 1) < vol(p.ed, 1), `${p.raw.patient} RV`);
    const myoRatio = vol(p.es, 2) / vol(p.ed, 2);
    assert.ok(myoRatio > 0.8 && myoRatio < 1.2, `${p.raw.patient} MYO ${myoRatio}`);
    assert.ok(midThickness(p.es) > midThickness(p.ed), `${p.raw.patient} thickness`);
    // Several voxels thick at 2.5 mm after preprocessing.
    assert.ok(midThickness(p.ed) >= 2, `${p.raw.patient} ED thickness ${midThickness(p.ed)}`);
  }
});

Deno.test("the five ACDC groups change the heart: DCM dilated, HCM thick, RV dilated RV", () => {
  const by = (group: string) => ACDC_PATIENTS.filter((p) => p.raw.group === group);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
  const vol = (group: string, cls: number) =>
    mean(by(group).map((p) => p.ed.label.reduce((a, v) => a + (v === cls ? 1 : 0), 0)));
  assert.ok(vol("DCM", 3) > 1.4 * vol("NOR", 3));
  assert.ok(
    mean(by("HCM").map((p) => midThickness(p.ed))) > 1.5 * mean(
          by("NOR").map((p) => midThickness(p.ed)),
        ),
  );
  assert.ok(vol("RV", 1) > 1.4 * vol("NOR", 1));
  // Ejection fraction: DCM and MINF below NOR.
  const ef = (group: string) =>
    mean(
      by(group).map((p) => {
        const ed = p.ed.label.reduce((a, v) => a + (v === 3 ? 1 : 0), 0);
        const es = p.es.label.reduce((a, v) => a + (v === 3 ? 1 : 0), 0);
        return 1 - es / ed;
      }),
    );
  assert.ok(ef("DCM") < ef("NOR") - 0.2 && ef("MINF") < ef("NOR") - 0.1);
});

Deno.test("no single threshold on one BRATS-like channel segments the whole tumour (DSC < 0.6)", () => {
  const inBrain = (c: { image: Float32Array }, i: number) => c.image[i] !== 0;
  const single = [0, 1, 2, 3].map((ch) => bestThreshold(BRATS_CASES, ch, (v) => v > 0, inBrain));
  for (const d of single) {
    assert.ok(
      d < 0.6,
      `best single-channel DSC ${single.map((x) => x.toFixed(2))}`,
    );
  }
  // The information is there: one threshold on T2 AND one on FLAIR already does clearly better.
  let pair = 0;
  for (let a = -1; a <= 2; a += 0.25) {
    for (let b = -2; b <= 2; b += 0.25) {
      let sum = 0;
      for (const c of BRATS_CASES) {
        const n = c.label.length;
        sum += dsc(
          (i) => c.image[i] !== 0 && c.image[3 * n + i] > a && c.image[i] > b,
          (i) => c.label[i] > 0,
          n,
        );
      }
      pair = Math.max(pair, sum / BRATS_CASES.length);
    }
  }
  assert.ok(
    pair > Math.max(...single) + 0.1,
    `pair ${pair.toFixed(2)} vs single ${Math.max(...single).toFixed(2)}`,
  );
});

Deno.test("no single intensity threshold segments an ACDC-like class (DSC < 0.6)", () => {
  const frames = ACDC_PATIENTS.flatMap((p) => [p.ed, p.es]);
  for (const cls of [1, 2, 3]) {
    const d = bestThreshold(frames, 0, (v) => v === cls);
    assert.ok(d < 0.6, `class ${cls}: best threshold DSC ${d.toFixed(2)}`);
  }
});
