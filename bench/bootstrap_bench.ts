/**
 * Bootstrap benchmark: one paired bootstrap (default 10,000 resamples) per cell of a BRATS-sized
 * Table 1 (2 labelings × 4 B × 3 experiments × 2 groups × 2 metrics = 96 cells; 210 HGG and
 * 75 LGG cases), in process, in a pool of 1 worker and in a pool sized to the machine. Prints
 * one JSON line per mode with the speed-up over one worker, and checks that every mode gives
 * identical results.
 *
 * `--calibration` instead prints the rejection rates of the paired tests under the null and
 * under a shift (the numbers in docs/statistics.md).
 *
 * Usage:
 *   deno run --allow-read --allow-env bench/bootstrap_bench.ts [--resamples 10000] [--workers N]
 *   deno run --allow-read --allow-env bench/bootstrap_bench.ts --calibration [--datasets 2000]
 *
 * @module
 */

import { Rng } from "../lib/core/rng.ts";
import { pairedBootstrap, type PairedBootstrapResult } from "../lib/eval/bootstrap.ts";
import { BootstrapPool } from "../lib/eval/bootstrap_pool.ts";
import { type CalibratedTest, rejectionRate } from "../lib/eval/calibration.ts";
import { defaultPoolSize } from "../lib/pool/worker_pool.ts";

function _flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

interface Cell {
  a: Float64Array;
  b: Float64Array;
}

/** The 96 cells: each cell's values paired with the same cell under the other labeling. */
function _table1Cells(): Cell[] {
  const cells: Cell[] = [];
  let stream = 0;
  for (const _labeling of ["full", "partial"]) {
    for (const _batchSize of [1, 2, 4, 8]) {
      for (const _experiment of ["I", "BI", "I_eps"]) {
        for (const n of [210, 75]) {
          for (const metric of ["dsc", "deltaVolumeMl"]) {
            const rng = new Rng(2022, stream++);
            const a = new Float64Array(n), b = new Float64Array(n);
            for (let i = 0; i < n; i++) {
              const base = metric === "dsc" ? 0.88 + 0.05 * rng.normal() : -5 + 10 * rng.normal();
              a[i] = base;
              b[i] = base + (metric === "dsc" ? 0.03 : 4) * rng.normal();
            }
            cells.push({ a, b });
          }
        }
      }
    }
  }
  return cells;
}

async function _timed<T>(f: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

async function _speedBench(): Promise<void> {
  const resamples = _flag("resamples", 10000);
  const seed = 1;
  const machine = defaultPoolSize();
  const workers = _flag("workers", machine);
  const cells = _table1Cells();
  const base = { bench: "bootstrap", cells: cells.length, resamples, cpus: machine };

  const sync = await _timed(() => cells.map((c) => pairedBootstrap(c.a, c.b, { resamples, seed })));
  console.log(JSON.stringify({ ...base, mode: "in-process", workers: 0, ms: Math.round(sync.ms) }));

  const pooled = async (size: number) => {
    const start = await _timed(async () => {
      const pool = new BootstrapPool({ size });
      // Warm-up: every worker loads its module before timing starts.
      await Promise.all(
        Array.from(
          { length: size },
          () => pool.pairedBootstrap([0, 1], [1, 0], { resamples: size, seed }),
        ),
      );
      return pool;
    });
    const pool = start.value;
    try {
      const run = await _timed(() =>
        Promise.all(cells.map((c) => pool.pairedBootstrap(c.a, c.b, { resamples, seed })))
      );
      return { startupMs: start.ms, ms: run.ms, results: run.value };
    } finally {
      await pool.close();
    }
  };
  const same = (r: PairedBootstrapResult[]) =>
    r.every((x, i) => JSON.stringify(x) === JSON.stringify(sync.value[i]));

  const one = await pooled(1);
  console.log(JSON.stringify({
    ...base,
    mode: "pool",
    workers: 1,
    startupMs: Math.round(one.startupMs),
    ms: Math.round(one.ms),
    identical: same(one.results),
  }));
  const many = await pooled(workers);
  console.log(JSON.stringify({
    ...base,
    mode: "pool",
    workers,
    startupMs: Math.round(many.startupMs),
    ms: Math.round(many.ms),
    speedupOverOneWorker: Math.round((one.ms / many.ms) * 100) / 100,
    identical: same(many.results),
  }));
}

function _calibration(): void {
  const datasets = _flag("datasets", 2000);
  const resamples = _flag("resamples", 999);
  const tests: CalibratedTest[] = ["centred", "studentized", "permutation"];
  for (const differences of ["normal", "skewed"] as const) {
    for (const n of [20, 50, 100]) {
      for (const test of tests) {
        const t0 = performance.now();
        const r = rejectionRate({ test, datasets, n, resamples, differences, seed: 2022 });
        console.log(JSON.stringify({
          bench: "calibration",
          hypothesis: "null",
          differences,
          n,
          test,
          datasets,
          resamples,
          rate: r.rate,
          se: Math.round(r.se * 10000) / 10000,
          ms: Math.round(performance.now() - t0),
        }));
      }
    }
  }
  for (const shift of [0.25, 0.5]) {
    for (const test of tests) {
      const r = rejectionRate({ test, datasets, n: 50, resamples, shift, seed: 2022 });
      console.log(JSON.stringify({
        bench: "calibration",
        hypothesis: `shift ${shift} sd`,
        differences: "normal",
        n: 50,
        test,
        datasets,
        resamples,
        rate: r.rate,
        se: Math.round(r.se * 10000) / 10000,
      }));
    }
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--calibration")) _calibration();
  else await _speedBench();
}
