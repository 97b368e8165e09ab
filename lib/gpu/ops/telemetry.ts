/**
 * Gradient telemetry as a step-plan op: per map (b, c) the mean |∂L/∂ŷ| and whether its target
 * is empty, and a summary the trainer logs every step (mean |∂L/∂ŷ| on empty vs labelled
 * maps) from a 32-byte readback. This is the quantity Tilborghs, Bertels et al. (2022,
 * Sect. 2.2) call the real motor of the optimisation: under Φ = I with a negligible ε the
 * gradient on empty maps vanishes, under BI (B > 1) or with the heuristic ε it does not.
 *
 * @module
 */

import { checkShape } from "../../loss/dice_options.ts";
import {
  TELEMETRY_FINALIZE_WG,
  TELEMETRY_SUMMARY_FIELDS,
  TELEMETRY_WG,
  telemetryFinalize,
  telemetryMapPartials,
} from "../kernels/telemetry.ts";
import type { Dispatch } from "../runtime.ts";
import type { Readback, StepPlan } from "../step_plan.ts";
import { layoutOf, rowChunks, type TensorView } from "../tensor.ts";
import { diceTiling, type LabeledMask } from "./dice_loss.ts";

/** Options of {@linkcode gradTelemetryGpu}. */
export interface GradTelemetryGpuOptions {
  /**
   * Channels to report (e.g. the kept classes of the loss).
   * @default all channels
   */
  classes?: readonly number[];
  /**
   * Which maps are labelled: `[B][C]` booleans or a GPU buffer of `B·C` u32 (nonzero =
   * labelled). Maps marked unlabelled go to the "missing" bucket.
   * @default no mask: every map is empty or labelled by its target
   */
  labeled?: GPUBuffer | LabeledMask;
}

/** Output buffers of {@linkcode gradTelemetryGpu}. */
export interface GradTelemetryGpuOutputs {
  /** Receives the 8-float summary (see {@linkcode parseGradTelemetry}). */
  summary: GPUBuffer;
  /**
   * Receives `[row·4 + (mean |g|, empty 0/1, labelled 0/1, bucket)]` for rows `b·K + k` over the
   * reported classes; bucket 0 = empty, 1 = labelled, 2 = missing. @default not written
   */
  perMap?: GPUBuffer;
}

/** The summary of one step's gradient telemetry. */
export interface GradTelemetry {
  /** Mean |∂L/∂ŷ| over the voxels of maps whose target is empty (NaN when there is none). */
  meanAbsGradEmpty: number;
  /** Mean |∂L/∂ŷ| over the voxels of labelled maps with a non-empty target (NaN when none). */
  meanAbsGradLabelled: number;
  /** Mean |∂L/∂ŷ| over maps the explicit mask marks as missing (NaN when none). */
  meanAbsGradMissing: number;
  /** Number of empty maps. */
  countEmpty: number;
  /** Number of labelled, non-empty maps. */
  countLabelled: number;
  /** Number of maps marked missing. */
  countMissing: number;
  /** Mean |∂L/∂ŷ| over all reported maps. */
  meanAbsGradAll: number;
  /** Largest per-map mean |∂L/∂ŷ|. */
  maxMeanAbsGrad: number;
}

/** The bound telemetry op returned by {@linkcode gradTelemetryGpu}. */
export interface GradTelemetryGpu {
  /** The 32 bytes to read back for the summary (pass to `plan.run`). */
  readonly summaryReadback: Readback;
  /** The bytes of the per-map records, when `outputs.perMap` was given. */
  readonly perMapReadback?: Readback;
  /** The dispatches pushed onto the plan, in order. */
  readonly dispatches: readonly Dispatch[];
  /**
   * Replace the host-side labelled mask for the next runs (not when the op reads a caller's
   * GPU buffer); `undefined` removes it.
   *
   * @param labeled `[B][C]` booleans, or undefined.
   * @throws {TypeError} When the mask is malformed or the op reads a caller's GPU buffer.
   */
  setLabeled(labeled: LabeledMask | undefined): void;
}

/**
 * Append the gradient telemetry of `grad` to a step plan (after the op that writes `grad`).
 *
 * @param plan The step plan.
 * @param grad ∂L/∂ŷ `[B, C, D, H, W]` (e.g. the `grad` output of `diceLossGpu`).
 * @param target Dense float32 targets `[B, C, D·H·W]`.
 * @param options Reported classes and labelled maps.
 * @param outputs The summary buffer (32 bytes) and an optional per-map buffer.
 * @returns The bound op with its readback ranges.
 * @throws {TypeError} On too small buffers or a malformed mask.
 * @throws {RangeError} On out-of-range or repeated classes.
 * @example
 * ```ts ignore
 * const tel = gradTelemetryGpu(plan, gradView, target, { classes: [1] }, { summary });
 * const [loss, s] = await plan.run([dice.lossReadback, tel.summaryReadback]);
 * const { meanAbsGradEmpty, meanAbsGradLabelled } = parseGradTelemetry(s);
 * ```
 */
export function gradTelemetryGpu(
  plan: StepPlan,
  grad: TensorView,
  target: GPUBuffer,
  options: GradTelemetryGpuOptions,
  outputs: GradTelemetryGpuOutputs,
): GradTelemetryGpu {
  const g = layoutOf(grad, "grad");
  const { batch: B, channels: C, voxels: V } = checkShape([g.n, g.c, g.d, g.h, g.w], "grad");
  const classes = _classes(options?.classes, C);
  const K = classes.length;
  const gpuMask = options?.labeled instanceof GPUBuffer ? options.labeled : undefined;
  const hostMask = gpuMask ? undefined : options?.labeled as LabeledMask | undefined;
  _checkMask(hostMask, B, C);
  _checkSize(target, B * C * V * 4, "target");
  _checkSize(outputs.summary, 32, "outputs.summary");
  if (outputs.perMap) _checkSize(outputs.perMap, B * K * 16, "outputs.perMap");
  if (gpuMask) _checkSize(gpuMask, B * C * 4, "options.labeled");

  const rt = plan.rt;
  const classBuffer = plan.scratch(K * 4, "telemetry.classes");
  rt.write(classBuffer, Uint32Array.from(classes));
  const maskBuffer = gpuMask ?? plan.scratch(B * C * 4, "telemetry.labeled");
  const writeMask = (mask: LabeledMask | undefined) => {
    if (!mask) return;
    const data = new Uint32Array(B * C);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) data[b * C + c] = mask[b][c] ? 1 : 0;
    rt.write(maskBuffer, data);
  };
  writeMask(hostMask);
  const rows = B * K;
  const { perThread, chunks } = diceTiling(V, rows * 2, TELEMETRY_FINALIZE_WG);
  const partials = plan.scratch(rows * 2 * chunks * TELEMETRY_WG * 4, "telemetry.partials");
  const sums = plan.scratch(rows * 2 * 4, "telemetry.sums");
  const perMap = outputs.perMap ?? plan.scratch(rows * 16, "telemetry.perMap");

  const dispatches: Dispatch[] = [];
  // Tensors larger than a binding: groups of whole samples, bound as buffer ranges.
  const gradT = { buffer: grad.buffer, cTot: g.cTot, cOff: g.cOff, plane: V };
  const labelsT = { buffer: target, cTot: C, cOff: 0, plane: V };
  const op = "gradTelemetryGpu";
  for (const ch of rowChunks(op, B, C, [gradT, labelsT], plan.limits, { wholeSamples: true })) {
    const [gw, yw] = ch.windows;
    dispatches.push(
      plan.push(
        telemetryMapPartials,
        { grad: gw.binding, labels: yw.binding, classes: classBuffer, partials },
        {
          V,
          C,
          K,
          cTot: g.cTot,
          cOff: gw.offAbs,
          perThread,
          chunks,
          row0: ch.n0 * K,
          rows: (ch.n0 + ch.nn) * K,
          yOff: yw.offAbs,
          one: 1,
        },
      ),
    );
  }
  const finalizeUniforms = {
    B,
    C,
    K,
    V,
    hasMask: options?.labeled === undefined ? 0 : 1,
    chunks,
    one: 1,
  };
  const finalize = plan.push(telemetryFinalize, {
    partials,
    classes: classBuffer,
    labeled: maskBuffer,
    sums,
    perMap,
    summary: outputs.summary,
  }, finalizeUniforms);
  dispatches.push(finalize);

  return {
    summaryReadback: { buffer: outputs.summary, offset: 0, size: 32 },
    perMapReadback: outputs.perMap
      ? { buffer: outputs.perMap, offset: 0, size: rows * 16 }
      : undefined,
    dispatches,
    setLabeled(mask) {
      if (gpuMask) {
        throw new TypeError(
          "Cannot set the labelled mask: the op reads the caller's GPU buffer; write that buffer instead",
        );
      }
      _checkMask(mask, B, C);
      writeMask(mask);
      finalizeUniforms.hasMask = mask ? 1 : 0;
      rt.setUniforms(telemetryFinalize, finalize, finalizeUniforms);
    },
  };
}

/**
 * Turn the 8 floats of a telemetry summary into named fields.
 *
 * @param summary The summary as read back (at least 8 floats).
 * @returns The named summary (counts as integers).
 * @throws {TypeError} When fewer than 8 values are given.
 * @example
 * ```ts
 * import { parseGradTelemetry } from "./telemetry.ts";
 * const t = parseGradTelemetry(new Float32Array([0, 0.5, NaN, 2, 2, 0, 0.25, 0.5]));
 * if (t.countLabelled !== 2 || t.meanAbsGradLabelled !== 0.5) throw new Error("unexpected");
 * ```
 */
export function parseGradTelemetry(summary: ArrayLike<number>): GradTelemetry {
  if (!summary || summary.length < TELEMETRY_SUMMARY_FIELDS.length) {
    throw new TypeError(
      `Invalid summary: expected ${TELEMETRY_SUMMARY_FIELDS.length} floats, got ${summary?.length}`,
    );
  }
  const out = {} as GradTelemetry;
  TELEMETRY_SUMMARY_FIELDS.forEach((name, i) => {
    out[name] = name.startsWith("count") ? Math.round(summary[i]) : summary[i];
  });
  return out;
}

function _classes(classes: readonly number[] | undefined, C: number): number[] {
  if (classes === undefined) return Array.from({ length: C }, (_, c) => c);
  if (!Array.isArray(classes) || classes.length === 0) {
    throw new TypeError("Invalid options.classes: expected a non-empty array of channel indices");
  }
  const seen = new Set<number>();
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= C) {
      throw new RangeError(`Invalid options.classes: ${c} is not a channel index in 0..${C - 1}`);
    }
    if (seen.has(c)) throw new RangeError(`Invalid options.classes: ${c} appears twice`);
    seen.add(c);
  }
  return [...classes];
}

function _checkMask(mask: LabeledMask | undefined, B: number, C: number): void {
  if (mask === undefined) return;
  if (!Array.isArray(mask) || mask.length !== B) {
    throw new TypeError(`Invalid options.labeled: expected ${B} rows ([B][C] booleans)`);
  }
  mask.forEach((row, b) => {
    if (!Array.isArray(row) || row.length !== C || row.some((v) => typeof v !== "boolean")) {
      throw new TypeError(`Invalid options.labeled[${b}]: expected ${C} booleans`);
    }
  });
}

function _checkSize(buffer: GPUBuffer, bytes: number, name: string): void {
  if (!(buffer instanceof GPUBuffer)) throw new TypeError(`Invalid ${name}: expected a GPUBuffer`);
  if (buffer.size < bytes) {
    throw new TypeError(`Invalid ${name}: buffer has ${buffer.size} bytes, needs ${bytes}`);
  }
}
