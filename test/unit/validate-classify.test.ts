// validate's page classes, on tiny images written by hand: a LiME file (headers from the LiME spec) and raw and
// padded files laid out as LiME writes them, compared with two hand-made "dumps" of a six-and-a-bit page RAM.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after as cleanup, describe, test } from "node:test";
import { validate as validateXml } from "fast-xml-parser";
import type { Span } from "../../src/core/map.js";
import {
  classifyPage,
  classifyPages,
  frameCount,
  markChanges,
  PAGE,
  PageClass,
} from "../../src/validate/classify.js";
import { renderHtml } from "../../src/validate/html.js";
import type { RunResult } from "../../src/validate/measure.js";
import { pagesPerCell, renderPicture } from "../../src/validate/picture.js";
import { spread, summarise } from "../../src/validate/summary.js";
import { openToolImage } from "../../src/validate/tool-image.js";
import { toolSpec } from "../../src/validate/tools.js";
import { BufferSource } from "../helpers/buffer-source.js";

const page = (byte: number, size = PAGE) => Buffer.alloc(size, byte);

/** A LiME record: magic "EMiL" (0x4C694D45), version 1, first and inclusive last address, 8 zero bytes. */
function limeRecord(start: number, bytes: Buffer): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0x4c694d45, 0);
  header.writeUInt32LE(1, 4);
  header.writeBigUInt64LE(BigInt(start), 8);
  header.writeBigUInt64LE(BigInt(start + bytes.length - 1), 16);
  return Buffer.concat([header, bytes]);
}

// System RAM: six pages at 0x1000, and 3 KiB at 0x10000 (a range ending mid-page, as 0x9fc00 does on a PC).
const ram: Span[] = [
  { start: 0x1000n, length: 6 * PAGE },
  { start: 0x10000n, length: 3072 },
];
const before = [1, 2, 3, 4, 5, 6].map((b) => page(b));
// Pages 2, 3 and 4 (0x2000-0x4fff) changed during the window; the rest did not.
const after = [page(1), page(0x82), page(0x83), page(0x84), page(5), page(6)];
const tail = page(0x20, 3072);
const dumpBefore = new BufferSource([
  { start: 0x1000n, bytes: Buffer.concat(before) },
  { start: 0x10000n, bytes: tail },
]);
const dumpAfter = new BufferSource([
  { start: 0x1000n, bytes: Buffer.concat(after) },
  { start: 0x10000n, bytes: tail },
]);
const flipped = Buffer.from(page(5));
flipped[100] = 0xff;
// What the imager wrote: page 1 as both, page 2 as before, page 3 as after, page 4 neither, page 5 with one byte
// flipped, page 6 left out; the tail as both.
const imaged = Buffer.concat([page(1), page(2), page(0x83), page(0x99), flipped]);

const dir = await mkdtemp(join(tmpdir(), "memimage-validate-"));
cleanup(() => rm(dir, { recursive: true, force: true }));

describe("a page's class", () => {
  const b = page(1);
  const a = page(2);
  test("identical to both dumps", () => assert.equal(classifyPage(b, b, b), PageClass.identical));
  test("as before only, or as after only: smear", () => {
    assert.equal(classifyPage(b, b, a), PageClass.before);
    assert.equal(classifyPage(a, b, a), PageClass.after);
  });
  test("neither, where the dumps differ: changed during the window", () =>
    assert.equal(classifyPage(page(3), b, a), PageClass.between));
  test("neither, where the dumps agree: an error", () =>
    assert.equal(classifyPage(page(3), b, b), PageClass.error));
});

describe("classifying a hand-written LiME image against two dumps", () => {
  test("each page in its class; the partial page at a range's end compared on its bytes", async () => {
    const path = join(dir, "image.lime");
    await writeFile(path, Buffer.concat([limeRecord(0x1000, imaged), limeRecord(0x10000, tail)]));
    const image = await openToolImage(path, ram);
    try {
      assert.equal(image.format, "lime");
      assert.deepEqual(image.stored, [
        { start: 0x1000n, length: 5 * PAGE },
        { start: 0x10000n, length: 3072 },
      ]);
      const c = await classifyPages(image, dumpBefore, dumpAfter, ram);
      assert.deepEqual(c.counts, {
        outside: 0,
        identical: 2,
        before: 1,
        after: 1,
        between: 1,
        declared: 0,
        missing: 1,
        error: 1,
      });
      assert.equal(c.changedPages, 3);
      assert.equal(c.bytesInImage, 5 * PAGE + 3072);
      assert.equal(c.bytesCompared, 6 * PAGE + 3072);
      assert.deepEqual([...c.classes], [0, 1, 2, 3, 4, 7, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
      assert.deepEqual(c.examples, { missing: ["0x6000"], error: ["0x5000"] });
    } finally {
      await image.source.close();
    }
  });

  test("a dump taken during the window turns an error into a change undone by the end", async () => {
    const path = join(dir, "image3.lime");
    // Page 5 (0x5000) as the imager read it while it was changed: a dump during the window saw that change.
    await writeFile(path, Buffer.concat([limeRecord(0x1000, imaged), limeRecord(0x10000, tail)]));
    const meanwhile = new BufferSource([
      { start: 0x1000n, bytes: Buffer.concat([page(1), page(2), page(3), page(4), flipped, page(6)]) },
      { start: 0x10000n, bytes: tail },
    ]);
    const changed = new Uint8Array(frameCount(ram));
    await markChanges(dumpBefore, meanwhile, ram, changed);
    assert.deepEqual([...changed.subarray(0, 8)], [0, 0, 0, 0, 0, 1, 0, 0]);
    const image = await openToolImage(path, ram);
    try {
      const c = await classifyPages(image, dumpBefore, dumpAfter, ram, { sampled: changed });
      assert.equal(c.counts.error, 0);
      assert.equal(c.counts.between, 2);
      assert.equal(c.changedPages, 4);
      assert.equal(c.writtenPages, undefined, "no write log, no figure");
    } finally {
      await image.source.close();
    }
  });

  test("the write log turns an error into a change undone by the end, and counts what it did not see", async () => {
    const path = join(dir, "image4.lime");
    await writeFile(path, Buffer.concat([limeRecord(0x1000, imaged), limeRecord(0x10000, tail)]));
    // Stores seen at 0x1000 (same bytes written again: identical stays identical) and at 0x5000 (undone by the
    // end); none at 0x2000-0x4fff, which the dumps show changed.
    const written = new Uint8Array(frameCount(ram));
    written[1] = 1;
    written[5] = 1;
    const image = await openToolImage(path, ram);
    try {
      const c = await classifyPages(image, dumpBefore, dumpAfter, ram, { written });
      assert.equal(c.counts.error, 0);
      assert.equal(c.counts.identical, 2);
      assert.equal(c.counts.between, 2, "0x4000 (dumps differ) and 0x5000 (written)");
      assert.equal(c.changedPages, 3, "content changes only: the dumps differ at 0x2000-0x4fff");
      assert.equal(c.writtenPages, 2);
      assert.equal(c.changedUnlogged, 3, "0x2000-0x4fff changed without a store in the log");
      // Without the store at 0x5000, the flipped byte there is an error again.
      written[5] = 0;
      const again = await classifyPages(image, dumpBefore, dumpAfter, ram, { written });
      assert.equal(again.counts.error, 1);
      assert.deepEqual(again.examples.error, ["0x5000"]);
    } finally {
      await image.source.close();
    }
  });

  test("a page the imager declared unreadable is declared, not missing", async () => {
    const path = join(dir, "image2.lime");
    await writeFile(path, Buffer.concat([limeRecord(0x1000, imaged), limeRecord(0x10000, tail)]));
    const image = await openToolImage(path, ram);
    try {
      const c = await classifyPages(
        { ...image, declared: [{ start: 0x6000n, length: PAGE }] },
        dumpBefore,
        dumpAfter,
        ram,
      );
      assert.equal(c.counts.missing, 0);
      assert.equal(c.counts.declared, 1);
    } finally {
      await image.source.close();
    }
  });
});

describe("headerless images without a report are read as LiME lays them out", () => {
  const whole = Buffer.concat([...before, tail]);
  test("raw: System RAM's ranges back to back; every page identical where nothing changed", async () => {
    const path = join(dir, "image.raw");
    await writeFile(path, whole);
    const image = await openToolImage(path, ram, "raw");
    try {
      const c = await classifyPages(image, dumpBefore, dumpBefore, ram);
      assert.equal(c.counts.identical, 7);
      assert.equal(c.bytesInImage, 6 * PAGE + 3072);
    } finally {
      await image.source.close();
    }
  });

  test("padded: file offset = address; the zeros between ranges are not compared", async () => {
    const path = join(dir, "image.padded");
    const file = Buffer.alloc(0x10000 + 3072);
    Buffer.concat(before).copy(file, 0x1000);
    tail.copy(file, 0x10000);
    await writeFile(path, file);
    const image = await openToolImage(path, ram, "padded");
    try {
      const c = await classifyPages(image, dumpBefore, dumpBefore, ram);
      assert.equal(c.counts.identical, 7);
      assert.equal(c.counts.error, 0);
    } finally {
      await image.source.close();
    }
  });

  test("a headerless image with no format named is refused in one line", async () => {
    const path = join(dir, "image.bin");
    await writeFile(path, whole);
    await assert.rejects(
      openToolImage(path, ram),
      /no LiME, ELF or AVML header .* --tool-format raw or padded/,
    );
  });
});

describe("the picture and the report", () => {
  test("a cell holds a power of two of pages, at most 128 x 128 cells", () => {
    assert.equal(pagesPerCell(16384), 1);
    assert.equal(pagesPerCell(65536), 4);
    assert.equal(pagesPerCell(131072), 8);
    assert.equal(pagesPerCell(131073), 16);
  });

  test("the SVG is well-formed XML, shows each cell's worst page, and says when read times are unknown", () => {
    const classes = new Uint8Array(300).fill(PageClass.identical);
    classes[0] = PageClass.outside;
    classes[200] = PageClass.error;
    const svg = renderPicture({ title: "a <test> & more", classes, readTimes: "unknown: no read times" });
    assert.equal(validateXml(svg), true);
    assert.match(svg, /fill="#e53935"><title>error: neither dump, and nothing saw it change<\/title>/);
    assert.match(svg, /unknown: no read times/);
    assert.match(svg, /a &lt;test&gt; &amp; more/);
  });

  test("with read times, the second panel is coloured from first to last read", () => {
    const classes = new Uint8Array(256).fill(PageClass.identical);
    const readMs = Float32Array.from({ length: 256 }, (_, i) => i * 10);
    const svg = renderPicture({ title: "t", classes, readMs, readTimes: "from the report" });
    assert.equal(validateXml(svg), true);
    assert.match(svg, /fill="#313695"><title>read 0\.0-0\.3 s after the start/);
    assert.match(svg, /fill="#a50026"/);
    assert.match(svg, /2\.5 s after the imager started/);
  });

  test("min/median/max over runs; the HTML report is well-formed XHTML", () => {
    assert.deepEqual(spread([3, "unknown: x", 1, 2]), { min: 1, median: 2, max: 3, runs: 3 });
    assert.deepEqual(spread([4, 1]), { min: 1, median: 2.5, max: 4, runs: 2 });
    assert.equal(spread(["unknown: x"]), undefined);
    const run = (n: number, errors: number): RunResult => ({
      tool: "memimage",
      workload: "idle",
      run: n,
      command: "memimage acquire -o x",
      changesSeenBy: "the two dumps",
      toolExit: 0,
      passed: errors === 0,
      failures: errors ? [`${errors} error pages`] : [],
      systemRamBytes: 7 * PAGE,
      bytesInImage: 7 * PAGE,
      coverage: 1,
      pages: {
        compared: 7,
        identical: 7 - errors,
        smear: 0,
        smearBefore: 0,
        smearAfter: 0,
        smearBetween: 0,
        errors,
        errorsZeroInDumps: 0,
        missing: 0,
        declaredUnreadable: 0,
      },
      kernelIdentical: "yes",
      time: { toolSeconds: n, windowSeconds: n + 1, throughputMBps: 10 },
      footprint: { peakRssBytes: "unknown: test", changedPages: 2 },
      readTimes: "unknown: test",
      samples: { count: 0, everySeconds: 0 },
      classes: new Uint8Array(8).fill(1),
    });
    const summaries = summarise([run(1, 0), run(2, 1), run(3, 0)]);
    assert.equal(summaries.length, 1);
    assert.equal(summaries[0]?.passed, 2);
    assert.deepEqual(summaries[0]?.errorPages, { min: 0, median: 0, max: 1, runs: 3 });
    assert.equal(summaries[0]?.peakRssBytes, undefined);
    const html = renderHtml({
      command: "memimage validate",
      startedAt: "2026-01-01T00:00:00Z",
      facts: {
        release: "6.1",
        memoryMiB: 128,
        cpus: 2,
        qemu: "7.2.0",
        ram,
        kernel: [],
        gnuTime: true,
      },
      summaries,
      results: [run(1, 0), run(2, 1)],
    });
    assert.equal(validateXml(html), true);
    assert.match(html, /FAILED: 1 error pages/);
  });

  test("a command must say where its image goes", () => {
    assert.throws(() => toolSpec("cat /dev/mem > x"), /must write its image at \{out\}/);
    assert.equal(toolSpec("dd if=/dev/crash of={out}").template, "dd if=/dev/crash of={out}");
  });
});
