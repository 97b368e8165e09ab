import assert from "node:assert/strict";
import { DICE_LOSS_KINDS, diceLossOptionsOf } from "./loss_kind.ts";
import { DICE_VARIANTS } from "./dice_options.ts";

Deno.test("DICE_LOSS_KINDS names every variant once", () => {
  assert.deepEqual(Object.values(DICE_LOSS_KINDS).sort(), [...DICE_VARIANTS].sort());
});

Deno.test("diceLossOptionsOf() passes squaredDenominator only when configured", () => {
  const base = { kind: "softDice", phi: "I", epsilon: 1e-7 } as const;
  assert.equal("squaredDenominator" in diceLossOptionsOf(base).options, false);
  assert.equal(
    diceLossOptionsOf({ ...base, squaredDenominator: true }).options.squaredDenominator,
    true,
  );
  assert.equal(
    diceLossOptionsOf({ ...base, kind: "labelSetMarginalDice" }).options.variant,
    "labelSetMarginal",
  );
});
