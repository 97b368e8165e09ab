import assert from "node:assert/strict";
import { listBrats } from "./brats.ts";
import { ensurePhantom, PHANTOM_VERSION, phantomKey } from "./ensure_phantom.ts";

const TINY = { hgg: 1, lgg: 1, size: [20, 20, 12] as [number, number, number], spacing: 4.8 };

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("ensurePhantom generates once, atomically, and reuses the cached dataset", async () => {
  const cache = await Deno.makeTempDir({ prefix: "phantom_cache_" });
  try {
    const [a, b] = await Promise.all([
      ensurePhantom("brats", cache, TINY),
      ensurePhantom("brats", cache, TINY),
    ]);
    assert.equal(a, b);
    assert.match(a, new RegExp(`/brats-phantom-v${PHANTOM_VERSION.brats}-[0-9a-f]{16}$`));
    // Only the finished folder remains: no temporary siblings.
    assert.deepEqual(await entries(cache), [a.slice(cache.length + 1)]);
    const marker = JSON.parse(await Deno.readTextFile(`${a}/phantom.json`));
    assert.equal(marker.kind, "brats");
    assert.equal(marker.options.hgg, 1);
    assert.equal((await listBrats(a)).length, 2);

    const before = (await Deno.stat(`${a}/phantom.json`)).mtime?.getTime();
    assert.equal(await ensurePhantom("brats", cache, TINY), a);
    assert.equal((await Deno.stat(`${a}/phantom.json`)).mtime?.getTime(), before);

    // Other options → another folder.
    const c = await ensurePhantom("brats", cache, { ...TINY, seed: 5 });
    assert.notEqual(c, a);
    // An incomplete folder (no marker) is regenerated.
    await Deno.remove(`${a}/phantom.json`);
    assert.equal(await ensurePhantom("brats", cache, TINY), a);
    assert.ok((await Deno.stat(`${a}/phantom.json`)).isFile);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("phantomKey fills defaults, ignores key order and rejects unknown options", async () => {
  const a = await phantomKey("acdc", { seed: 1, patientsPerGroup: 2 });
  const b = await phantomKey("acdc", { patientsPerGroup: 2, seed: 1 });
  assert.equal(a.key, b.key);
  assert.equal(a.options.noise, 0.05);
  assert.notEqual((await phantomKey("brats", {})).key, (await phantomKey("acdc", {})).key);
  await assert.rejects(
    () => phantomKey("acdc", { cases: 3 } as never),
    (err: Error) => err instanceof TypeError && /unknown option "cases"/.test(err.message),
  );
});
