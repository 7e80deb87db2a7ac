// Golden vectors for AVML compressed, written by hand from shared/docs/formats.md and the Snappy framing format:
// the header, the stream identifier chunk, one chunk with its masked CRC-32C, the trailing length.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { encodeAvmlRecord } from "../../src/formats/avml.js";
import { encodeFramed, maskedCrc32c } from "../../src/formats/snappy-frame.js";
import { openImage } from "../../src/sources/image.js";
import { BufferSource } from "../helpers/buffer-source.js";
import { scratchDir } from "../helpers/cli.js";
import { hexBytes, writeImageFile } from "../helpers/image.js";

const scratch = scratchDir();
after(scratch.cleanup);

/** Bit by bit, from the polynomial (Castagnoli, reflected 0x82f63b78): a check on the library, not a copy of it. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// Four bytes at 0x1000: compression would not save 1/8, so one *uncompressed* chunk (type 0x01).
const A = hexBytes("01 02 03 04");
const recordA = hexBytes(`
  41 56 4d 4c  02 00 00 00  00 10 00 00 00 00 00 00  03 10 00 00 00 00 00 00  00 00 00 00 00 00 00 00
  ff 06 00 00  73 4e 61 50 70 59
  01 08 00 00  39 3d 6b bc  01 02 03 04
  16 00 00 00 00 00 00 00`);
// 64 x "a" at 0x2000: one *compressed* chunk (type 0x00): length 64 (varint 0x40), literal "a", copy 63 from 1 back.
const B = Buffer.alloc(64, 0x61);
const recordB = hexBytes(`
  41 56 4d 4c  02 00 00 00  00 20 00 00 00 00 00 00  3f 20 00 00 00 00 00 00  00 00 00 00 00 00 00 00
  ff 06 00 00  73 4e 61 50 70 59
  00 0a 00 00  35 5a e9 7e  40 00 61 fa 01 00
  18 00 00 00 00 00 00 00`);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("Snappy framing", () => {
  test("CRC-32C check value of 123456789 is 0xe3069283, and the library agrees with the bitwise reference", () => {
    const check = Buffer.from("123456789");
    assert.equal(referenceCrc32c(check), 0xe3069283);
    for (const data of [A, B, Buffer.alloc(70_000, 7)]) {
      const crc = referenceCrc32c(data);
      assert.equal(maskedCrc32c(data), (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
    }
  });

  test("data longer than 64 KiB is cut into chunks of at most 65536 bytes", () => {
    const framed = encodeFramed(Buffer.alloc(65537, 1));
    // stream identifier, a compressed chunk of 65536, then one of 1 byte stored uncompressed
    assert.equal(framed[10], 0x00);
    const second = 10 + 4 + framed.readUIntLE(11, 3);
    assert.deepEqual([...framed.subarray(second, second + 4)], [0x01, 0x05, 0x00, 0x00]);
    assert.equal(framed.length, second + 4 + 5);
  });
});

describe("AVML compressed", () => {
  test("a record byte by byte: magic AVML, version 2, inclusive end, stream identifier, chunk, trailing length", () => {
    assert.deepEqual(Buffer.concat(encodeAvmlRecord(0x1000n, A)), recordA);
    assert.deepEqual(Buffer.concat(encodeAvmlRecord(0x2000n, B)), recordB);
  });

  test("the pipeline writes exactly the hand-written records", async () => {
    const source = new BufferSource([
      { start: 0x1000n, bytes: A },
      { start: 0x2000n, bytes: B },
    ]);
    const { bytes } = await writeImageFile(source, "avml", scratch.path("two.avml"));
    assert.deepEqual(bytes, Buffer.concat([recordA, recordB]));
  });

  test("the hand-written file reads back as two ranges with their bytes", async () => {
    const path = scratch.path("hand.avml");
    writeFileSync(path, Buffer.concat([recordA, recordB]));
    const { source, format } = await openImage(path);
    try {
      assert.equal(format.name, "avml");
      const map = await source.map();
      assert.deepEqual(
        map.map((r) => [r.start, r.length]),
        [
          [0x1000n, 4],
          [0x2000n, 64],
        ],
      );
      const out = Buffer.alloc(64);
      assert.equal(await source.read(0x2000n, out), 64);
      assert.deepEqual(out, B);
      assert.equal(await source.read(0x1002n, out.subarray(0, 2)), 2);
      assert.deepEqual(out.subarray(0, 2), hexBytes("03 04"));
    } finally {
      await source.close();
    }
  });

  test("an all-zero block is left out, as AVML does; the report's map brings it back as zeros", async () => {
    const ram = Buffer.alloc(3 * 4096, 0x11);
    ram.fill(0, 4096, 8192);
    const path = scratch.path("zeros.avml");
    const { bytes, result } = await writeImageFile(
      new BufferSource([{ start: 0x100000n, bytes: ram }]),
      "avml",
      path,
      { blockSize: 4096 },
    );
    assert.equal(result.status, "complete");
    assert.equal(bytes.readBigUInt64LE(8), 0x100000n);
    const opened = await openImage(path);
    try {
      const map = await opened.map();
      assert.deepEqual(
        map.map((r) => [r.start, r.length]),
        [[0x100000n, 3 * 4096]],
      );
      const back = Buffer.alloc(3 * 4096, 0xff);
      for (let done = 0; done < back.length; )
        done += await opened.source.read(0x100000n + BigInt(done), back.subarray(done));
      assert.equal(sha(back), result.ranges[0]?.sha256);
    } finally {
      await opened.source.close();
    }
    rmSync(`${path}.report.json`);
    const alone = await openImage(path);
    try {
      assert.deepEqual(
        (await alone.source.map()).map((r) => [r.start, r.length]),
        [
          [0x100000n, 4096],
          [0x102000n, 4096],
        ],
        "without the report, a left-out record is a gap (as in AVML's own images)",
      );
    } finally {
      await alone.source.close();
    }
  });

  test("records cut from one range at any size join again into one range", async () => {
    const path = scratch.path("cut.avml");
    const data = Buffer.alloc(10_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const cut = [0, 3000, 7777, 10_000];
    const records = cut.slice(1).map((end, i) => {
      const from = cut[i] as number;
      return Buffer.concat(encodeAvmlRecord(0x5000n + BigInt(from), data.subarray(from, end)));
    });
    writeFileSync(path, Buffer.concat(records));
    const { source } = await openImage(path);
    try {
      assert.deepEqual(
        (await source.map()).map((r) => [r.start, r.length]),
        [[0x5000n, 10_000]],
      );
      const back = Buffer.alloc(10_000);
      for (let done = 0; done < back.length; )
        done += await source.read(0x5000n + BigInt(done), back.subarray(done));
      assert.deepEqual(back, data);
    } finally {
      await source.close();
    }
  });
});
