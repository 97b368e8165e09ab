/**
 * The row chunking behind every op's binding-limit split (`rowChunks` in `lib/gpu/tensor.ts`):
 * windows start on the offset alignment, fit the limit, cover their chunk, and the wrapped
 * u32 row offsets turn every index a kernel forms into the right element of the window.
 */

import assert from "node:assert/strict";
import { rowChunks, type RowTensor } from "../../lib/gpu/tensor.ts";
import { gpuTest } from "../_helpers/gpu.ts";

/** `(R + off)·P mod 2³²`, as a WGSL u32 kernel computes a row base. */
function u32Base(R: number, off: number, P: number): number {
  return Number(((BigInt(R) + BigInt(off)) * BigInt(P)) % (1n << 32n));
}

gpuTest("rowChunks windows are aligned, fit the limit and address their rows", (rt) => {
  const buffer = rt.createBuffer(1 << 20);
  // Odd rows (105, 210 floats), vec4 rows (108 floats as 27 vec4s), rows of 2^k·odd floats.
  const cases: { n: number; c: number; t: RowTensor[]; limit: number; alignment: number }[] = [
    { n: 2, c: 5, t: [{ buffer, cTot: 8, cOff: 2, plane: 105 }], limit: 2048, alignment: 256 },
    {
      n: 3,
      c: 3,
      t: [{ buffer, cTot: 3, cOff: 0, plane: 210 }, { buffer, cTot: 7, cOff: 4, plane: 24 }],
      limit: 4096,
      alignment: 256,
    },
    {
      n: 2,
      c: 6,
      t: [{ buffer, cTot: 9, cOff: 1, plane: 108, vec: 4 }],
      limit: 1500,
      alignment: 256,
    },
    { n: 1, c: 9, t: [{ buffer, cTot: 9, cOff: 0, plane: 96 }], limit: 1024, alignment: 32 },
    { n: 4, c: 2, t: [{ buffer, cTot: 2, cOff: 0, plane: 80 }], limit: 1300, alignment: 1024 },
  ];
  for (const { n, c, t, limit, alignment } of cases) {
    const chunks = rowChunks("test", n, c, t, { bindingLimit: limit, alignment });
    assert.ok(chunks.length > 1, "expected several chunks");
    let next = 0;
    for (const ch of chunks) {
      assert.equal(ch.r0, next);
      next = ch.r1;
      assert.ok(ch.cc === c || ch.nn === 1, "a chunk is whole samples or one sample's channels");
      t.forEach((tensor, i) => {
        const w = ch.windows[i];
        assert.ok(!(w.binding instanceof GPUBuffer), "chunks bind ranges");
        const { offset, size } = w.binding as { offset: number; size: number };
        assert.equal(offset % alignment, 0, "window offset is aligned");
        assert.ok(size <= limit, `window of ${size} bytes exceeds ${limit}`);
        const vec = tensor.vec ?? 1;
        const P = tensor.plane / vec;
        const k = offset / (4 * vec);
        for (let nn = 0; nn < ch.nn; nn++) {
          for (let cc = 0; cc < ch.cc; cc++) {
            const row = (ch.n0 + nn) * tensor.cTot + tensor.cOff + ch.c0 + cc;
            const want = row * P - k; // index of the row's first element in the window
            assert.ok(want >= 0 && (want + P) * 4 * vec <= size, "row inside the window");
            const absR = (ch.n0 + nn) * tensor.cTot + ch.c0 + cc;
            assert.equal(u32Base(absR, w.offAbs, P), want, "absolute addressing");
            assert.equal(u32Base(nn * tensor.cTot + cc, w.offRel, P), want, "relative addressing");
          }
        }
      });
    }
    assert.equal(next, n * c);
  }
  // Whole op fits: one chunk, whole buffer bound, offsets unchanged.
  const small = rt.createBuffer(4096);
  const one = rowChunks("test", 2, 2, [{ buffer: small, cTot: 3, cOff: 1, plane: 100 }], {
    bindingLimit: 1 << 20,
    alignment: 256,
  });
  assert.equal(one.length, 1);
  assert.equal(one[0].windows[0].binding, small);
  assert.equal(one[0].windows[0].offAbs, 1);
  // One row beyond the limit.
  assert.throws(
    () =>
      rowChunks("test", 1, 2, [{ buffer, cTot: 2, cOff: 0, plane: 600 }], {
        bindingLimit: 2048,
        alignment: 256,
      }),
    RangeError,
  );
  buffer.destroy();
  small.destroy();
});
