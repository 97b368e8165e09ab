import assert from "node:assert/strict";
import { acdcFold } from "../data/acdc_fold.ts";
import { foldSubjects, kFoldSplit, parseFoldSplit } from "./folds.ts";

const SUBJECTS = Array.from({ length: 23 }, (_, i) => `case_${String(i).padStart(3, "0")}`);

Deno.test("kFoldSplit() is reproducible, balanced and independent of input order", () => {
  const a = kFoldSplit(SUBJECTS, { seed: 42 });
  const b = kFoldSplit([...SUBJECTS].reverse().concat(SUBJECTS.slice(0, 3)), { seed: 42 });
  assert.deepEqual(a, b);
  assert.equal(a.folds, 5);
  const sizes = [0, 0, 0, 0, 0];
  for (const f of Object.values(a.assignments)) sizes[f]++;
  // 23 subjects over 5 folds → sizes 5, 5, 5, 4, 4 in some order
  assert.deepEqual([...sizes].sort(), [4, 4, 5, 5, 5]);
  assert.notDeepEqual(kFoldSplit(SUBJECTS, { seed: 43 }).assignments, a.assignments);
  // Serialisable: a JSON round trip validates and is equal.
  assert.deepEqual(parseFoldSplit(JSON.parse(JSON.stringify(a))), a);
});

Deno.test("kFoldSplit() spreads each stratum evenly over the folds", () => {
  const strata: Record<string, string> = {};
  SUBJECTS.forEach((s, i) => (strata[s] = i < 15 ? "HGG" : "LGG"));
  const split = kFoldSplit(SUBJECTS, { folds: 5, seed: 3, strata });
  for (const g of ["HGG", "LGG"]) {
    const counts = [0, 0, 0, 0, 0];
    for (const [s, f] of Object.entries(split.assignments)) if (strata[s] === g) counts[f]++;
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${g}: ${counts}`);
  }
});

Deno.test("foldSubjects() partitions the subjects", () => {
  const split = kFoldSplit(SUBJECTS, { folds: 4, seed: 1 });
  const seen = new Set<string>();
  for (let f = 0; f < 4; f++) {
    const { train, test } = foldSubjects(split, f);
    assert.equal(train.length + test.length, SUBJECTS.length);
    for (const s of test) {
      assert.ok(!seen.has(s));
      seen.add(s);
    }
  }
  assert.equal(seen.size, SUBJECTS.length);
  assert.throws(() => foldSubjects(split, 4), RangeError);
});

Deno.test("acdcFold() follows patient p → fold (p − 1) mod 5", () => {
  assert.equal(acdcFold("patient001"), 0);
  assert.equal(acdcFold("patient005"), 4);
  assert.equal(acdcFold("patient006"), 0);
  assert.equal(acdcFold("patient100"), 4);
  const split = kFoldSplit(["patient002", "patient013", "patient099", "patient004", "patient005"], {
    rule: "acdc",
    assign: acdcFold,
  });
  assert.deepEqual(split.assignments, {
    patient002: 1,
    patient004: 3,
    patient005: 4,
    patient013: 2,
    patient099: 3,
  });
  assert.equal(split.seed, null);
  assert.throws(() => acdcFold("patient"), /has no number/);
});

Deno.test("kFoldSplit() and parseFoldSplit() reject bad input", () => {
  assert.throws(() => kFoldSplit(["a", "b"], { folds: 3 }), /only 2 subject/);
  assert.throws(() => kFoldSplit(["a", "b"], { folds: 0 }), RangeError);
  assert.throws(
    () => parseFoldSplit({ version: 1, rule: "random", folds: 2, seed: 1, assignments: { a: 2 } }),
    /assignments\.a is 2/,
  );
  assert.throws(() => parseFoldSplit({ version: 2 }), TypeError);
});
