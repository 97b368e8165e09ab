/**
 * Progress over a command's items (internal to lib/pipeline/cli): a bar with the count, the
 * current item, the rate and the ETA, redrawn in place on a terminal or printed as one line
 * per item otherwise.
 *
 * @module
 */

/**
 * A duration as `42s`, `3m05s` or `1h02m`.
 *
 * @param seconds Seconds (non-finite: `?`).
 * @returns The text.
 */
export function durationText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The progress line after `done` of `total` items: a bar of `width` cells, the count, the
 * item, seconds per item and the ETA (remaining items at the mean time per item so far).
 *
 * @param done Items finished.
 * @param total All items.
 * @param seconds Seconds since the start.
 * @param item The item just finished (or started).
 * @param width Bar cells. @default 24
 * @returns E.g. `[############            ] 5/10 case07 1.2 s/case ETA 6s`.
 */
export function progressLine(
  done: number,
  total: number,
  seconds: number,
  item: string,
  width = 24,
): string {
  const filled = total > 0 ? Math.round((width * done) / total) : width;
  const per = done > 0 ? seconds / done : NaN;
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} ${item} ` +
    `${Number.isFinite(per) ? per.toFixed(1) : "-"} s/case ETA ${
      durationText(per * (total - done))
    }`;
}

/** Reports progress over items: in place on a terminal, one line per item otherwise. */
export class Progress {
  #total: number;
  #tty: boolean;
  #log: (line: string) => void;
  #t0 = performance.now();
  #done = 0;

  /**
   * Start reporting.
   *
   * @param total Number of items.
   * @param o `tty`: redraw one line on stdout; `log`: the sink of the per-item lines.
   */
  constructor(total: number, o: { tty: boolean; log?: (line: string) => void }) {
    this.#total = total;
    this.#tty = o.tty;
    this.#log = o.log ?? ((l) => console.log(l));
  }

  /** Seconds since the start. */
  get seconds(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /**
   * One item is done.
   *
   * @param item Its name.
   */
  tick(item: string): void {
    this.#done++;
    const line = progressLine(this.#done, this.#total, this.seconds, item);
    if (this.#tty) {
      Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[K${line}`));
      if (this.#done === this.#total) Deno.stdout.writeSync(new TextEncoder().encode("\n"));
    } else this.#log(line);
  }
}
