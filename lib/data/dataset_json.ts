/**
 * What the nnU-Net v2 and Decathlon layouts share: reading a dataset's `dataset.json`, its
 * label table, the optional per-case table of groups (`cases.csv` / `cases.json`) and
 * nnU-Net's `splits_final.json`. Every error names the file and the field.
 *
 * @module
 */

/** A parsed per-case table: case → group, subject and other fields. */
export interface CaseTable {
  /** The file it came from (for messages), or undefined when there is none. */
  source?: string;
  /** Case id → its row. */
  rows: Map<string, { group: string; subject: string; meta: Record<string, string> }>;
}

/**
 * Read and parse a JSON file, naming it on failure.
 *
 * @param path The file.
 * @returns The parsed value.
 * @throws {Deno.errors.NotFound} When it is missing.
 * @throws {SyntaxError} When it is not JSON.
 */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read dataset: ${path} is missing`);
    }
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(
      `Cannot read dataset: ${path} is not valid JSON (${(err as Error).message})`,
    );
  }
}

/**
 * Parse a channel table (`channel_names` / `modality`): `{ "0": name, "1": name, … }`.
 *
 * @param value The field's value.
 * @param where `file: field` for messages.
 * @returns Channel names in order.
 * @throws {TypeError} When it is not an object of consecutive indices from 0 with names.
 */
export function parseChannels(value: unknown, where: string): string[] {
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`Invalid ${where}: expected an object { "0": name, … }`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const out: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const name = (value as Record<string, unknown>)[String(i)];
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        `Invalid ${where}: expected channels "0".."${entries.length - 1}" with names, ` +
          `channel "${i}" is ${JSON.stringify(name)}`,
      );
    }
    out.push(name);
  }
  if (out.length === 0) throw new TypeError(`Invalid ${where}: no channels`);
  return out;
}

/**
 * Check a label table given as name → value (nnU-Net) or value → name (Decathlon), and
 * return the class names by value. Values must be 0 (background) .. K − 1 (nnU-Net's
 * `"ignore"` label is taken out of the table before, by its reader).
 *
 * @param labels value → name.
 * @param where `file: labels` for messages.
 * @returns Class names in value order.
 * @throws {TypeError} When the values are not 0..K−1.
 */
export function classNames(labels: Map<number, string>, where: string): string[] {
  const values = [...labels.keys()].sort((a, b) => a - b);
  if (values[0] !== 0) {
    throw new TypeError(`Invalid ${where}: expected a background label with value 0`);
  }
  values.forEach((v, i) => {
    if (v !== i) {
      throw new TypeError(
        `Invalid ${where}: label values must be consecutive 0..${values.length - 1}, got ${
          values.join(", ")
        }`,
      );
    }
  });
  if (values.length < 2) throw new TypeError(`Invalid ${where}: no foreground label`);
  return values.map((v) => labels.get(v)!);
}

/**
 * Read the optional per-case table at a dataset root: `cases.csv` (`case,group[,subject],…`,
 * a header line, comma-separated, no quoting) or `cases.json` (`{ case: { group, subject?, … } }`).
 * Without one, every case is its own subject in group `"all"`.
 *
 * @param root Dataset root.
 * @returns The table (empty rows when there is no file).
 * @throws {TypeError} Naming the file, line and column of a malformed entry.
 */
export async function readCaseTable(root: string): Promise<CaseTable> {
  const csv = `${root}/cases.csv`;
  const json = `${root}/cases.json`;
  const rows: CaseTable["rows"] = new Map();
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(csv);
  } catch { /* absent */ }
  if (text !== undefined) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
    const head = (lines[0] ?? "").split(",").map((h) => h.trim());
    const ci = head.indexOf("case"), gi = head.indexOf("group"), si = head.indexOf("subject");
    if (ci < 0 || gi < 0) {
      throw new TypeError(`Invalid ${csv}: the header must name the columns "case" and "group"`);
    }
    for (let n = 1; n < lines.length; n++) {
      const cells = lines[n].split(",").map((c) => c.trim());
      if (cells.length !== head.length) {
        throw new TypeError(
          `Invalid ${csv}: line ${n + 1} has ${cells.length} fields, the header ${head.length}`,
        );
      }
      const id = cells[ci];
      if (!id || !cells[gi]) {
        throw new TypeError(`Invalid ${csv}: line ${n + 1} has an empty case or group`);
      }
      if (rows.has(id)) throw new TypeError(`Invalid ${csv}: case "${id}" appears twice`);
      const meta: Record<string, string> = {};
      head.forEach((h, k) => {
        if (k !== ci && k !== gi && k !== si) meta[h] = cells[k];
      });
      rows.set(id, { group: cells[gi], subject: si >= 0 && cells[si] ? cells[si] : id, meta });
    }
    return { source: csv, rows };
  }
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(json));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { rows };
    throw new TypeError(`Invalid ${json}: ${(err as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`Invalid ${json}: expected { case: { group, subject?, … } }`);
  }
  for (const [id, row] of Object.entries(value as Record<string, unknown>)) {
    const r = row as Record<string, unknown> | null;
    if (!r || typeof r.group !== "string" || r.group === "") {
      throw new TypeError(`Invalid ${json}: ${id}.group must be a non-empty string`);
    }
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) {
      if (k !== "group" && k !== "subject") meta[k] = String(v);
    }
    rows.set(id, {
      group: r.group,
      subject: typeof r.subject === "string" && r.subject ? r.subject : id,
      meta,
    });
  }
  return { source: json, rows };
}

/**
 * Read nnU-Net's `splits_final.json` (a list of `{ train, val }` case lists, one per fold) as
 * subject → test fold (dicelab's fold k tests on split k's `val` cases).
 *
 * @param path The file.
 * @param subjectOf Case id → subject.
 * @returns Subject → fold, or undefined when the file is absent.
 * @throws {TypeError} When it is malformed, names an unknown case, or puts one subject's cases in
 *   two folds.
 */
export async function readSplits(
  path: string,
  subjectOf: ReadonlyMap<string, string>,
): Promise<Record<string, number> | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new TypeError(`Invalid ${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`Invalid ${path}: expected a list of { train, val } folds`);
  }
  const out: Record<string, number> = {};
  value.forEach((fold, k) => {
    const val = (fold as { val?: unknown })?.val;
    if (!Array.isArray(val)) throw new TypeError(`Invalid ${path}: fold ${k} has no "val" list`);
    for (const id of val) {
      const subject = subjectOf.get(String(id));
      if (subject === undefined) {
        throw new TypeError(
          `Invalid ${path}: fold ${k} names case "${id}", which is not in imagesTr`,
        );
      }
      if (out[subject] !== undefined && out[subject] !== k) {
        throw new TypeError(
          `Invalid ${path}: subject "${subject}" has cases in folds ${out[subject]} and ${k}`,
        );
      }
      out[subject] = k;
    }
  });
  return out;
}
