// Damaged AVML images: one line naming the file, the problem and the byte offset; never a silently short image.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { encodeAvmlRecord } from "../../src/formats/avml.js";
import { memimage, scratchDir } from "../helpers/cli.js";

const scratch = scratchDir();
after(scratch.cleanup);

const good = Buffer.concat(encodeAvmlRecord(0x1000n, Buffer.alloc(64, 0x61))); // 32 + 24 + 8 bytes
const chunkAt = 32 + 10; // after the header and the stream identifier

function damaged(change: (b: Buffer) => Buffer): Buffer {
  return change(Buffer.from(good));
}

const oneLine = (stderr: string) => {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  return lines[0] as string;
};

describe("AVML: damage found while reading the layout (exit 1, nothing written)", () => {
  const cases = [
    {
      name: "truncated-stream.avml",
      bytes: good.subarray(0, chunkAt + 6),
      message: /truncated: .* a snappy chunk of 10 bytes/,
      offset: chunkAt + 4,
    },
    {
      name: "no-trailer.avml",
      bytes: good.subarray(0, good.length - 3),
      message: /truncated: .*the record's trailing length/,
      offset: good.length - 8,
    },
    {
      name: "wrong-trailer.avml",
      bytes: damaged((b) => {
        b.writeBigUInt64LE(25n, b.length - 8);
        return b;
      }),
      message: /wrong trailer: .* says its snappy stream is 25 bytes, it is 24/,
      offset: good.length - 8,
    },
    {
      name: "no-stream-identifier.avml",
      bytes: Buffer.concat([good.subarray(0, 32), good.subarray(chunkAt)]),
      message: /has no stream identifier/,
      offset: 32,
    },
  ];
  for (const bad of cases) {
    test(bad.name, () => {
      const path = scratch.path(bad.name);
      writeFileSync(path, bad.bytes);
      for (const args of [
        ["info", path],
        ["convert", path, `${path}.out`, "-f", "lime"],
      ]) {
        const run = memimage(args);
        assert.equal(run.status, 1, `${args[0]}: ${run.stderr}`);
        const line = oneLine(run.stderr);
        assert.match(line, bad.message);
        assert.ok(line.startsWith(`memimage: ${path}: `), line);
        assert.ok(line.endsWith(`(at offset ${bad.offset})`), line);
      }
      assert.equal(existsSync(`${path}.out`), false);
      assert.equal(existsSync(`${path}.out.partial`), false);
    });
  }
});

describe("AVML: damage found while decoding (exit 1, the output stays .partial)", () => {
  const cases = [
    {
      name: "corrupt-block.avml",
      // the copy's offset now points 5 bytes back, before the first byte
      bytes: damaged((b) => {
        b[chunkAt + 8 + 4] = 0x05;
        return b;
      }),
      message: /corrupt snappy block: it does not decompress/,
    },
    {
      name: "bad-crc.avml",
      bytes: damaged((b) => {
        b[chunkAt + 4] = (b[chunkAt + 4] as number) ^ 1;
        return b;
      }),
      message: /snappy chunk CRC mismatch/,
    },
  ];
  for (const bad of cases) {
    test(bad.name, () => {
      const path = scratch.path(bad.name);
      writeFileSync(path, bad.bytes);
      const run = memimage(["convert", path, `${path}.out`, "-f", "lime", "-q"]);
      assert.equal(run.status, 1, run.stderr);
      const line = oneLine(run.stderr);
      assert.match(line, bad.message);
      assert.ok(line.startsWith(`memimage: ${path}: `), line);
      assert.ok(line.endsWith(`(at offset ${chunkAt})`), line);
      assert.equal(existsSync(`${path}.out`), false, "never a complete image");
      assert.equal(existsSync(`${path}.out.partial`), true);
    });
  }
});
