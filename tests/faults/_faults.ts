/**
 * Helpers of the fault-injection suite: run the CLI as a user does (a subprocess with the
 * permissions of its deno.json task, optionally in another working directory), write pipeline
 * variants of the tiny presets to temporary files, and snapshot a run folder's finished files.
 */

import assert from "node:assert/strict";

/** The repository root. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/** What a CLI run printed and returned. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  out: string;
  /** Standard error. */
  err: string;
}

/**
 * Run `cli.ts` with the `run` task's permissions.
 *
 * @param args Command and flags.
 * @param o Working directory and extra environment.
 * @returns Exit code and output.
 */
export async function cli(
  args: readonly string[],
  o: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys=osRelease,systemMemoryInfo",
      `${ROOT}cli.ts`,
      ...args,
    ],
    cwd: o.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...o.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

/**
 * Write a pipeline file that spreads a tiny preset and applies `body` (TypeScript statements
 * that modify `p`, a deep copy of the preset).
 *
 * @param dir Folder for the file.
 * @param preset `tiny_acdc` or `tiny_brats`.
 * @param body Statements on `p`, e.g. `p.labelings.partial.group = "XYZ";`.
 * @returns The file's path.
 */
export async function variant(
  dir: string,
  preset: "tiny_acdc" | "tiny_brats",
  body: string,
): Promise<string> {
  const path = `${dir}/${preset}_${crypto.randomUUID().slice(0, 8)}.ts`;
  await Deno.writeTextFile(
    path,
    `import tiny from "${ROOT}pipelines/${preset}.ts";\n` +
      `// deno-lint-ignore no-explicit-any\n` +
      `const p: any = structuredClone(tiny);\n${body}\nexport default p;\n`,
  );
  return path;
}

/**
 * Assert a CLI result: the exit code, and that stderr (or stdout) matches every pattern.
 *
 * @param r The result.
 * @param code Expected exit code.
 * @param patterns Patterns the output must match (the culprit's name, the field path).
 */
export function assertFails(r: CliResult, code: number, ...patterns: RegExp[]): void {
  assert.equal(r.code, code, `exit code ${r.code}, expected ${code}\n${r.out}\n${r.err}`);
  for (const p of patterns) assert.match(r.err + r.out, p);
}

/**
 * Whether a path exists.
 *
 * @param path The path.
 * @returns True when it exists.
 */
export async function present(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The bytes of every finished job's `result.json` and weights in a run folder, by path.
 *
 * @param dir Run folder.
 * @returns Path (relative to the folder) → bytes.
 */
export async function finishedFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  try {
    for await (const j of Deno.readDir(`${dir}/jobs`)) {
      for (const f of ["result.json", "weights.ckpt"]) {
        const p = `jobs/${j.name}/${f}`;
        try {
          out.set(p, await Deno.readFile(`${dir}/${p}`));
        } catch { /* not finished */ }
      }
    }
  } catch { /* no jobs yet */ }
  return out;
}
