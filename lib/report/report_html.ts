/**
 * The self-contained HTML report page: inline CSS, inline SVG figures and PNG overlays as
 * `data:` URIs, no scripts. A Content-Security-Policy forbids every external load, so a page
 * that would need the network fails visibly (and the browser test catches it).
 *
 * @module
 */

import { BREAKDOWN_LEGEND, breakdownHtml } from "./breakdown.ts";
import { escapeXml } from "./line_plot.ts";
import type { ReportFigure, ReportJson } from "./report_json.ts";
import { table1Html } from "./table1_format.ts";

/** Parts of the page. */
export interface ReportHtmlParts {
  /** Page title. */
  title: string;
  /** The report's JSON (Table 1, ROC, examples). */
  json: ReportJson;
  /** The ROC figure, or null. */
  rocSvg: string | null;
  /** Overlay PNGs by file name. */
  overlays: { file: string; png: Uint8Array }[];
  /** Extra figures. */
  figures: ReportFigure[];
}

const CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 0; color: #1d1d1f;
  background: #fafafa; line-height: 1.45; }
header { background: #243447; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: 0.85; font-size: 14px; }
main { padding: 8px 28px 40px; max-width: 1500px; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 14px 18px;
  margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 10px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
caption { caption-side: bottom; text-align: left; font-size: 12px; color: #555; padding-top: 8px;
  max-width: 1100px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e6e6e6; text-align: right; white-space: nowrap; }
thead th { background: #f1f3f6; text-align: center; border-bottom: 1px solid #cfd4da; }
tbody th { text-align: left; background: #f8f9fb; }
tr.group-start td, tr.group-start th { border-top: 2px solid #9aa5b1; }
td.inferior { color: #b42318; background: #fff4f2; }
td.inferior sup { font-weight: bold; }
figure { margin: 8px 0 16px; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
img.overlay { image-rendering: pixelated; border: 1px solid #ddd; max-width: 100%; height: auto; }
svg.dl-plot { max-width: 100%; height: auto; border: 1px solid #eee; }
.auc td:first-child, .auc th:first-child { text-align: left; }
.panels { display: flex; gap: 4px; font-size: 12px; color: #555; }
`;

/**
 * Render the report page.
 *
 * @param parts Title, JSON, ROC SVG, overlays and extra figures.
 * @returns A complete HTML document.
 */
export function reportHtml(parts: ReportHtmlParts): string {
  const { json } = parts;
  const [g1, g2] = json.target.groups;
  const meta = [
    `pipeline ${json.pipeline}`,
    `dataset ${json.dataset}`,
    `target ${json.target.className} (${g1} always labelled, ${g2} missing under partial labels)`,
    json.createdAt ? `results of ${json.createdAt}` : "",
    json.emptyDice === "nan"
      ? "DSC of empty vs empty undefined (left out of means)"
      : "DSC of empty vs empty = 1",
  ].filter(Boolean).join(" · ");
  const h: string[] = [];
  h.push(
    `<!DOCTYPE html>`,
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeXml(parts.title)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<header><h1>${escapeXml(parts.title)}</h1><p>${escapeXml(meta)}</p></header><main>`,
  );

  if (json.warnings?.length) {
    h.push(
      `<section id="warnings-section"><h2>Warnings</h2><ul>${
        json.warnings.map((w) => `<li>${escapeXml(w)}</li>`).join("")
      }</ul></section>`,
    );
  }

  h.push(
    `<section id="table1-section"><h2>Table 1</h2><div class="scroll">${
      table1Html(json.table1)
    }</div></section>`,
  );

  if (json.breakdown) {
    const b = json.breakdown;
    h.push(
      `<section id="breakdown-section"><h2>${escapeXml(`${b.className} by ${b.by}`)}</h2><p>${
        escapeXml(`${BREAKDOWN_LEGEND} per ${b.by} of the test subjects.`)
      }</p>${
        breakdownHtml(
          b.cells,
          json.target.groups,
          Object.fromEntries(json.table1.experiments.map((e) => [e.name, e.label])),
        )
      }</section>`,
    );
  }

  h.push(
    `<section id="roc-section"><h2>ROC: detecting ${escapeXml(g1)} from the predicted volume</h2>`,
  );
  if (parts.rocSvg) {
    h.push(`<figure>${parts.rocSvg}<figcaption>${
      escapeXml(
        `Each curve thresholds the predicted ${json.target.className} volume to tell ${g1} from ${g2}. ` +
          `AUC: exact Mann–Whitney; brackets: ${
            Math.round(json.roc.level * 100)
          } % stratified bootstrap percentile interval.`,
      )
    }</figcaption></figure>`);
    h.push(
      `<table class="auc"><thead><tr><th>Configuration</th><th>AUC</th><th>Interval</th><th>${
        escapeXml(g1)
      }</th><th>${escapeXml(g2)}</th></tr></thead><tbody>`,
    );
    for (const c of json.roc.curves) {
      h.push(
        `<tr><td>${escapeXml(`${c.labeling}, ${c.experimentLabel}, B = ${c.batchSize}`)}</td><td>${
          c.auc.toFixed(3)
        }</td><td>[${c.ci[0].toFixed(3)}, ${
          c.ci[1].toFixed(3)
        }]</td><td>${c.positives}</td><td>${c.negatives}</td></tr>`,
      );
    }
    h.push(`</tbody></table>`);
  } else {
    h.push(
      `<p>Only full labels in this run: no ROC curves.</p>`,
    );
  }
  h.push(`</section>`);

  h.push(`<section id="examples-section"><h2>Example segmentations</h2>`);
  if (json.examples.length === 0) h.push(`<p>No example cases in this run folder.</p>`);
  const pngs = new Map(parts.overlays.map((o) => [o.file, o.png]));
  for (const ex of json.examples) {
    const png = pngs.get(ex.file);
    if (!png) continue;
    const caption =
      `${ex.title ?? ex.caseId}${ex.group ? ` (${ex.group})` : ""}, slice ${ex.slice}. ` +
      `Panels: ${ex.panels.join(" | ")}.`;
    h.push(
      `<figure><img class="overlay" src="data:image/png;base64,${
        _base64(png)
      }" width="${ex.width}" height="${ex.height}" alt="${escapeXml(caption)}"><figcaption>${
        escapeXml(caption)
      }</figcaption></figure>`,
    );
  }
  h.push(`</section>`);

  for (const f of parts.figures) {
    const id = f.id.replace(/[^A-Za-z0-9-]/g, "-");
    h.push(
      `<section id="${id}-section"><h2>${escapeXml(f.title)}</h2><figure>${f.svg}${
        f.caption ? `<figcaption>${escapeXml(f.caption)}</figcaption>` : ""
      }</figure></section>`,
    );
  }

  const s = json.table1.statistics;
  h.push(
    `<section id="methods-section"><h2>Statistics</h2><p>${
      escapeXml(
        `Per case: DSC on hard label maps (both empty → 1), volumes from the voxel spacing, ΔV = predicted − true. ` +
          `Means pool the test folds of the cross-validation. Comparisons with ${json.table1.referenceLabeling} labelling pair the same cases; ` +
          `${
            s.test === "signFlipPermutation"
              ? "sign-flip permutation test"
              : s.test === "pairedBootstrap-centred"
              ? "centred paired bootstrap of the mean difference (p from the bootstrap distribution shifted to the null)"
              : "studentized paired bootstrap (bootstrap-t) of the mean difference"
          } with ${s.resamples} resamples (seed ${s.seed}), two-sided, α = ${s.alpha}, correction: ${s.correction}. ` +
          `Definitions and calibration: docs/statistics.md.`,
      )
    }</p></section>`,
  );
  h.push(`</main></body></html>`);
  return h.join("\n") + "\n";
}

function _base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
