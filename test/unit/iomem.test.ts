// /proc/iomem parsing against real captures: a QEMU guest running Debian's 6.1 kernel and a Firecracker VM.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { namedRange, parseIomem, systemRam } from "../../src/sources/iomem.js";
import { PARTIAL_PAGE, physicalMap } from "../../src/sources/physical-map.js";

const fixture = (name: string) =>
  readFile(fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url)), "latin1");

describe("/proc/iomem", () => {
  test("the end address is inclusive: 00001000-0009fbff is 0x9ec00 bytes, last byte kept", async () => {
    const ram = systemRam(parseIomem(await fixture("iomem-qemu-guest-6.1.txt")));
    assert.deepEqual(ram, [
      { start: 0x1000n, length: 0x9ec00 },
      { start: 0x100000n, length: 0x1fee0000 },
    ]);
  });

  test("nested ranges keep their depth; Kernel code and rodata are found by name", async () => {
    const entries = parseIomem(await fixture("iomem-qemu-guest-6.1.txt"));
    assert.equal(entries.find((e) => e.name === "virtio-pci-modern")?.depth, 2);
    assert.deepEqual(namedRange(entries, "Kernel code"), {
      start: 0xd200000n,
      length: 0xe001d32 - 0xd200000,
    });
    assert.deepEqual(namedRange(entries, "Kernel rodata"), { start: 0xe200000n, length: 0x8eb000 });
  });

  test("addresses above 4 GiB (nine and more hex digits) parse", async () => {
    const ram = systemRam(parseIomem(await fixture("iomem-firecracker-6.18.txt")));
    assert.deepEqual(ram[ram.length - 1], { start: 0x100000000n, length: 0x540000000 });
    assert.equal(ram.length, 3);
  });

  test("a range of one byte: start equals last", () => {
    assert.deepEqual(systemRam(parseIomem("00002000-00002000 : System RAM\n")), [
      { start: 0x2000n, length: 1 },
    ]);
  });

  test("as non-root every address reads 0: parsed, but no usable RAM", () => {
    const entries = parseIomem("00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n");
    assert.ok(entries.every((e) => e.start === 0n && e.end === 1n));
  });
});

describe("physical map", () => {
  test("RAM the source does not offer is listed unreadable with the reason, never dropped", () => {
    // kcore offers whole pages only: the tail 0x9f000-0x9fbff of the first range is not offered.
    const ram = [{ start: 0x1000n, length: 0x9ec00 }];
    const { regions, notOffered } = physicalMap(ram, [{ start: 0x1000n, length: 0x9e000 }], "not in kcore");
    assert.deepEqual(regions, [
      { start: 0x1000n, length: 0x9e000, readable: true, kind: "System RAM" },
      { start: 0x9f000n, length: 0xc00, readable: false, kind: "System RAM" },
    ]);
    assert.deepEqual(notOffered, [{ start: 0x9f000n, length: 0xc00, reason: PARTIAL_PAGE }]);
    const missingPages = physicalMap(ram, [{ start: 0x1000n, length: 0x1000 }], "not in kcore").notOffered;
    assert.deepEqual(missingPages, [{ start: 0x2000n, length: 0x9dc00, reason: "not in kcore" }]);
  });

  test("overlapping offers (kernel text inside the direct map) are folded, not doubled", () => {
    const ram = [{ start: 0x100000n, length: 0x100000 }];
    const offered = [
      { start: 0x100000n, length: 0x100000 },
      { start: 0x140000n, length: 0x10000 },
    ];
    const { regions } = physicalMap(ram, offered, "");
    assert.deepEqual(regions, [{ start: 0x100000n, length: 0x100000, readable: true, kind: "System RAM" }]);
  });
});
