import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { Region } from "../../src/core/map.js";
import { checkPriorityFormat, prioritize, priorityWindow } from "../../src/pipeline/priority.js";
import { openImage } from "../../src/sources/image.js";
import { BufferSource } from "../helpers/buffer-source.js";
import { scratchDir } from "../helpers/cli.js";
import { writeImageFile } from "../helpers/image.js";

const scratch = scratchDir();
after(scratch.cleanup);
const ram = (start: bigint, length: number): Region => ({
  start,
  length,
  readable: true,
  kind: "System RAM",
});

test("prioritize cuts regions at the spans and puts the parts inside them first, each in address order", () => {
  const map = [ram(0x1000n, 0x9f000), ram(0x100000n, 0x7ff00000)];
  const spans = [
    { start: 0x2000000n, length: 0x1000000, name: "Kernel code" },
    { start: 0x3000000n, length: 0x800000, name: "Kernel rodata" },
  ];
  const { ordered, first } = prioritize(map, spans);
  assert.deepEqual(
    ordered.map((r) => [r.start, r.length, r.kind]),
    [
      [0x2000000n, 0x1000000, "System RAM (Kernel code)"],
      [0x3000000n, 0x800000, "System RAM (Kernel rodata)"],
      [0x1000n, 0x9f000, "System RAM"],
      [0x100000n, 0x1f00000, "System RAM"],
      [0x3800000n, 0x80000000 - 0x3800000, "System RAM"],
    ],
  );
  assert.equal(first.length, 2);
  assert.equal(
    ordered.reduce((n, r) => n + r.length, 0),
    map.reduce((n, r) => n + r.length, 0),
    "every byte planned once",
  );
});

test("only formats that can store ranges out of order take --priority", () => {
  for (const format of ["elf", "raw"]) assert.doesNotThrow(() => checkPriorityFormat(format));
  for (const format of ["lime", "padded", "avml"])
    assert.throws(() => checkPriorityFormat(format), /cannot store/);
});

for (const format of ["elf", "raw"]) {
  test(`${format}: the priority part is read and stored first, and the image reads back as memory`, async () => {
    const low = Buffer.alloc(3 * 4096, 0x11);
    const high = Buffer.from(Array.from({ length: 4 * 4096 }, (_, i) => i & 0xff));
    const source = new BufferSource([
      { start: 0x1000n, bytes: low },
      { start: 0x10000n, bytes: high },
    ]);
    const { ordered, first } = prioritize(await source.map(), [
      { start: 0x11000n, length: 0x2000, name: "Kernel code" },
    ]);
    const path = scratch.path(`priority.${format}`);
    const { result, bytes } = await writeImageFile(source, format, path, { map: ordered, blockSize: 4096 });
    assert.equal(result.status, "complete");
    assert.equal(result.blocks[0]?.address, 0x11000n, "the kernel part is read first");
    const window = priorityWindow(first, result.ranges);
    assert.equal(window?.set[0]?.kind, "System RAM (Kernel code)");
    const last = result.ranges.at(-1);
    assert.ok(last && window && window.window.durationMs <= last.lastReadMs);
    if (format === "raw")
      assert.deepEqual(bytes.subarray(0, 0x2000), high.subarray(0x1000, 0x3000), "stored first");
    const opened = await openImage(path);
    try {
      const read = async (address: bigint, length: number) => {
        const into = Buffer.alloc(length);
        let done = 0;
        while (done < length) done += await opened.source.read(address + BigInt(done), into.subarray(done));
        return into;
      };
      assert.deepEqual(await read(0x1000n, low.length), low);
      assert.deepEqual(await read(0x10000n, high.length), high);
    } finally {
      await opened.source.close();
    }
  });
}
