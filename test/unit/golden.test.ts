// Golden vectors written by hand from shared/docs/formats.md: a two-range image in LiME, padded, raw and ELF.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { BufferSource } from "../helpers/buffer-source.js";
import { scratchDir } from "../helpers/cli.js";
import { hexBytes, writeImageFile } from "../helpers/image.js";

const A = hexBytes("00 11 22 33 44 55 66 77"); // 8 bytes at 0x1000
const B = hexBytes("de ad be ef"); // 4 bytes at 0x3000
const twoRanges = () =>
  new BufferSource([
    { start: 0x1000n, bytes: A },
    { start: 0x3000n, bytes: B },
  ]);
const scratch = scratchDir();
after(scratch.cleanup);

describe("LiME v1", () => {
  test("two ranges, byte by byte: magic EMiL, version 1, inclusive end address, zero padding", async () => {
    const { bytes } = await writeImageFile(twoRanges(), "lime", scratch.path("two.lime"));
    const expected = hexBytes(`
      45 4d 69 4c  01 00 00 00  00 10 00 00 00 00 00 00  07 10 00 00 00 00 00 00  00 00 00 00 00 00 00 00
      00 11 22 33 44 55 66 77
      45 4d 69 4c  01 00 00 00  00 30 00 00 00 00 00 00  03 30 00 00 00 00 00 00  00 00 00 00 00 00 00 00
      de ad be ef`);
    assert.deepEqual(bytes, expected);
  });

  test("a range of one byte has end address equal to its start", async () => {
    const source = new BufferSource([{ start: 0x7000n, bytes: hexBytes("ab") }]);
    const { bytes } = await writeImageFile(source, "lime", scratch.path("one.lime"));
    assert.equal(bytes.readBigUInt64LE(8), 0x7000n);
    assert.equal(bytes.readBigUInt64LE(16), 0x7000n);
    assert.equal(bytes.length, 33);
  });

  test("an unreadable page is left out: the record splits around it", async () => {
    const ram = Buffer.alloc(3 * 4096, 0x5a);
    const source = new BufferSource([{ start: 0x100000n, bytes: ram }], [{ start: 0x101000n, length: 4096 }]);
    const { bytes, result } = await writeImageFile(source, "lime", scratch.path("hole.lime"));
    assert.equal(bytes.length, 2 * (32 + 4096));
    assert.equal(bytes.readBigUInt64LE(8), 0x100000n);
    assert.equal(bytes.readBigUInt64LE(16), 0x100fffn);
    assert.equal(bytes.readBigUInt64LE(32 + 4096 + 8), 0x102000n);
    assert.equal(bytes.readBigUInt64LE(32 + 4096 + 16), 0x102fffn);
    assert.equal(result.status, "partial");
    assert.deepEqual(
      result.unreadable.map((u) => [u.start, u.length]),
      [[0x101000n, 4096]],
    );
  });

  test("records are at most one block long, like AVML's", async () => {
    const source = new BufferSource([{ start: 0n, bytes: Buffer.alloc(10_000, 1) }]);
    const { bytes } = await writeImageFile(source, "lime", scratch.path("blocks.lime"), { blockSize: 4096 });
    const starts = [0, 32 + 4096, 2 * (32 + 4096)].map((o) => bytes.readBigUInt64LE(o + 8));
    assert.deepEqual(starts, [0n, 4096n, 8192n]);
    assert.equal(bytes.readBigUInt64LE(2 * (32 + 4096) + 16), 9999n);
  });
});

describe("padded and raw", () => {
  test("padded: zeros from 0, so file offset = physical address", async () => {
    const { bytes } = await writeImageFile(twoRanges(), "padded", scratch.path("two.padded"));
    const expected = Buffer.concat([Buffer.alloc(0x1000), A, Buffer.alloc(0x3000 - 0x1008), B]);
    assert.equal(bytes.length, 0x3004);
    assert.deepEqual(bytes, expected);
  });

  test("raw: the ranges' bytes back to back", async () => {
    const { bytes } = await writeImageFile(twoRanges(), "raw", scratch.path("two.raw"));
    assert.deepEqual(bytes, hexBytes("00 11 22 33 44 55 66 77 de ad be ef"));
  });

  test("padded zero-fills an unreadable page and keeps every offset", async () => {
    const ram = Buffer.alloc(2 * 4096, 0x77);
    const source = new BufferSource([{ start: 0x2000n, bytes: ram }], [{ start: 0x2000n, length: 4096 }]);
    const { bytes } = await writeImageFile(source, "padded", scratch.path("hole.padded"));
    assert.equal(bytes.length, 0x4000);
    assert.ok(bytes.subarray(0, 0x3000).every((b) => b === 0));
    assert.ok(bytes.subarray(0x3000).every((b) => b === 0x77));
  });
});

describe("ELF physical core", () => {
  test("two ranges: ET_CORE header, PT_NOTE, PT_LOAD by p_paddr with p_filesz = p_memsz, data from 4096", async () => {
    const { bytes } = await writeImageFile(twoRanges(), "elf", scratch.path("two.elf"));
    const elfHeader = hexBytes(`
      7f 45 4c 46 02 01 01 00  00 00 00 00 00 00 00 00
      04 00 3e 00 01 00 00 00  00 00 00 00 00 00 00 00
      40 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
      00 00 00 00 40 00 38 00  03 00 00 00 00 00 00 00`);
    const note = hexBytes(`
      04 00 00 00 00 00 00 00  e8 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00`);
    const load1 = hexBytes(`
      01 00 00 00 07 00 00 00  00 10 00 00 00 00 00 00  00 00 00 00 00 00 00 00  00 10 00 00 00 00 00 00
      08 00 00 00 00 00 00 00  08 00 00 00 00 00 00 00  00 10 00 00 00 00 00 00`);
    const load2 = hexBytes(`
      01 00 00 00 07 00 00 00  08 10 00 00 00 00 00 00  00 00 00 00 00 00 00 00  00 30 00 00 00 00 00 00
      04 00 00 00 00 00 00 00  04 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00`);
    const headers = Buffer.concat([elfHeader, note, load1, load2]);
    if (process.arch === "x64") assert.deepEqual(bytes.subarray(0, headers.length), headers);
    assert.ok(
      bytes.subarray(headers.length, 4096).every((b) => b === 0),
      "zero padding up to the data",
    );
    assert.deepEqual(bytes.subarray(4096), Buffer.concat([A, B]));
  });
});
