import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { processNotes } from "../../src/formats/elf-process-notes.js";
import { classify, KERNEL_DEFAULT_FILTER, parseFilter } from "../../src/sources/coredump-filter.js";
import { countEntries, emptyCounts } from "../../src/sources/pagemap.js";
import { parseMaps, parseMapsLine, parseSmaps } from "../../src/sources/proc-maps.js";
import { parseStat } from "../../src/sources/proc-status.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/fixtures/proc/${name}`, import.meta.url));

describe("/proc/PID/maps and smaps (captured from test/fixtures/process/target.c)", () => {
  const maps = parseMaps(fixture("target.maps").toString("latin1"));
  const smaps = parseSmaps(fixture("target.smaps").toString("latin1"));

  test("every line is a mapping, ends exclusive, in address order", () => {
    assert.equal(maps.length, fixture("target.maps").toString("latin1").trim().split("\n").length);
    assert.deepEqual(
      smaps.map((m) => [m.start, m.end]),
      maps.map((m) => [m.start, m.end]),
    );
    const fill = maps[0];
    assert.equal(fill?.start, 0x10000000000n);
    assert.equal(fill?.end, 0x10040000000n);
    assert.equal(fill?.path, "");
  });

  test("a path with spaces survives, and a pseudo-path is kept", () => {
    const m = parseMapsLine("7f00-8000 r--p 00001000 fe:00 42                         /tmp/a b (deleted)");
    assert.equal(m?.path, "/tmp/a b (deleted)");
    assert.equal(m?.offset, 0x1000n);
    assert.equal(maps.find((x) => x.path === "[vvar]")?.inode, 0);
  });

  test("smaps attaches VmFlags and Anonymous to their mapping", () => {
    const cow = smaps.find((m) => m.start === 0x30000000000n);
    assert.equal(cow?.anonymousBytes, 4096, "the private file page written by the target");
    assert.ok(smaps.find((m) => m.path === "[vvar]")?.vmFlags.includes("pf"));
  });

  test("the kernel's default filter keeps anonymous memory and written private file pages, not shared files", () => {
    const decide = (start: bigint) => {
      const m = smaps.find((x) => x.start === start);
      assert.ok(m);
      return classify(m, KERNEL_DEFAULT_FILTER, false);
    };
    assert.equal(decide(0x10000000000n).dump, "all");
    assert.equal(decide(0x30000000000n).dump, "all");
    assert.equal(decide(0x20000000000n).dump, "none");
    const vvar = smaps.find((m) => m.path === "[vvar]");
    assert.ok(vvar);
    assert.equal(classify(vvar, parseFilter("all"), false).dump, "none");
    const exeHeader = smaps.find((m) => m.path.endsWith("/target") && m.offset === 0n);
    assert.ok(exeHeader);
    assert.equal(classify(exeHeader, KERNEL_DEFAULT_FILTER, true).dump, "first-page");
  });

  test("filters parse as a coredump_filter mask or by name", () => {
    assert.equal(parseFilter("33"), 0x33);
    assert.equal(parseFilter("0x7f"), 0x7f);
    assert.equal(parseFilter("anon-private,file-shared"), 0b1001);
    assert.equal(parseFilter("all"), 0x7f);
    assert.throws(() => parseFilter("heap"), /unknown mapping kind "heap"/);
  });
});

describe("/proc/PID/pagemap entries", () => {
  test("present, exclusive anonymous pages of the fill", () => {
    const counts = countEntries(fixture("target.pagemap-0x10000000000-16pages"), emptyCounts());
    assert.deepEqual(counts, {
      pages: 16,
      present: 16,
      swapped: 0,
      fileOrShared: 0,
      exclusive: 16,
      softDirty: 0,
    });
  });

  test("a shared file page has bit 61 set", () => {
    const counts = countEntries(fixture("target.pagemap-0x20000000000-1page"), emptyCounts());
    assert.equal(counts.fileOrShared, 1);
    assert.equal(counts.present, 1);
  });

  test("swapped and soft-dirty bits", () => {
    const entry = Buffer.alloc(8);
    entry.writeBigUInt64LE((1n << 62n) | (1n << 55n));
    assert.deepEqual(countEntries(entry, emptyCounts()), {
      pages: 1,
      present: 0,
      swapped: 1,
      fileOrShared: 0,
      exclusive: 0,
      softDirty: 1,
    });
  });
});

describe("process core notes", () => {
  test("a command name with ') ' in /proc/PID/stat", () => {
    const stat = parseStat("42 (a) b) S 1 42 42 0 -1 4194560 0 0 0 0 7 3 0 0 20 0 2 0 1 2 3");
    assert.equal(stat.comm, "a) b");
    assert.equal(stat.state, "S");
    assert.equal(stat.utime, 7);
    assert.equal(stat.threads, 2);
  });

  test("x86-64 sizes: NT_PRSTATUS 336 bytes with the registers at 112, NT_PRPSINFO 136, NT_SIGINFO 128", () => {
    const general = Buffer.alloc(216, 0xab);
    const notes = processNotes({
      process: {
        pid: 7,
        ppid: 1,
        pgrp: 7,
        session: 7,
        state: "S",
        nice: 0,
        flags: 0,
        uid: 0,
        gid: 0,
        comm: "target",
        cmdline: ["/tmp/target", "4"],
      },
      threads: [{ tid: 7, utimeTicks: 150, stimeTicks: 0, sigPending: 0n, sigBlocked: 0n, general }],
      auxv: Buffer.alloc(16),
      files: [{ start: 0x1000n, end: 0x3000n, offset: 0x2000n, path: "/bin/x" }],
      pageSize: 4096,
    });
    assert.deepEqual(
      notes.map((n) => [n.type, n.desc.length]),
      [
        [1, 336],
        [3, 136],
        [0x53494749, 128],
        [6, 16],
        [0x46494c45, 16 + 24 + 7],
      ],
    );
    const prstatus = Buffer.from(notes[0]?.desc ?? []);
    assert.equal(prstatus.readInt32LE(32), 7, "pr_pid");
    assert.equal(prstatus.readBigInt64LE(48), 1n, "pr_utime: 150 ticks is 1.5 s");
    assert.equal(prstatus.readBigInt64LE(56), 500000n);
    assert.equal(prstatus[112], 0xab);
    const file = Buffer.from(notes[4]?.desc ?? []);
    assert.equal(file.readBigUInt64LE(32), 2n, "offset in pages");
    const psinfo = Buffer.from(notes[1]?.desc ?? []);
    assert.equal(psinfo.toString("latin1", 56, 56 + 13), "/tmp/target 4");
  });
});
