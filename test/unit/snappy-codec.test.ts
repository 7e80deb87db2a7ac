// native/snappy.c (libsnappy) against the npm `snappy` package it replaces: the same raw blocks byte for byte, so
// AVML output does not depend on which one was built; and its CRC-32C against @node-rs/crc32's. On CI the addon must be there (.ci/run installs libsnappy-dev).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { loadAddon } from "../../src/core/native.js";
import { blockCodec, MAX_CHUNK_DATA } from "../../src/formats/snappy-frame.js";

interface NativeSnappy {
  compress(input: Uint8Array, output: Uint8Array): number;
  uncompress(input: Uint8Array, output: Uint8Array): number;
  maxCompressedLength(length: number): number;
  crc32c(input: Uint8Array): number;
}
const { binding: addon, problem } = loadAddon<NativeSnappy>("memimage_snappy");
const npm = createRequire(import.meta.url)("snappy") as typeof import("snappy");
const npmCrc = createRequire(import.meta.url)("@node-rs/crc32") as typeof import("@node-rs/crc32");

const text = Buffer.from("memory image ".repeat(6000)).subarray(0, MAX_CHUNK_DATA);
const mixed = Buffer.concat([randomBytes(20_000), Buffer.alloc(20_000), text.subarray(0, 25_536)]);
const inputs: [string, Buffer][] = [
  ["empty", Buffer.alloc(0)],
  ["one byte", Buffer.from([7])],
  ["random 64 KiB", randomBytes(MAX_CHUNK_DATA)],
  ["zeros 64 KiB", Buffer.alloc(MAX_CHUNK_DATA)],
  ["text 64 KiB", text],
  ["mixed 64 KiB", mixed],
];

describe("snappy addon (libsnappy)", () => {
  test("is built (on CI)", { skip: !addon && !process.env.CI ? problem : false }, () => {
    assert.ok(addon, problem);
  });

  test("compresses to the npm package's bytes and back", { skip: !addon && "addon not built" }, () => {
    const a = addon as NativeSnappy;
    const out = Buffer.alloc(a.maxCompressedLength(MAX_CHUNK_DATA));
    const back = Buffer.alloc(MAX_CHUNK_DATA);
    for (const [name, input] of inputs) {
      const length = a.compress(input, out);
      assert.deepEqual(out.subarray(0, length), npm.compressSync(input), name);
      assert.equal(a.uncompress(out.subarray(0, length), back), input.length, name);
      assert.deepEqual(back.subarray(0, input.length), input, name);
    }
  });

  test("refuses a short output and a corrupt block", { skip: !addon && "addon not built" }, () => {
    const a = addon as NativeSnappy;
    assert.throws(() => a.compress(Buffer.alloc(100), Buffer.alloc(10)), RangeError);
    const block = npm.compressSync(text) as Buffer;
    assert.equal(a.uncompress(block.subarray(0, block.length - 3), Buffer.alloc(MAX_CHUNK_DATA)), -1);
    assert.equal(a.uncompress(block, Buffer.alloc(100)), -1, "a block larger than the output");
  });

  test("CRC-32C: the check value, and @node-rs/crc32's at every length and alignment", {
    skip: !addon && "addon not built",
  }, () => {
    const a = addon as NativeSnappy;
    assert.equal(a.crc32c(Buffer.from("123456789")), 0xe3069283);
    assert.equal(a.crc32c(Buffer.alloc(0)), 0);
    const bytes = randomBytes(70_000);
    for (let length = 0; length < 40; length++)
      for (let offset = 0; offset < 9; offset++) {
        const piece = bytes.subarray(offset, offset + length);
        assert.equal(a.crc32c(piece), npmCrc.crc32c(piece), `length ${length} at ${offset}`);
      }
    for (const [name, input] of inputs) assert.equal(a.crc32c(input), npmCrc.crc32c(input), name);
  });

  test("the framing code uses it when built", () => {
    assert.match(blockCodec().name, addon ? /libsnappy/ : /npm/);
  });
});
