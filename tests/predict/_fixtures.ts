/**
 * Fixtures of the prediction tests: models with seeded initial weights (no training needed to
 * test files and geometry), the tiny ACDC run trained once per test process, and a CLI runner.
 */

import type { NiftiHeader } from "../../lib/nifti/header.ts";
import type { DicelabModel, ModelPreprocessing } from "../../lib/model/model_types.ts";
import { DICELAB_VERSION } from "../../lib/model/dicelab_version.ts";
import { initialValues } from "../../lib/nn/param_store.ts";
import { resolveUNetConfig, unetParams } from "../../lib/nn/unet_config.ts";
import { validatePipeline } from "../../lib/pipeline/define_pipeline.ts";
import { runPipeline } from "../../lib/pipeline/run.ts";
import tinyAcdc from "../../pipelines/tiny_acdc.ts";

/** The NIfTI samples (see tests/testdata/nifti/LICENSES.md). */
export const SAMPLES = new URL("../testdata/nifti/", import.meta.url).pathname;

/**
 * The geometry fields of a header; NIfTI-2's float64 fields as the float32 NIfTI-1 keeps.
 *
 * @param h The header.
 * @param f32 Round to float32.
 * @returns dims, pixdim, codes, quaternion and offsets, sform rows, units.
 */
export function geometry(h: NiftiHeader, f32 = false) {
  const r = (xs: number[]) => xs.map((x) => (f32 ? Math.fround(x) : x));
  return {
    dims: h.dim.slice(1, 4),
    pixdim: r(h.pixdim.slice(0, 4)),
    qformCode: h.qformCode,
    sformCode: h.sformCode,
    quatern: r([h.quaternB, h.quaternC, h.quaternD, h.qoffsetX, h.qoffsetY, h.qoffsetZ]),
    srow: [r(h.srowX), r(h.srowY), r(h.srowZ)],
    xyztUnits: h.xyztUnits,
  };
}

/** Options of {@linkcode seededModel}. */
export interface SeededModelOptions {
  /** Channel names. @default ["image"] */
  channels?: string[];
  /** Class names (0 = background). @default ["background", "a", "b"] (softmax over 3) */
  classes?: string[];
  /** Output head. @default "softmax" */
  head?: "softmax" | "sigmoid";
  /** Preprocessing. @default 10 × 5 × 5 mm, 8 × 32 × 32 voxels */
  preprocessing?: ModelPreprocessing;
  /** Seeds of the members (one member per seed, folds 0, 1, …). @default [1] */
  seeds?: number[];
}

/**
 * A two-level 4/8-filter model with seeded He-normal weights and initial normalisation state:
 * its outputs depend on the input, so files, geometry and ensembles can be tested untrained.
 *
 * @param o Channels, classes, head, preprocessing, member seeds.
 * @returns The model.
 */
export function seededModel(o: SeededModelOptions = {}): DicelabModel {
  const channels = o.channels ?? ["image"];
  const classes = o.classes ?? ["background", "a", "b"];
  const head = o.head ?? "softmax";
  const K = head === "softmax" ? classes.length : classes.length - 1;
  const network = resolveUNetConfig("acdc", {
    filters: [4, 8],
    inChannels: channels.length,
    outChannels: K,
    head,
  });
  const { params, state } = unetParams(network);
  const members = (o.seeds ?? [1]).map((seed, fold) => {
    const values = initialValues(params, seed);
    return {
      fold,
      job: `f${fold}-full-X-b2`,
      seed,
      weights: "final" as const,
      epsilon: 1e-7,
      tensors: [
        ...params.map((p, i) => ({ name: p.name, shape: [...p.shape], data: values[i] })),
        ...state.map((s) => ({
          name: `state/${s.name}`,
          shape: [s.size],
          data: new Float32Array(s.size).fill(s.value),
        })),
      ],
    };
  });
  return {
    network,
    preprocessing: o.preprocessing ?? {
      spacing: [10, 5, 5],
      size: [8, 32, 32],
      clipPercentiles: [0.5, 99.5],
      zscore: true,
      intensityMask: "all",
    },
    inference: {
      window: [4, 16, 16],
      overlap: 0.5,
      blending: "gaussian",
      batch: 2,
      threshold: 0.5,
    },
    dataset: {
      kind: "test",
      title: "Test",
      channels,
      classes,
      target: head === "softmax" ? "oneHot" : "binary",
      outputs: head === "softmax" ? classes : classes.slice(1),
    },
    loss: { kind: "softDice", phi: "I", epsilon: 1e-7 },
    provenance: {
      pipeline: "seeded",
      source: "tests/predict/_fixtures.ts",
      run: "none",
      labeling: "full",
      experiment: "X",
      batchSize: 2,
      seed: 1,
      phantom: true,
      quick: true,
      dicelabVersion: DICELAB_VERSION,
      createdAt: "2026-01-01T00:00:00.000Z",
    },
    members,
  };
}

/** The job of the tiny ACDC quick run. */
export const TINY_JOB = "f0-partial-I-b2";

let _run: Promise<string> | undefined;

/**
 * The tiny ACDC quick run (one job, ~10 s on llvmpipe), trained once per test process into a
 * temporary folder that is removed at exit.
 *
 * @returns The run folder.
 */
export function tinyRun(): Promise<string> {
  _run ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "dicelab-predict-run-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
    await runPipeline({
      pipeline: validatePipeline(tinyAcdc, "pipelines/tiny_acdc.ts"),
      source: "pipelines/tiny_acdc.ts",
      out: dir,
      quick: true,
      cacheDir: ".cache/phantoms",
      log: () => {},
    });
    return dir;
  })();
  return _run;
}

/**
 * Run the CLI in a subprocess with exactly the permissions of its `deno task` in deno.json
 * (`deno task predict` / `deno task export`: read, write, env).
 *
 * @param args Command and flags.
 * @returns Exit code, stdout and stderr.
 */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const json = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const task: string = json.tasks[args[0]];
  const flags = task.split(" ").filter((f) => f.startsWith("--allow-"));
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "cli.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}
