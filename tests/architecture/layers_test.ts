/**
 * The layer rules of docs/architecture.md, checked over the source: no import cycles in lib/
 * (type-only imports included), barrels that list their exports by name, unique file names,
 * lib/pipeline files of at most ~350 lines, and no dataset name or group string in code outside
 * lib/data, the network presets and the pipelines (comments and doc examples may name them).
 */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

async function _files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await _files(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

function _resolve(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const s of spec.split("/")) {
    if (s === "..") parts.pop();
    else if (s !== ".") parts.push(s);
  }
  return parts.join("/");
}

/** Relative static imports and re-exports of a module (type-only ones too). */
function _imports(path: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/g)) {
    out.push(_resolve(path, m[1]));
  }
  return out;
}

/** Code without comments (line and block), so doc examples do not count as code. */
function _code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

const LIB = (await _files("lib")).filter((f) => !f.endsWith("_test.ts"));
const TEXT = new Map(
  await Promise.all(LIB.map(async (f) => [f, await Deno.readTextFile(new URL(f, ROOT))] as const)),
);

Deno.test("lib/ has no import cycle", () => {
  const graph = new Map(LIB.map((f) => [f, _imports(f, TEXT.get(f)!)]));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      cycles.push([...stack.slice(stack.indexOf(f)), f].join(" → "));
      return;
    }
    state.set(f, "open");
    for (const g of graph.get(f) ?? []) if (graph.has(g)) visit(g, [...stack, f]);
    state.set(f, "done");
  };
  for (const f of LIB) visit(f, []);
  assert.deepEqual(cycles, []);
});

Deno.test("barrels list their exports by name", () => {
  const barrels = ["mod.ts", ...LIB.filter((f) => f.endsWith("/mod.ts"))];
  const star: string[] = [];
  for (const f of barrels) {
    const text = f === "mod.ts" ? Deno.readTextFileSync(new URL(f, ROOT)) : TEXT.get(f)!;
    if (/export\s+(type\s+)?\*/.test(_code(text))) star.push(f);
  }
  assert.deepEqual(star, []);
});

Deno.test("no two files in lib/ share a name (but a kernel family's files)", () => {
  // A kernel family shares its name by convention: lib/gpu/kernels/<name>.ts (WGSL),
  // lib/gpu/ops/<name>.ts (the op) and its float64 reference lib/ref/<name>.ts (the Dice loss's
  // reference is lib/loss/dice_loss.ts).
  const family = (f: string) =>
    /^lib\/(gpu\/kernels|gpu\/ops|ref)\//.test(f) || f === "lib/loss/dice_loss.ts";
  const byName = new Map<string, string[]>();
  for (const f of LIB) {
    const name = f.split("/").pop()!;
    if (name === "mod.ts" || family(f)) continue;
    byName.set(name, [...(byName.get(name) ?? []), f]);
  }
  const dup = [...byName.values()].filter((l) => l.length > 1);
  assert.deepEqual(dup, []);
});

Deno.test("lib/pipeline files stay under ~350 lines", () => {
  const long = LIB.filter((f) => f.startsWith("lib/pipeline/"))
    .map((f) => [f, TEXT.get(f)!.split("\n").length] as const)
    .filter(([, n]) => n > 360);
  assert.deepEqual(long, []);
});

Deno.test("no dataset name or group string in code outside lib/data and the presets", () => {
  const allowed = (f: string) => f.startsWith("lib/data/") || f === "lib/nn/unet_config.ts";
  const hits: string[] = [];
  for (const f of LIB.filter((f) => !allowed(f))) {
    const code = _code(TEXT.get(f)!);
    for (const m of code.matchAll(/["'`](brats|acdc|ED|ES|HGG|LGG|pathology)["'`]/g)) {
      hits.push(`${f}: ${m[0]}`);
    }
  }
  assert.deepEqual(hits, []);
});
