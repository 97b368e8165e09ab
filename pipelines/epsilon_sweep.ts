/**
 * The ε transition sweep (the paper's stated future work, Sect. 5): Φ = I on the BRATS study
 * with partial labels (LGG empty), ε on a log grid from 1e-7 to ~10× the heuristic value,
 * plus the heuristic ε itself, B = 4. `merge` plots DSC and |ΔV| of the tumour per group
 * against ε with the heuristic marked (`epsilon-sweep-*.svg` in the run folder).
 *
 * `deno task run pipelines/epsilon_sweep.ts --folds 1` runs the first fold (12 jobs).
 */

import { definePipeline } from "../lib/pipeline/define_pipeline.ts";
import type { PipelineInput } from "../lib/pipeline/schema.ts";
import { bratsBase } from "./_brats_base.ts";

const GRID = [1e-7, 1e-4, 1e-2, 1, 10, 30, 100, 300, 1000, 3000, 10000];

const experiments: PipelineInput["experiments"] = Object.fromEntries(
  GRID.map((eps) => [
    `eps_${String(eps).replace("-", "m").replace(".", "p")}`,
    { label: `ε=${eps}`, loss: { kind: "softDice", phi: "I", epsilon: eps } },
  ]),
);
experiments.heuristic = {
  label: "I_ε (heuristic)",
  loss: { kind: "softDice", phi: "I", epsilon: "heuristic" },
};

export default definePipeline({
  ...bratsBase,
  name: "epsilon-sweep",
  description: "Φ = I with ε from 1e-7 to ~10× the heuristic (BRATS, LGG empty, B = 4)",
  labelings: { partial: bratsBase.labelings.partial },
  training: { ...bratsBase.training, batchSizes: [4] },
  experiments,
  quick: { folds: [0], experiments: ["eps_1em7", "eps_100", "eps_1000", "heuristic"] },
});
