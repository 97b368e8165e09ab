import assert from "node:assert/strict";
import { aucBootstrap, pairedBootstrap, permutationTest, quantile } from "./bootstrap.ts";
import { resampleRange } from "./resampling.ts";
import { rocAuc } from "./roc.ts";
import { Rng } from "../core/rng.ts";

const rng = new Rng(11, 0);
const FULL = Array.from({ length: 37 }, () => 0.85 + 0.05 * rng.normal());
const PARTIAL = FULL.map((v) => v - 0.02 + 0.04 * rng.normal());

Deno.test("pairedBootstrap() is deterministic for a seed and changes with it", () => {
  const a = pairedBootstrap(PARTIAL, FULL, { resamples: 500, seed: 7 });
  const b = pairedBootstrap(PARTIAL, FULL, { resamples: 500, seed: 7 });
  assert.deepEqual(a, b);
  const c = pairedBootstrap(PARTIAL, FULL, { resamples: 500, seed: 8 });
  assert.notDeepEqual(a.ci, c.ci);
  assert.equal(a.estimate, c.estimate);
  assert.equal(a.method, "centred");
  assert.equal(a.n, 37);
});

Deno.test("resample b draws its pairs from new Rng(seed, b), whatever the range", () => {
  const diffs = new Float64Array(PARTIAL.map((v, i) => v - FULL[i]));
  const job = {
    kind: "pairedBootstrap",
    diffs,
    seed: 3,
    statistic: "mean",
    method: "centred",
  } as const;
  const whole = resampleRange({ ...job, start: 0, end: 50 });
  const pieces = [[0, 17], [17, 18], [18, 50]].map(([start, end]) =>
    resampleRange({ ...job, start, end })
  );
  assert.deepEqual([...whole], pieces.flatMap((p) => [...p]));
  // Replicate 23 by hand.
  const r = new Rng(3, 23);
  let s = 0;
  for (let i = 0; i < diffs.length; i++) s += diffs[r.int(diffs.length)];
  assert.equal(whole[23], s / diffs.length);
});

Deno.test("the centred p-value and percentile interval follow their definitions", () => {
  const B = 999;
  const res = pairedBootstrap(PARTIAL, FULL, { resamples: B, seed: 5 });
  const diffs = new Float64Array(PARTIAL.map((v, i) => v - FULL[i]));
  const reps = resampleRange({
    kind: "pairedBootstrap",
    diffs,
    seed: 5,
    statistic: "mean",
    method: "centred",
    start: 0,
    end: B,
  });
  const est = diffs.reduce((x, y) => x + y) / diffs.length;
  assert.ok(Math.abs(res.estimate - est) < 1e-15);
  const extreme = reps.filter((t) => Math.abs(t - res.estimate) >= Math.abs(res.estimate)).length;
  assert.equal(res.p, (1 + extreme) / (B + 1));
  const sorted = reps.slice().sort();
  const lo = (1 - 0.95) / 2; // as computed inside, bit for bit
  assert.deepEqual(res.ci, [quantile(sorted, lo), quantile(sorted, 1 - lo)]);
  assert.ok(res.ci[0] < res.estimate && res.estimate < res.ci[1]);
});

Deno.test("pairedBootstrap() handles constant and zero differences", () => {
  const base = [0.5, 0.6, 0.7, 0.8];
  for (const method of ["centred", "studentized"] as const) {
    const shifted = pairedBootstrap(base.map((v) => v + 0.25), base, {
      resamples: 99,
      seed: 1,
      method,
    });
    assert.equal(shifted.estimate, 0.25);
    assert.deepEqual(shifted.ci, [0.25, 0.25]);
    assert.equal(shifted.p, 0.01); // no replicate is as extreme: 1 / (B + 1)
    const same = pairedBootstrap(base, base, { resamples: 99, seed: 1, method });
    assert.equal(same.p, 1);
  }
});

Deno.test("pairedBootstrap() accepts a custom statistic equal to the named median", () => {
  const median = (v: Float64Array) => {
    const s = v.slice().sort();
    const h = s.length >> 1;
    return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
  };
  const named = pairedBootstrap(PARTIAL, FULL, { resamples: 300, seed: 2, statistic: "median" });
  const custom = pairedBootstrap(PARTIAL, FULL, { resamples: 300, seed: 2, statistic: median });
  assert.deepEqual(custom, named);
  assert.equal(named.method, "centred");
  assert.throws(
    () =>
      pairedBootstrap(PARTIAL, FULL, {
        resamples: 9,
        seed: 1,
        statistic: median,
        method: "studentized",
      }),
    TypeError,
  );
});

Deno.test("pairedBootstrap() validates its input", () => {
  assert.throws(() => pairedBootstrap([1, 2], [1], { resamples: 9, seed: 1 }), TypeError);
  assert.throws(() => pairedBootstrap([1], [1], { resamples: 9, seed: 1 }), /1 pair/);
  assert.throws(() => pairedBootstrap([1, NaN], [1, 2], { resamples: 9, seed: 1 }), /pair 1/);
  assert.throws(() => pairedBootstrap([1, 2], [1, 2], { resamples: 0, seed: 1 }), RangeError);
  assert.throws(() => pairedBootstrap([1, 2], [1, 2], { resamples: 9, seed: 1.5 }), RangeError);
  assert.throws(
    () => pairedBootstrap([1, 2], [1, 2], { resamples: 9, seed: 1, level: 1 }),
    RangeError,
  );
});

Deno.test("permutationTest() enumerates sign flips exactly for small n", () => {
  // d = [1, 2, 3]: |mean| ≥ 2 only for +++ and −−− → 2/8
  const r = permutationTest([2, 3, 4], [1, 1, 1], { resamples: 1000, seed: 1 });
  assert.deepEqual(r, { estimate: 2, p: 0.25, n: 3, resamples: 8, exact: true });
  // d = [1, 1, 1, 1, −4]: mean 0 → p = 1
  assert.equal(permutationTest([1, 1, 1, 1, -4], [0, 0, 0, 0, 0], { resamples: 99, seed: 1 }).p, 1);
  // d = [3, 1, 2, 2]: sums with |Σ| ≥ 8 are ++++ and −−−− → 2/16
  assert.equal(permutationTest([3, 1, 2, 2], [0, 0, 0, 0], { resamples: 16, seed: 1 }).p, 0.125);
  assert.throws(() =>
    permutationTest(new Array(30).fill(1), new Array(30).fill(0), {
      resamples: 10,
      seed: 1,
      exact: true,
    }), /at most 24/);
});

Deno.test("permutationTest() Monte Carlo mode approximates the exact p-value", () => {
  const a = PARTIAL.slice(0, 12), b = FULL.slice(0, 12);
  const exact = permutationTest(a, b, { resamples: 4096, seed: 1 });
  assert.ok(exact.exact);
  const mc = permutationTest(a, b, { resamples: 4000, seed: 1, exact: false });
  assert.ok(!mc.exact);
  // Binomial se of a Monte Carlo p near 0.5 with B = 4000 is < 0.008.
  assert.ok(Math.abs(mc.p - exact.p) < 0.04, `${mc.p} vs ${exact.p}`);
  assert.deepEqual(permutationTest(a, b, { resamples: 4000, seed: 1, exact: false }), mc);
});

Deno.test("aucBootstrap() reports the exact AUC with a stratified percentile interval", () => {
  const scores = FULL.map((v, i) => v * 100 + (i % 3 === 0 ? -4 : 0));
  const positive = FULL.map((_, i) => i % 3 !== 0);
  const r = aucBootstrap(scores, positive, { resamples: 400, seed: 9 });
  assert.equal(r.estimate, rocAuc(scores, positive));
  assert.ok(r.ci[0] <= r.estimate && r.estimate <= r.ci[1] && r.ci[1] <= 1);
  assert.deepEqual(aucBootstrap(scores, positive, { resamples: 400, seed: 9 }), r);
});

Deno.test("quantile() interpolates like R's type 7", () => {
  const v = new Float64Array([1, 2, 4, 8, 16]);
  assert.equal(quantile(v, 0), 1);
  assert.equal(quantile(v, 1), 16);
  assert.equal(quantile(v, 0.5), 4);
  assert.equal(quantile(v, 0.1), 1.4);
  assert.equal(quantile(new Float64Array([-Infinity, -Infinity, 1]), 0.25), -Infinity);
});

Deno.test('pairedBootstrap() and permutationTest() with missing "omit" leave undefined pairs out', () => {
  // Pairs 1 (NaN in a) and 3 (null in b) are undefined; the rest is the complete data.
  const a = [0.8, NaN, 0.9, 0.7, 0.6, 0.75];
  const b = [0.9, 0.85, 0.95, null as unknown as number, 0.7, 0.8];
  const completeA = [0.8, 0.9, 0.6, 0.75], completeB = [0.9, 0.95, 0.7, 0.8];
  const opts = { resamples: 199, seed: 4 };
  const omitted = pairedBootstrap(a, b, { ...opts, missing: "omit" });
  assert.deepEqual(omitted, pairedBootstrap(completeA, completeB, opts));
  assert.equal(omitted.n, 4);
  assert.deepEqual(
    permutationTest(a, b, { ...opts, missing: "omit" }),
    permutationTest(completeA, completeB, opts),
  );
  // By default an undefined value is an error, null included (it would subtract as 0).
  assert.throws(() => pairedBootstrap(a, b, opts), /pair 1/);
  assert.throws(
    () => pairedBootstrap([1, 2, 3], [1, null as unknown as number, 2], opts),
    /pair 1/,
  );
  assert.throws(
    () => pairedBootstrap([1, NaN, NaN], [1, 2, 3], { ...opts, missing: "omit" }),
    /1 pair\(s\), need 2 \(2 left out as undefined\)/,
  );
});
