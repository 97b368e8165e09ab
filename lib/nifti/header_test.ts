// Hand-made malformed headers: each check of parseNiftiHeader / readNifti fails with a clear
// error naming the file, without hanging or allocating what the header claims.

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  baseAffine,
  parseNiftiHeader,
  qformAffine,
  qformFromAffine,
  readNifti,
  writeNifti,
} from "./mod.ts";

function valid(): Uint8Array {
  const data = new Int16Array(27).map((_, i) => i - 13);
  return writeNifti({ shape: [3, 3, 3], data }).slice();
}

function mutate(edit: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const b = valid();
  edit(new DataView(b.buffer, b.byteOffset, b.byteLength), b);
  return b;
}

function rejects(bytes: Uint8Array, pattern: RegExp, type: ErrorConstructor = SyntaxError): void {
  assert.throws(
    () => readNifti(bytes, { name: "case.nii" }),
    (err: Error) => {
      assert.ok(err instanceof type, `${err.constructor.name}: ${err.message}`);
      assert.match(err.message, /case\.nii/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

Deno.test("the hand-made base file is valid", () => {
  const img = readNifti(valid());
  assert.deepEqual(img.shape, [3, 3, 3]);
  assert.equal(img.data[0], -13);
});

Deno.test("readNifti rejects a file shorter than a header", () => {
  rejects(valid().subarray(0, 200), /200 bytes, shorter than a 348-byte/);
});

Deno.test("readNifti rejects a .hdr/.img pair magic and a wrong magic", () => {
  rejects(mutate((_, b) => b.set([0x6e, 0x69, 0x31, 0], 344)), /"ni1" \(a \.hdr\/\.img pair\)/);
  rejects(mutate((_, b) => b.set([0x6e, 0x2b, 0x33, 0], 344)), /magic is "n\+3\\0"/);
});

Deno.test("readNifti rejects dim[0] outside 1..7 and non-positive dims", () => {
  rejects(mutate((v) => v.setInt16(40, 0, true)), /dim\[0\] is 0/);
  rejects(mutate((v) => v.setInt16(40, 8, true)), /dim\[0\] is 8/);
  rejects(mutate((v) => v.setInt16(44, -1, true)), /dim\[2\] is -1/);
});

Deno.test("readNifti rejects unknown datatypes and a bitpix that does not match", () => {
  rejects(mutate((v) => v.setInt16(70, 3, true)), /datatype code 3 is not a NIfTI datatype/);
  rejects(mutate((v) => v.setInt16(72, 8, true)), /bitpix is 8 but datatype int16 \(4\) needs 16/);
});

Deno.test("readNifti rejects vox_offset inside the header, NaN or negative", () => {
  rejects(mutate((v) => v.setFloat32(108, 100, true)), /vox_offset is 100/);
  rejects(mutate((v) => v.setFloat32(108, NaN, true)), /vox_offset is NaN/);
  rejects(mutate((v) => v.setFloat32(108, -4e28, true)), /vox_offset is -3\.99/);
});

Deno.test("readNifti rejects truncated data and huge dims without allocating them", () => {
  const b = valid();
  rejects(b.subarray(0, b.length - 1), /need 54/);
  // 32767³ int16 voxels would be 70 TB: refused from the header alone.
  rejects(mutate((v) => [42, 44, 46].forEach((o) => v.setInt16(o, 32767, true))), /need/);
});

Deno.test("readNifti rejects a broken extension chain instead of looping", () => {
  const hdr = valid().subarray(0, 352);
  const bytes = new Uint8Array(352 + 32 + 54);
  bytes.set(hdr);
  const v = new DataView(bytes.buffer);
  v.setFloat32(108, 384, true);
  bytes[348] = 1;
  v.setInt32(352, -16, true); // a negative esize would walk backwards forever
  rejects(bytes, /extension at byte 352 has esize -16/);
  v.setInt32(352, 48, true); // past vox_offset
  rejects(bytes, /esize 48, beyond vox_offset 384/);
});

Deno.test("readNifti rejects corrupt or truncated gzip and gzip bombs", () => {
  const gz = gzipSync(valid());
  rejects(gz.subarray(0, gz.length - 10), /Cannot decompress NIfTI case\.nii/);
  const bomb = gzipSync(new Uint8Array(1 << 20));
  assert.throws(
    () => readNifti(bomb, { name: "case.nii", maxBytes: 1 << 16 }),
    (err: Error) => err instanceof RangeError && /exceed the limit of 65536/.test(err.message),
  );
});

Deno.test("readNifti rejects a quaternion with norm above 1 when the qform is used", () => {
  rejects(
    mutate((v) => {
      v.setInt16(254, 0, true); // sform_code 0 → qform
      v.setInt16(252, 1, true);
      v.setFloat32(256, 0.9, true);
      v.setFloat32(260, 0.9, true);
    }),
    /quaternion .* has norm > 1/,
  );
});

Deno.test("readNifti rejects binary and float128 datatypes with a TypeError", () => {
  rejects(
    mutate((v) => {
      v.setInt16(70, 1536, true);
      v.setInt16(72, 128, true);
      [42, 44, 46].forEach((o) => v.setInt16(o, 1, true)); // one 16-byte voxel fits
    }),
    /float128 \(1536\) is not a real scalar/,
    TypeError,
  );
});

Deno.test("parseNiftiHeader reads a big-endian header", () => {
  // Byte-swap every field of a little-endian header by hand for the fields we check.
  const le = valid();
  const be = le.slice();
  const lv = new DataView(le.buffer);
  const bv = new DataView(be.buffer);
  bv.setInt32(0, 348, false);
  for (let o = 40; o < 56; o += 2) bv.setInt16(o, lv.getInt16(o, true), false);
  for (const o of [68, 70, 72, 74, 120, 252, 254]) bv.setInt16(o, lv.getInt16(o, true), false);
  for (let o = 76; o < 148; o += 4) {
    if (o === 120) continue;
    bv.setFloat32(o, lv.getFloat32(o, true), false);
  }
  bv.setInt16(120, lv.getInt16(120, true), false);
  for (let o = 256; o < 328; o += 4) bv.setFloat32(o, lv.getFloat32(o, true), false);
  for (let o = 352; o < be.length; o += 2) bv.setInt16(o, lv.getInt16(o, true), false);
  const { header } = parseNiftiHeader(be, "be.nii");
  assert.equal(header.littleEndian, false);
  assert.deepEqual(readNifti(be).data, readNifti(le).data);
});

Deno.test("baseAffine flips x and centres the grid like nibabel", () => {
  const { header } = parseNiftiHeader(valid(), "x");
  header.pixdim = [1, 2, 3, 4, 0, 0, 0, 0];
  // origin (s − 1)/2 = 1 voxel: x → −(1)(−2) = 2, y → −3, z → −4
  assert.deepEqual(baseAffine(header), [[-2, 0, 0, 2], [0, 3, 0, -3], [0, 0, 4, -4], [0, 0, 0, 1]]);
});

Deno.test("qformFromAffine inverts qformAffine for rotations with either handedness", () => {
  const c = Math.cos(0.3), s = Math.sin(0.3);
  for (const flip of [1, -1]) {
    const affine = [
      [1.5 * c, -2 * s, 0, 10],
      [1.5 * s, 2 * c, 0, -20],
      [0, 0, 3 * flip, 5],
      [0, 0, 0, 1],
    ];
    const q = qformFromAffine(affine);
    assert.equal(q.qfac, flip);
    const { header } = parseNiftiHeader(valid(), "x");
    Object.assign(header, {
      quaternB: q.b,
      quaternC: q.c,
      quaternD: q.d,
      qoffsetX: q.offset[0],
      qoffsetY: q.offset[1],
      qoffsetZ: q.offset[2],
      pixdim: [q.qfac, ...q.zooms, 0, 0, 0, 0],
    });
    const back = qformAffine(header);
    for (let r = 0; r < 4; r++) {
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(back[r][k] - affine[r][k]) < 1e-12);
    }
  }
});
