/**
 * Checks of a pipeline against its dataset before any work (pure): every setting that refers to
 * the dataset — channels, output maps, groups of labelings and of the target, class names and
 * indices, loss channels, the fold rule, the sampling ratio — and the patch size against the
 * network's pooling. Each problem names its field path and what the dataset actually has.
 *
 * @module
 */

import { evaluatedNames, targetMaps, targetNames } from "../data/datasets.ts";
import { diceLossOptionsOf } from "../loss/loss_kind.ts";
import type { CaseRecord } from "../data/types.ts";
import { PipelineError, type PipelineIssue, validatePipeline } from "./define_pipeline.ts";
import { DataError } from "./errors.ts";
import { awaitsDescription, modelConfig, pipelineDataset } from "./resolve.ts";
import type { Pipeline } from "./pipeline_types.ts";

const _list = (xs: readonly (string | number)[]) => xs.map((x) => JSON.stringify(x)).join(", ");

/**
 * Every problem of an effective pipeline with its dataset (empty when it can run).
 *
 * @param p The effective pipeline (after `--seed`, phantom overrides and `--quick`).
 * @param o `phantom`: whether the phantom's training overrides apply (for field paths).
 * @returns The problems, by field path.
 */
export function pipelineIssues(p: Pipeline, o: { phantom?: boolean } = {}): PipelineIssue[] {
  const ds = pipelineDataset(p);
  const issues: PipelineIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const title = `the ${ds.title} dataset`;
  const K = targetMaps(ds);
  const groups = _list(ds.groups);

  if (p.model.inChannels !== undefined && p.model.inChannels !== ds.channels.length) {
    add(
      "model.inChannels",
      `${p.model.inChannels}, but ${title} has ${ds.channels.length} input channel(s) (${
        ds.channels.join(", ")
      })`,
    );
  }
  if (p.model.outChannels !== undefined && p.model.outChannels !== K) {
    add(
      "model.outChannels",
      `${p.model.outChannels}, but ${title}'s loss target has ${K} map(s) (${
        targetNames(ds).join(", ")
      })`,
    );
  }
  const regions = ds.target === "regions";
  if (regions) issues.push(..._regionIssues(p, title));
  for (const [name, l] of Object.entries(p.labelings)) {
    if (l.kind === "full" || (regions && l.kind !== "emptyGroup")) continue;
    if (l.kind === "annotatedClasses") {
      if (!l.cases && !l.file) {
        add(`labelings.${name}`, `needs "file" (case → annotated classes) or "cases"`);
      }
      for (const [id, names] of Object.entries(l.cases ?? {})) {
        const bad = names.filter((n) => !ds.classes.slice(1).includes(n));
        if (bad.length > 0) {
          add(
            `labelings.${name}.cases.${id}`,
            `unknown class(es) ${_list(bad)} (${title} has ${_list(ds.classes.slice(1))})`,
          );
        }
      }
      continue;
    }
    if (!ds.groups.includes(l.group)) {
      add(`labelings.${name}.group`, `unknown group "${l.group}" (${title} has ${groups})`);
    }
    if (l.kind === "removeClass") {
      for (const [field, v] of [["classIndex", l.classIndex], ["into", l.into]] as const) {
        if (v >= ds.classes.length) {
          add(
            `labelings.${name}.${field}`,
            `${v} is not a class of ${title} (0..${ds.classes.length - 1}: ${
              ds.classes.join(", ")
            })`,
          );
        }
      }
    }
  }
  const ev = p.evaluation;
  ev.target.groups.forEach((g, i) => {
    if (!ds.groups.includes(g)) {
      add(`evaluation.target.groups.${i}`, `unknown group "${g}" (${title} has ${groups})`);
    }
  });
  const names = evaluatedNames(ds);
  if (ev.classes.length !== names.length || ev.classes.some((c, i) => c !== names[i])) {
    add(
      "evaluation.classes",
      `${_list(ev.classes)}, but ${title}'s ${
        regions ? "regions" : "label values"
      } 1..${names.length} are ${_list(names)}`,
    );
  }
  const at = ev.classes.indexOf(ev.target.className);
  if (at < 0) {
    add(
      "evaluation.target.className",
      `"${ev.target.className}" is not one of evaluation.classes (${_list(ev.classes)})`,
    );
  } else if (ev.target.classIndex !== at + 1) {
    add(
      "evaluation.target.classIndex",
      `${ev.target.classIndex}, but "${ev.target.className}" is ${
        regions ? "region" : "label value"
      } ${at + 1}`,
    );
  }
  if (ev.foldRule !== "random" && !ds.foldRules[ev.foldRule]) {
    add(
      "evaluation.foldRule",
      `"${ev.foldRule}" is not a fold rule of ${title} (have ${
        _list(["random", ...Object.keys(ds.foldRules)])
      })`,
    );
  }
  if (ev.foldRule === "splits" && ds.splits) {
    const k = Math.max(...Object.values(ds.splits)) + 1;
    if (k !== ev.folds) {
      add(
        "evaluation.folds",
        `${ev.folds}, but the dataset's splits_final.json has ${k} fold(s) (foldRule "splits")`,
      );
    }
  }
  if (p.training.edEsRatio && ds.groups.length < 2) {
    add("training.edEsRatio", `${title} has fewer than two groups (${groups})`);
  }
  for (const [name, e] of Object.entries(p.experiments)) {
    if (e.edEsRatio && ds.groups.length < 2) {
      add(`experiments.${name}.edEsRatio`, `${title} has fewer than two groups (${groups})`);
    }
    if (e.removedLabels === "labelSet" && ds.target !== "oneHot") {
      add(
        `experiments.${name}.removedLabels`,
        `"labelSet" needs one-hot targets: ${title}'s loss target is ${
          regions ? "one map per region (region-based), none of which" : "one binary map, which"
        } cannot name the background in a set (use "ignore" or "relabel")`,
      );
    }
    const { options } = diceLossOptionsOf(e.loss);
    for (const c of options.classes ?? []) {
      if (c >= K) {
        add(
          `experiments.${name}.loss.classes`,
          `channel ${c} does not exist: the loss target of ${title} has ${K} map(s) (0..${K - 1})`,
        );
      }
    }
    if (options.variant === "marginal" && !regions) {
      if (K < 2) {
        add(
          `experiments.${name}.loss.kind`,
          `"marginalDice" needs a background and a class map, ${title}'s target has ${K} map`,
        );
      } else if ((options.background ?? 0) >= K) {
        add(
          `experiments.${name}.loss.background`,
          `channel ${options.background} does not exist (0..${K - 1})`,
        );
      }
    }
  }
  issues.push(..._patchIssues(p, o));
  return issues;
}

/**
 * What a region-based dataset refuses: a softmax head (its maps overlap), the marginal Dice (it
 * needs a background map) and labelings that name classes (`removeClass`, `annotatedClasses`:
 * regions are not classes). Label sets are refused with binary targets, in the experiment
 * checks.
 */
function _regionIssues(p: Pipeline, title: string): PipelineIssue[] {
  const out: PipelineIssue[] = [];
  const why = `${title} is region-based (its maps are overlapping regions, trained with sigmoid)`;
  if (p.model.head === "softmax") {
    out.push({ path: "model.head", message: `"softmax", but ${why}: use "sigmoid"` });
  }
  for (const [name, l] of Object.entries(p.labelings)) {
    if (l.kind === "removeClass" || l.kind === "annotatedClasses") {
      out.push({
        path: `labelings.${name}.kind`,
        message: `"${l.kind}" names classes, but ${why}; use "full" or "emptyGroup"`,
      });
    }
  }
  for (const [name, e] of Object.entries(p.experiments)) {
    const variant = diceLossOptionsOf(e.loss).options.variant;
    if (variant === "marginal" || variant === "labelSetMarginal") {
      out.push({
        path: `experiments.${name}.loss.kind`,
        message: `"${e.loss.kind}" needs a background map, but ${why}, with no background map`,
      });
    }
  }
  return out;
}

function _patchIssues(p: Pipeline, o: { phantom?: boolean }): PipelineIssue[] {
  let cfg;
  try {
    cfg = modelConfig(p);
  } catch (err) {
    return [{ path: "model", message: (err as Error).message }];
  }
  const factor = [0, 1, 2].map((a) => cfg.pools.reduce((f, pool) => f * pool[a], 1));
  const patch = p.training.patchSize;
  if (patch.every((n, a) => n % factor[a] === 0)) return [];
  const fromPhantom = o.phantom && p.dataset.phantom.training?.patchSize !== undefined;
  return [{
    path: fromPhantom ? "dataset.phantom.training.patchSize" : "training.patchSize",
    message: `[${patch.join(", ")}] is not divisible by the network's pooling [${
      factor.join(", ")
    }] (the product of model.pools per axis, [d, h, w])`,
  }];
}

/**
 * Check an effective pipeline before any work: it still validates (a `--seed` or `--quick`
 * override can break it) and {@linkcode pipelineIssues} finds nothing.
 *
 * @param p The effective pipeline.
 * @param o The pipeline file (for the message) and whether the run uses the phantom.
 * @throws {PipelineError} Listing every problem by field path.
 */
export function checkRunnable(p: Pipeline, o: { source: string; phantom?: boolean }): void {
  validatePipeline(p, `${o.source} (with the run's options applied)`);
  // A dataset described by its own files is checked once they are read (describeDataset).
  if (awaitsDescription(p)) return;
  const issues = pipelineIssues(p, o);
  if (issues.length > 0) throw new PipelineError(o.source, issues);
}

/**
 * Check a dataset's records against what the pipeline needs: cases at all, and at least one case
 * in every group that a labeling or the evaluation target names.
 *
 * @param p The effective pipeline.
 * @param records The dataset's records.
 * @param root The dataset root (for the message).
 * @throws {DataError} Naming the empty group, the field that needs it and the root.
 */
export function checkRecords(p: Pipeline, records: readonly CaseRecord[], root: string): void {
  if (records.length === 0) throw new DataError(`Cannot run: the dataset at ${root} has no cases`);
  const count = new Map<string, number>();
  for (const r of records) count.set(r.group, (count.get(r.group) ?? 0) + 1);
  const needs: [string, string][] = p.evaluation.target.groups.map((g, i) => [
    g,
    `evaluation.target.groups.${i}`,
  ]);
  for (const [name, l] of Object.entries(p.labelings)) {
    if (l.kind === "emptyGroup" || l.kind === "removeClass") {
      needs.push([l.group, `labelings.${name}.group`]);
    }
    if (l.kind === "annotatedClasses") {
      const ids = new Set(records.map((r) => r.id));
      const unknown = Object.keys(l.cases ?? {}).filter((id) => !ids.has(id));
      if (unknown.length > 0) {
        throw new DataError(
          `Cannot run: labelings.${name} names case(s) the dataset at ${root} does not have: ${
            unknown.slice(0, 5).join(", ")
          }${unknown.length > 5 ? ", …" : ""}`,
        );
      }
    }
  }
  for (const [g, field] of needs) {
    if (!count.get(g)) {
      const have = [...count].map(([k, n]) => `${k}: ${n}`).join(", ");
      throw new DataError(
        `Cannot run: the dataset at ${root} has no case in group "${g}" (${field} needs it; ` +
          `cases per group: ${have})`,
      );
    }
  }
}
