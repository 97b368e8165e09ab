/**
 * A small synthetic run folder for the report tests: a BRATS-like study (HGG always labelled,
 * LGG emptied under partial labelling) with 3 experiments × 2 batch sizes × 2 labelings over
 * 5 folds, where the configurations that learn empty maps (BI with B > 1, I_eps) lose LGG,
 * plus two example cases for the overlays. Seeded, so every run writes the same files.
 */

import { Rng } from "../../lib/core/rng.ts";
import { writeJsonAtomic } from "../../lib/core/atomic_write.ts";
import { kFoldSplit, writeFoldSplit } from "../../lib/eval/folds.ts";
import type { CaseResult } from "../../lib/eval/case_result.ts";
import { writeExample } from "../../lib/report/examples.ts";
import type { RunResultsInput } from "../../lib/report/results.ts";
import type { OverlayExample } from "../../lib/report/overlay.ts";

/** Options of {@linkcode syntheticResults}. */
export interface SyntheticOptions {
  /** HGG subjects. @default 16 */
  hgg?: number;
  /** LGG subjects. @default 10 */
  lgg?: number;
  /** Batch sizes. @default [1, 2] */
  batchSizes?: number[];
  /** Seed. @default 1 */
  seed?: number;
}

const EXPERIMENTS = [
  { name: "I", label: "I", description: "Φ = I, ε = 1e-7" },
  { name: "BI", label: "BI", description: "Φ = BI, ε = 1e-7" },
  { name: "I_eps", label: "I_ε", description: "Φ = I, heuristic ε" },
];

/** Does this configuration learn to predict empty maps (paper Sect. 3)? */
function learnsEmpty(experiment: string, batchSize: number): boolean {
  return experiment === "I_eps" || (experiment === "BI" && batchSize > 1);
}

/**
 * Build a synthetic `results.json` in memory.
 *
 * @param options Sizes and seed.
 * @returns The results.
 */
export function syntheticResults(options: SyntheticOptions = {}): RunResultsInput {
  const seed = options.seed ?? 1;
  const batchSizes = options.batchSizes ?? [1, 2];
  const subjects = [
    ...Array.from({ length: options.hgg ?? 16 }, (_, i) => ({ id: `hgg_${i}`, group: "HGG" })),
    ...Array.from({ length: options.lgg ?? 10 }, (_, i) => ({ id: `lgg_${i}`, group: "LGG" })),
  ];
  const split = kFoldSplit(subjects.map((s) => s.id), {
    seed,
    strata: Object.fromEntries(subjects.map((s) => [s.id, s.group])),
  });
  const truth = new Map(subjects.map((s, i) => {
    const r = new Rng(seed, 1000 + i);
    return [s.id, Math.max(5, (s.group === "HGG" ? 80 : 62) + 20 * r.normal())];
  }));
  const rows: CaseResult[] = [];
  let stream = 0;
  for (const labeling of ["full", "partial"]) {
    for (const batchSize of batchSizes) {
      for (const e of EXPERIMENTS) {
        for (const s of subjects) {
          const r = new Rng(seed, 5000 + stream++);
          const trueVol = truth.get(s.id)!;
          let dsc = 0.88 + 0.03 * r.normal();
          let delta = -5 + 6 * r.normal();
          if (labeling === "partial" && learnsEmpty(e.name, batchSize)) {
            if (s.group === "LGG" && r.float() < 0.75) {
              dsc = 0;
              delta = -trueVol;
            } else {
              dsc -= 0.05;
              delta -= 8;
            }
          }
          const predVol = Math.max(0, trueVol + delta);
          for (const className of ["tumour", "core"]) {
            const scale = className === "tumour" ? 1 : 0.4;
            rows.push({
              job: { experiment: e.name, labeling, batchSize, fold: split.assignments[s.id] },
              caseId: s.id,
              subject: s.id,
              group: s.group,
              className,
              dsc: Math.min(1, Math.max(0, dsc)),
              predVolumeMl: predVol * scale,
              trueVolumeMl: trueVol * scale,
              deltaVolumeMl: (predVol - trueVol) * scale,
            });
          }
        }
      }
    }
  }
  return {
    schema: "dicelab.results/1",
    pipeline: "synthetic-brats",
    dataset: "brats",
    createdAt: "2026-01-01T00:00:00.000Z",
    seed,
    target: { className: "tumour", classIndex: 1, groups: ["HGG", "LGG"] },
    referenceLabeling: "full",
    labelings: [
      { name: "full", kind: "full" },
      { name: "partial", kind: "emptyGroup", description: "LGG labels replaced by empty maps" },
    ],
    experiments: EXPERIMENTS,
    spacing: [2, 2, 2],
    statistics: { resamples: 999, alpha: 0.05, correction: "none" },
    rows,
  };
}

/**
 * Two example cases (one HGG, one LGG) with a bright blob as the tumour.
 *
 * @returns The examples.
 */
export function syntheticExamples(): OverlayExample[] {
  const shape: [number, number, number] = [5, 28, 32];
  const [D, H, W] = shape;
  const make = (caseId: string, group: string, cy: number, cx: number, radius: number) => {
    const rng = new Rng(7, caseId.length + cx);
    const image = new Float32Array(D * H * W);
    const truth = new Uint8Array(D * H * W);
    const near = new Uint8Array(D * H * W);
    for (let d = 0; d < D; d++) {
      const r = radius * (1 - Math.abs(d - 2) / 4);
      for (let h = 0; h < H; h++) {
        for (let w = 0; w < W; w++) {
          const i = (d * H + h) * W + w;
          const dist = Math.hypot(h - cy, w - cx);
          const brain = Math.hypot((h - H / 2) / (H * 0.45), (w - W / 2) / (W * 0.45)) < 1;
          image[i] = (brain ? 100 : 0) + (dist < r ? 80 : 0) + 10 * rng.normal();
          if (dist < r) truth[i] = 1;
          if (Math.hypot(h - cy - 1, w - cx + 1) < r * 0.9) near[i] = 1;
        }
      }
    }
    return { caseId, group, image, truth, near };
  };
  const hgg = make("hgg_3", "HGG", 12, 18, 7);
  const lgg = make("lgg_1", "LGG", 15, 12, 6);
  return [
    {
      caseId: hgg.caseId,
      group: hgg.group,
      title: "HGG case hgg_3",
      shape,
      image: hgg.image,
      truth: hgg.truth,
      truthTrain: hgg.truth,
      predictions: [
        { label: "I, B = 2", labels: hgg.near },
        { label: "I_ε, B = 2", labels: hgg.near },
      ],
    },
    {
      caseId: lgg.caseId,
      group: lgg.group,
      title: "LGG case lgg_1",
      shape,
      image: lgg.image,
      truth: lgg.truth,
      truthTrain: new Uint8Array(lgg.truth.length),
      predictions: [
        { label: "I, B = 2", labels: lgg.near },
        { label: "I_ε, B = 2", labels: new Uint8Array(lgg.truth.length) },
      ],
    },
  ];
}

/**
 * Write a synthetic run folder: `results.json`, `folds.json` and `examples/`.
 *
 * @param dir Target folder (created if missing).
 * @param options Sizes and seed.
 * @returns The results written.
 */
export async function writeSyntheticRun(
  dir: string,
  options: SyntheticOptions = {},
): Promise<RunResultsInput> {
  await Deno.mkdir(dir, { recursive: true });
  const results = syntheticResults(options);
  await writeJsonAtomic(`${dir}/results.json`, results);
  const strata = Object.fromEntries(results.rows.map((r) => [r.subject, r.group]));
  const split = kFoldSplit(Object.keys(strata), { seed: options.seed ?? 1, strata });
  await writeFoldSplit(`${dir}/folds.json`, split);
  for (const ex of syntheticExamples()) await writeExample(`${dir}/examples`, ex.caseId, ex);
  return results;
}
