import assert from "node:assert/strict";
import { PlateauSchedule } from "./plateau.ts";

Deno.test("PlateauSchedule reduces the LR after `patience` flat epochs and stops after `stopPatience`", () => {
  const s = new PlateauSchedule({ lr: 1, factor: 0.2, patience: 2, stopPatience: 5 });
  assert.deepEqual(s.step(1.0), { improved: true, reduced: false, stop: false });
  assert.equal(s.step(1.0).reduced, false); // 1 epoch without improvement
  const e = s.step(0.99995); // below minDelta: still no improvement → 2 epochs → reduce
  assert.equal(e.reduced, true);
  assert.ok(Math.abs(s.lr - 0.2) < 1e-15);
  assert.equal(s.step(0.5).improved, true); // improvement resets both counters
  for (let i = 0; i < 4; i++) assert.equal(s.step(0.6).stop, false);
  assert.equal(s.step(0.6).stop, true); // 5th epoch without improvement
  assert.ok(Math.abs(s.lr - 0.2 * 0.2 * 0.2) < 1e-15); // two more reductions at 2 and 4
});

Deno.test("PlateauSchedule resumes from a saved state", () => {
  const a = new PlateauSchedule({ lr: 1e-3, patience: 3, stopPatience: 6 });
  a.step(2);
  a.step(3);
  const b = new PlateauSchedule({ lr: 1e-3, patience: 3, stopPatience: 6 }, a.state);
  assert.deepEqual(b.step(3), a.step(3));
  assert.deepEqual(b.state, a.state);
});
