// Any map and bytes round-trip through every format and every conversion with identical bytes and range hashes.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, test } from "node:test";
import fc from "fast-check";
import { hex } from "../../src/core/map.js";
import { formatNames } from "../../src/formats/registry.js";
import { openImage } from "../../src/sources/image.js";
import { BufferSource, type MemoryRegion } from "../helpers/buffer-source.js";
import { scratchDir } from "../helpers/cli.js";
import { writeImageFile } from "../helpers/image.js";

const scratch = scratchDir();
after(scratch.cleanup);
let counter = 0;

/** Ascending regions with gaps between them (touching regions would be one range once joined). */
const memoryArbitrary = fc
  .array(
    fc.record({
      gap: fc.integer({ min: 1, max: 20_000 }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 9_000 }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((parts) => {
    let address = 0n;
    return parts.map(({ gap, bytes }): MemoryRegion => {
      const start = address + BigInt(gap);
      address = start + BigInt(bytes.length);
      return { start, bytes };
    });
  });

async function readBack(path: string): Promise<MemoryRegion[]> {
  const { source } = await openImage(path);
  try {
    const regions: MemoryRegion[] = [];
    for (const r of await source.map()) {
      const bytes = Buffer.alloc(r.length);
      let done = 0;
      while (done < r.length) done += await source.read(r.start + BigInt(done), bytes.subarray(done));
      regions.push({ start: r.start, bytes });
    }
    return regions;
  } finally {
    await source.close();
  }
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const asComparable = (regions: MemoryRegion[]) =>
  regions.map((r) => ({ start: hex(r.start), sha256: sha(r.bytes) }));

test("every format reads back the map and bytes it was given", async () => {
  await fc.assert(
    fc.asyncProperty(
      memoryArbitrary,
      fc.constantFrom(...formatNames),
      fc.integer({ min: 1, max: 3 }),
      async (memory, format, pages) => {
        const path = scratch.path(`p${counter++}.${format}`);
        const { result } = await writeImageFile(new BufferSource(memory), format, path, {
          blockSize: pages * 4096,
        });
        assert.equal(result.status, "complete");
        assert.deepEqual(
          result.ranges.map((r) => r.sha256),
          memory.map((m) => sha(m.bytes)),
        );
        // raw and padded carry no addresses: the report beside them restores the map.
        assert.deepEqual(asComparable(await readBack(path)), asComparable(memory));
      },
    ),
    { numRuns: 40 },
  );
});

test("every conversion keeps the bytes and the per-range hashes", async () => {
  await fc.assert(
    fc.asyncProperty(
      memoryArbitrary,
      fc.constantFrom(...formatNames),
      fc.constantFrom(...formatNames),
      async (memory, from, to) => {
        const first = scratch.path(`c${counter++}.${from}`);
        const second = scratch.path(`c${counter++}.${to}`);
        const written = await writeImageFile(new BufferSource(memory), from, first);
        const opened = await openImage(first);
        const converted = await writeImageFile(opened.source, to, second);
        await opened.source.close();
        assert.equal(converted.result.status, "complete");
        assert.deepEqual(
          converted.result.ranges.map((r) => [hex(r.start), r.sha256]),
          written.result.ranges.map((r) => [hex(r.start), r.sha256]),
        );
        assert.deepEqual(asComparable(await readBack(second)), asComparable(memory));
        // Converting back gives the very same file.
        const third = scratch.path(`c${counter++}.${from}`);
        const reopened = await openImage(second);
        const back = await writeImageFile(reopened.source, from, third);
        await reopened.source.close();
        assert.equal(back.result.output.sha256, written.result.output.sha256);
      },
    ),
    { numRuns: 40 },
  );
});

test("unreadable pages stay unreadable through every conversion, and range hashes leave them out", async () => {
  const pageAligned = fc.record({
    pages: fc.integer({ min: 2, max: 6 }),
    hole: fc.nat(),
    fill: fc.integer({ min: 1, max: 255 }),
  });
  await fc.assert(
    fc.asyncProperty(
      pageAligned,
      fc.constantFrom(...formatNames),
      fc.constantFrom(...formatNames),
      async ({ pages, hole, fill }, from, to) => {
        const start = 0x10000n;
        const bytes = Buffer.alloc(pages * 4096, fill);
        const holeStart = start + BigInt((hole % pages) * 4096);
        const source = new BufferSource([{ start, bytes }], [{ start: holeStart, length: 4096 }]);
        const first = scratch.path(`h${counter++}.${from}`);
        const written = await writeImageFile(source, from, first);
        assert.equal(written.result.status, "partial");
        assert.equal(written.result.ranges[0]?.bytesRead, (pages - 1) * 4096);
        assert.equal(written.result.ranges[0]?.sha256, sha(Buffer.alloc((pages - 1) * 4096, fill)));
        const opened = await openImage(first);
        const second = scratch.path(`h${counter++}.${to}`);
        const converted = await writeImageFile(opened.source, to, second, { map: await opened.map() });
        await opened.source.close();
        assert.equal(
          converted.result.status,
          "partial",
          "the report carries the unreadable page into the new image",
        );
        assert.deepEqual(
          converted.result.unreadable.map((u) => [u.start, u.length]),
          [[holeStart, 4096]],
        );
        const allBytes = converted.result.ranges.reduce((n, r) => n + r.bytesRead, 0);
        assert.equal(allBytes, (pages - 1) * 4096, "the hole's zero fill never becomes memory");
      },
    ),
    { numRuns: 40 },
  );
});
