/**
 * The README's nnU-Net example: `deno task run pipelines/nnunet_example.ts --quick` runs on the
 * nnU-Net-layout phantom through the same reader as real data, records the dataset's own spec in
 * pipeline.json, and trains site B's cases with MYO as a missing map.
 */

import assert from "node:assert/strict";

Deno.test("deno task run pipelines/nnunet_example.ts --quick", async () => {
  const out = await Deno.makeTempDir({ prefix: "dicelab-nnunet-run-" });
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys=osRelease",
        "cli.ts",
        "run",
        "pipelines/nnunet_example.ts",
        "--quick",
        "--out",
        out,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(text, /using the phantom NNUNET dataset/);
    assert.match(text, /\| merged \| 2 \|/);
    const run = JSON.parse(await Deno.readTextFile(`${out}/pipeline.json`));
    assert.deepEqual(run.pipeline.dataset.spec.classes, ["background", "RV", "MYO", "LV"]);
    assert.deepEqual(run.pipeline.dataset.spec.groups, ["siteA", "siteB"]);
    const merged = run.pipeline.labelings.merged;
    const siteB = Object.keys(merged.cases);
    assert.ok(siteB.length > 0 && siteB.every((id: string) => merged.cases[id].join() === "RV,LV"));
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    assert.ok(results.rows.some((r: { group: string }) => r.group === "siteB"));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
