/**
 * ACDC `Info.cfg` files: `Key: value` lines (ED, ES, Group, Height, NbFrame, Weight).
 *
 * @module
 */

/** The fields of an ACDC `Info.cfg`. */
export interface AcdcInfo {
  /** End-diastolic frame number (1-based). */
  ED: number;
  /** End-systolic frame number (1-based). */
  ES: number;
  /** Pathology group (NOR, MINF, DCM, HCM, RV); absent in the ACDC test set. */
  Group?: string;
  /** Height in cm. */
  Height?: number;
  /** Number of frames of the cine. */
  NbFrame?: number;
  /** Weight in kg. */
  Weight?: number;
}

/** The five ACDC pathology groups. */
export const ACDC_PATHOLOGIES = ["DCM", "HCM", "MINF", "NOR", "RV"] as const;

/**
 * Parse the text of an ACDC `Info.cfg`.
 *
 * @param text File contents.
 * @param path Path used in error messages.
 * @returns The fields; ED and ES are required positive integers.
 * @throws {SyntaxError} When a line is not `Key: value`, ED/ES are missing or not positive
 *   integers, a number is malformed, or Group is not an ACDC group.
 * @example
 * ```ts
 * import { parseInfoCfg } from "./info_cfg.ts";
 * const info = parseInfoCfg("ED: 1\nES: 12\nGroup: DCM\n", "patient001/Info.cfg");
 * console.log(info.ES, info.Group); // 12 DCM
 * ```
 */
export function parseInfoCfg(text: string, path: string): AcdcInfo {
  const fields = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const m = /^\s*([A-Za-z]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) {
      const shown = line.length > 40 ? `${line.slice(0, 40)}…` : line;
      throw new SyntaxError(
        `Cannot parse ACDC Info.cfg ${path}: line ${i + 1} ${JSON.stringify(shown)} is not ` +
          `"Key: value"`,
      );
    }
    fields.set(m[1], m[2]);
  });
  const int = (key: "ED" | "ES" | "NbFrame", required: boolean): number | undefined => {
    const v = fields.get(key);
    if (v === undefined) {
      if (required) throw new SyntaxError(`Cannot parse ACDC Info.cfg ${path}: ${key} is missing`);
      return undefined;
    }
    const n = Number(v);
    if (!/^\d+$/.test(v) || !(n >= 1)) {
      throw new SyntaxError(
        `Cannot parse ACDC Info.cfg ${path}: ${key} is "${v}", expected a positive integer`,
      );
    }
    return n;
  };
  const real = (key: "Height" | "Weight"): number | undefined => {
    const v = fields.get(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v === "" || !Number.isFinite(n)) {
      throw new SyntaxError(`Cannot parse ACDC Info.cfg ${path}: ${key} is "${v}", not a number`);
    }
    return n;
  };
  const group = fields.get("Group");
  if (group !== undefined && !(ACDC_PATHOLOGIES as readonly string[]).includes(group)) {
    throw new SyntaxError(
      `Cannot parse ACDC Info.cfg ${path}: Group is "${group}", expected one of ` +
        ACDC_PATHOLOGIES.join(", "),
    );
  }
  const info: AcdcInfo = { ED: int("ED", true)!, ES: int("ES", true)! };
  if (group !== undefined) info.Group = group;
  const height = real("Height");
  if (height !== undefined) info.Height = height;
  const nb = int("NbFrame", false);
  if (nb !== undefined) info.NbFrame = nb;
  const weight = real("Weight");
  if (weight !== undefined) info.Weight = weight;
  if (info.ED === info.ES) {
    throw new SyntaxError(`Cannot parse ACDC Info.cfg ${path}: ED and ES are both ${info.ED}`);
  }
  return info;
}

/**
 * Format an `Info.cfg` exactly as the ACDC files are written (`Key: value`, one per line).
 *
 * @param info The fields.
 * @returns The file text.
 */
export function formatInfoCfg(info: AcdcInfo): string {
  const lines = [`ED: ${info.ED}`, `ES: ${info.ES}`];
  if (info.Group !== undefined) lines.push(`Group: ${info.Group}`);
  if (info.Height !== undefined) lines.push(`Height: ${info.Height.toFixed(1)}`);
  if (info.NbFrame !== undefined) lines.push(`NbFrame: ${info.NbFrame}`);
  if (info.Weight !== undefined) lines.push(`Weight: ${info.Weight.toFixed(1)}`);
  return lines.join("\n") + "\n";
}
