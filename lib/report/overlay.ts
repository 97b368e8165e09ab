/**
 * Example overlays like the paper's Fig. 3: one PNG strip per case with panels image | ground
 * truth | ground truth used in training | prediction(s), each label map blended over the
 * grey-scale slice with a solid outline. PNG encoding by fast-png.
 *
 * @module
 */

import { encode } from "fast-png";

/** A prediction panel. */
export interface OverlayPrediction {
  /** Panel caption, e.g. `"I_ε, B = 2"`. */
  label: string;
  /** Predicted label map `[D, H, W]`. */
  labels: Uint8Array;
}

/** One example case, in memory. */
export interface OverlayExample {
  /** Case id. */
  caseId: string;
  /** Group (shown in captions). */
  group?: string;
  /** Caption. */
  title?: string;
  /** Volume shape `[D, H, W]`. */
  shape: [number, number, number];
  /** Image intensities `[D, H, W]` (one channel, e.g. FLAIR or cine MRI). */
  image: Float32Array;
  /** Full ground truth `[D, H, W]` (class indices). */
  truth: Uint8Array;
  /** Ground truth used in training (after the labeling), if it differs. */
  truthTrain?: Uint8Array;
  /** Predictions. */
  predictions: OverlayPrediction[];
  /** Axial slice (index along D); default the slice with the most ground-truth voxels. */
  slice?: number;
}

/** Options of {@linkcode overlayPng}. */
export interface OverlayOptions {
  /** Integer upscaling; default so that panels are at least 160 px tall (at most 8). */
  scale?: number;
  /** Fill opacity of label colours. @default 0.35 */
  alpha?: number;
}

/** A rendered overlay strip. */
export interface OverlayImage {
  /** PNG bytes (8-bit RGB). */
  png: Uint8Array;
  /** Width in px. */
  width: number;
  /** Height in px. */
  height: number;
  /** Slice drawn. */
  slice: number;
  /** Panel captions, left to right. */
  panels: string[];
}

/** Colours of label values 1, 2, 3, … (red, green, blue, yellow, magenta, cyan). */
export const LABEL_COLORS: [number, number, number][] = [
  [230, 57, 70],
  [46, 204, 64],
  [52, 120, 246],
  [255, 205, 40],
  [220, 60, 220],
  [40, 210, 210],
];

const GAP = 4;

/**
 * Render an example as a PNG strip of panels.
 *
 * @param example The case.
 * @param options Scale and opacity.
 * @returns The PNG, its size, the slice and the panel captions.
 * @throws {TypeError} When an array's length is not D·H·W.
 * @throws {RangeError} When the slice is out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overlayPng } from "./overlay.ts";
 * const shape: [number, number, number] = [1, 4, 4];
 * const truth = new Uint8Array(16).fill(1, 5, 7);
 * const img = overlayPng({
 *   caseId: "c1", shape, image: new Float32Array(16).map((_, i) => i), truth,
 *   predictions: [{ label: "I", labels: truth }],
 * }, { scale: 2 });
 * assert(img.width === 3 * 8 + 2 * 4 && img.height === 8 && img.panels.length === 3);
 * ```
 */
export function overlayPng(example: OverlayExample, options: OverlayOptions = {}): OverlayImage {
  const [D, H, W] = example.shape;
  const n = D * H * W;
  const check = (what: string, a: ArrayLike<number> | undefined) => {
    if (a && a.length !== n) {
      throw new TypeError(
        `Cannot render overlay of ${example.caseId}: ${what} has ${a.length} voxels, expected ${n} (${D}×${H}×${W})`,
      );
    }
  };
  check("image", example.image);
  check("truth", example.truth);
  check("truthTrain", example.truthTrain);
  example.predictions.forEach((p) => check(`prediction "${p.label}"`, p.labels));

  const slice = example.slice ?? _busiestSlice(example.truth, D, H * W);
  if (!Number.isInteger(slice) || slice < 0 || slice >= D) {
    throw new RangeError(`Cannot render overlay of ${example.caseId}: slice ${slice} of ${D}`);
  }
  const scale = options.scale ?? Math.min(8, Math.max(1, Math.ceil(160 / H)));
  const alpha = options.alpha ?? 0.35;
  const off = slice * H * W;
  const grey = _window(example.image.subarray(off, off + H * W));

  const panels: { caption: string; labels?: Uint8Array }[] = [
    { caption: "Image" },
    { caption: "GT", labels: example.truth.subarray(off, off + H * W) },
  ];
  if (example.truthTrain) {
    panels.push({
      caption: "GT (training)",
      labels: example.truthTrain.subarray(off, off + H * W),
    });
  }
  for (const p of example.predictions) {
    panels.push({ caption: p.label, labels: p.labels.subarray(off, off + H * W) });
  }

  const pw = W * scale, ph = H * scale;
  const width = panels.length * pw + (panels.length - 1) * GAP;
  const data = new Uint8Array(width * ph * 3).fill(255);
  panels.forEach((panel, k) => {
    const x0 = k * (pw + GAP);
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        const i = h * W + w;
        let r = grey[i], g = grey[i], b = grey[i];
        const lab = panel.labels?.[i] ?? 0;
        if (lab > 0) {
          const c = LABEL_COLORS[(lab - 1) % LABEL_COLORS.length];
          const edge = _isEdge(panel.labels!, h, w, H, W);
          const a = edge ? 1 : alpha;
          r = Math.round(r * (1 - a) + c[0] * a);
          g = Math.round(g * (1 - a) + c[1] * a);
          b = Math.round(b * (1 - a) + c[2] * a);
        }
        for (let dy = 0; dy < scale; dy++) {
          let o = ((h * scale + dy) * width + x0 + w * scale) * 3;
          for (let dx = 0; dx < scale; dx++, o += 3) {
            data[o] = r;
            data[o + 1] = g;
            data[o + 2] = b;
          }
        }
      }
    }
  });
  const png = encode({ width, height: ph, data, channels: 3, depth: 8 });
  return { png, width, height: ph, slice, panels: panels.map((p) => p.caption) };
}

function _busiestSlice(truth: Uint8Array, D: number, plane: number): number {
  let best = -1, bestCount = 0;
  for (let d = 0; d < D; d++) {
    let c = 0;
    for (let i = d * plane; i < (d + 1) * plane; i++) if (truth[i] !== 0) c++;
    if (c > bestCount) [best, bestCount] = [d, c];
  }
  return best < 0 ? D >> 1 : best;
}

/** Map the 1st–99th percentile of the slice to 0–255. */
function _window(values: Float32Array): Uint8Array {
  const sorted = Float32Array.from(values).sort();
  const lo = sorted[Math.floor(0.01 * (sorted.length - 1))];
  const hi = sorted[Math.ceil(0.99 * (sorted.length - 1))];
  const out = new Uint8Array(values.length);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < values.length; i++) {
    const v = (values[i] - lo) / span;
    out[i] = Number.isFinite(v) ? Math.round(255 * Math.min(1, Math.max(0, v))) : 0;
  }
  return out;
}

function _isEdge(labels: Uint8Array, h: number, w: number, H: number, W: number): boolean {
  const v = labels[h * W + w];
  return h === 0 || w === 0 || h === H - 1 || w === W - 1 ||
    labels[(h - 1) * W + w] !== v || labels[(h + 1) * W + w] !== v ||
    labels[h * W + w - 1] !== v || labels[h * W + w + 1] !== v;
}
