import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { after, test } from "node:test";
import { DirectWriter } from "../../src/sinks/direct-writer.js";
import { FileSink } from "../../src/sinks/file.js";
import { scratchDir } from "../helpers/cli.js";

const scratch = scratchDir();
after(scratch.cleanup);

/** Bytes that differ at every offset, so a piece written at the wrong place shows. */
function pattern(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return out;
}

test("O_DIRECT staging: unaligned pieces of every size land in order, the tail through the ordinary descriptor", async (t) => {
  const path = scratch.path("direct.bin");
  const handle = await open(path, "wx", 0o600);
  const direct = await DirectWriter.attach(path);
  if (!direct) {
    await handle.close();
    t.skip(`the filesystem of ${scratch.path("")} refuses O_DIRECT`);
    return;
  }
  // Sizes chosen to straddle the 256 KiB stages and the 4 KiB alignment: a LiME-like 32-byte header, odd sizes,
  // several stages at once.
  const sizes = [32, 2 << 20, 1, 4095, 4097, 512 << 10, 3 * (512 << 10) + 17, 0, 100_000, 32, 2 << 20, 5];
  const pieces = sizes.map((size, i) => pattern(size, i));
  let taken = 0;
  for (const piece of pieces) {
    // The caller may reuse its buffer once write() resolves: scribble over it to prove the bytes were copied.
    const copy = Buffer.from(piece);
    await direct.write(copy);
    copy.fill(0xee);
    taken += piece.length;
    assert.ok(direct.unwritten <= 1 << 20, `at most the staging is unwritten (${direct.unwritten})`);
    assert.ok(direct.unwritten >= 0);
  }
  await direct.flush(handle);
  assert.equal(direct.unwritten, 0);
  await direct.close();
  await handle.close();
  const expected = Buffer.concat(pieces);
  const written = readFileSync(path);
  assert.equal(written.length, taken);
  assert.equal(
    createHash("sha256").update(written).digest("hex"),
    createHash("sha256").update(expected).digest("hex"),
  );
});

test("FileSink: an image written through O_DIRECT is the same as one written through the page cache", async () => {
  const pieces = [32, 2 << 20, 32, (2 << 20) - 4096 + 3, 7].map((size, i) => pattern(size, i + 40));
  const write = async (name: string) => {
    const sink = await FileSink.create(scratch.path(name), { direct: true });
    for (const piece of pieces) await sink.write(piece);
    await sink.writeZeros(12_345);
    const result = await sink.finish();
    return { result, bytes: readFileSync(scratch.path(name)) };
  };
  const direct = await write("direct.img");
  process.env.MEMIMAGE_NO_DIRECT_IO = "1";
  const buffered = await write("buffered.img").finally(() => {
    delete process.env.MEMIMAGE_NO_DIRECT_IO;
  });
  assert.equal(direct.result.bytes, buffered.result.bytes);
  assert.ok(direct.bytes.equals(buffered.bytes));
  assert.ok(direct.bytes.subarray(-12_345).equals(Buffer.alloc(12_345)));
});
