// Kernel identification and the ELF vmcore layout, from hand-written vectors: the VMCOREINFO note as the kernel
// lays it out in memory (12-byte header, "VMCOREINFO\0" padded to 12, the text), the Linux banner, struct
// new_utsname (six 65-byte fields), and PT_LOADs cut where the kernel image mapping begins and ends.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, describe, test } from "node:test";
import {
  decodeProgramHeader,
  ELF_HEADER_SIZE,
  encodeElfHeader,
  encodeNote,
  encodeProgramHeader,
  PROGRAM_HEADER_SIZE,
  PT_LOAD,
  PT_NOTE,
} from "../../src/formats/elf.js";
import { findBanners } from "../../src/kernel/banner.js";
import { readBuildId } from "../../src/kernel/build-id.js";
import { debugSymbols, kernelIdentity } from "../../src/kernel/identity.js";
import { mappingsFromVmcoreinfo, virtualPieces } from "../../src/kernel/mapping.js";
import { KernelScan } from "../../src/kernel/scan.js";
import { findMemoryNote, parseVmcoreinfo, physBase } from "../../src/kernel/vmcoreinfo.js";
import { vmcoreinfoNote } from "../../src/kernel/witness.js";
import { openImage } from "../../src/sources/image.js";
import { BufferSource } from "../helpers/buffer-source.js";
import { memimage, scratchDir } from "../helpers/cli.js";
import { hexBytes, writeImageFile } from "../helpers/image.js";

const scratch = scratchDir();
after(scratch.cleanup);

// As a 6.1 x86-64 kernel prints it (values from a Debian guest, shortened).
const TEXT = [
  "OSRELEASE=6.1.0-56-amd64",
  "BUILD-ID=eb4fbcd037e7253717950bf2b93bd5566f47c56f",
  "PAGESIZE=4096",
  "SYMBOL(init_uts_ns)=ffffffff85ffb000",
  "OFFSET(uts_namespace.name)=0",
  "SYMBOL(_stext)=ffffffff84400000",
  "NUMBER(phys_base)=226492416",
  "SYMBOL(init_top_pgt)=ffffffff85e10000",
  "NUMBER(pgtable_l5_enabled)=1",
  "SYMBOL(node_data)=ffffffff860393a0",
  "KERNELOFFSET=3400000",
  "NUMBER(KERNEL_IMAGE_SIZE)=1073741824",
  "",
].join("\n");
const BANNER =
  "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)";
const UTS_VERSION = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)";

/** The note as the kernel keeps it in memory: namesz 11, descsz, type 0, "VMCOREINFO\0" + 1 pad byte, text. */
function memoryNote(text: string): Buffer {
  const header = hexBytes("0b 00 00 00  00 00 00 00  00 00 00 00  56 4d 43 4f 52 45 49 4e 46 4f 00 00");
  header.writeUInt32LE(text.length, 4);
  return Buffer.concat([header, Buffer.from(text, "latin1")]);
}

function utsname(release: string, version: string): Buffer {
  const b = Buffer.alloc(6 * 65);
  for (const [i, field] of ["Linux", "guest", release, version, "x86_64", "(none)"].entries())
    b.write(field, i * 65, "latin1");
  return b;
}

describe("VMCOREINFO", () => {
  test("NUMBER() is signed decimal: a negative phys_base is a 64-bit two's complement address", () => {
    assert.equal(parseVmcoreinfo(TEXT).get("OSRELEASE"), "6.1.0-56-amd64");
    assert.equal(physBase(parseVmcoreinfo("NUMBER(phys_base)=-551550976\n")), 0xffff_ffff_df20_0000n);
  });

  test("the note is found in memory by its header, not by the name alone", () => {
    const decoy = Buffer.from("...VMCOREINFO\0 in a string...", "latin1");
    const memory = Buffer.concat([
      Buffer.alloc(100, 0x41),
      decoy,
      Buffer.alloc(3),
      memoryNote(TEXT),
      Buffer.alloc(64),
    ]);
    const found = findMemoryNote(memory);
    assert.equal(found?.offset, 100 + decoy.length + 3);
    assert.equal(found?.text, TEXT);
  });

  test("identity: KASLR offset, signed phys_base, page-table root physical = virtual - __START_KERNEL_map + phys_base", () => {
    const id = kernelIdentity({
      vmcoreinfo: { text: parseVmcoreinfo(TEXT), from: "test", bytes: 24 + TEXT.length },
      banner: { text: BANNER, address: 0x1000n },
    });
    assert.equal(id.kernelOffset, "0x3400000");
    assert.equal(id.physBase, "0xd800000");
    assert.equal(
      kernelIdentity({
        vmcoreinfo: { text: parseVmcoreinfo("NUMBER(phys_base)=-551550976\n"), from: "t", bytes: 0 },
      }).physBase,
      "-0x20e00000",
    );
    assert.deepEqual(id.pageTableRoot, {
      symbol: "init_top_pgt",
      virtual: "0xffffffff85e10000",
      physical: "0x13610000", // 0xffffffff85e10000 - 0xffffffff80000000 + 0xd800000
    });
    assert.equal(id.architecture, "x86_64");
    assert.deepEqual(id.debugSymbols, {
      distribution: "Debian",
      package: "linux-image-6.1.0-56-amd64-dbg",
      version: "6.1.192-2",
    });
  });
});

describe("debug symbol packages", () => {
  test("Ubuntu and Fedora releases name their own packages; an unknown builder is unknown", () => {
    assert.deepEqual(
      debugSymbols(
        "Linux version 6.8.0-45-generic (buildd@lcy02) (x86_64-linux-gnu-gcc-13) #45-Ubuntu SMP",
        "6.8.0-45-generic",
      ),
      {
        distribution: "Ubuntu",
        package: "linux-image-unsigned-6.8.0-45-generic-dbgsym",
      },
    );
    assert.equal(
      (debugSymbols(undefined, "6.5.6-300.fc39.x86_64") as { package: string }).package,
      "kernel-debuginfo-6.5.6-300.fc39.x86_64",
    );
    assert.match(String(debugSymbols("Linux version 6.18.0 (me@host) (gcc) #3 SMP", "6.18.0")), /^unknown: /);
  });
});

describe("Linux banner", () => {
  test("a banner ends at a newline or NUL; one cut by the end of the buffer is not taken", () => {
    const bytes = Buffer.from(`xx${BANNER}\n\0yyLinux version 6.1.0 (cut`, "latin1");
    const found = [...findBanners(bytes)];
    assert.equal(found.length, 1);
    assert.equal(found[0]?.text, BANNER);
    assert.equal(found[0]?.release, "6.1.0-56-amd64");
    assert.equal(found[0]?.offset, 2);
  });
});

describe("KernelScan", () => {
  test("finds a note and a banner that straddle two blocks", () => {
    const note = memoryNote(TEXT);
    const memory = Buffer.alloc(8192);
    note.copy(memory, 4096 - 30);
    memory.write(`${BANNER}\n`, 6000, "latin1");
    const scan = new KernelScan();
    scan.observe(0x11d00000n, memory.subarray(0, 4096));
    scan.observe(0x11d01000n, memory.subarray(4096, 6050));
    scan.observe(0x11d01000n + 1954n, memory.subarray(6050));
    const { note: found, banner } = scan.result();
    assert.equal(found?.address, 0x11d00000n + 4096n - 30n);
    assert.equal(found?.text, TEXT);
    assert.equal(banner?.address, 0x11d00000n + 6000n);
  });

  test("takes the banner that ends with the kernel's uname version, not a stale copy without the build number", () => {
    const outside = new KernelScan(TEXT, "x86_64");
    outside.observe(0x100000n, Buffer.from(`${BANNER}\n`, "latin1"));
    assert.equal(
      outside.result().banner,
      undefined,
      "with the note known, only the kernel image is searched",
    );
    const info = parseVmcoreinfo(TEXT);
    // init_uts_ns at 0xffffffff85ffb000 -> physical 0xffffffff85ffb000 - 0xffffffff80000000 + phys_base.
    const utsAt = 0xffff_ffff_85ff_b000n - 0xffff_ffff_8000_0000n + (physBase(info) as bigint);
    const physical = BigInt.asUintN(64, utsAt);
    const stale = BANNER.replace("#1 SMP", "# SMP");
    const scan = new KernelScan(TEXT, "x86_64");
    const block = Buffer.alloc(4096);
    block.write(`${stale}\n`, 0, "latin1");
    block.write(`${BANNER}\n`, 1024, "latin1");
    scan.observe(0x11d00000n, block); // in the kernel image: physical of _stext is 0x11c00000
    assert.equal(scan.done, false, "the uname is not read yet");
    const uts = utsname("6.1.0-56-amd64", UTS_VERSION);
    scan.observe(physical - 100n, Buffer.concat([Buffer.alloc(100), uts.subarray(0, 200)]));
    scan.observe(physical + 200n, uts.subarray(200));
    const { banner, utsname: read } = scan.result();
    assert.equal(read?.version, UTS_VERSION);
    assert.equal(read?.machine, "x86_64");
    assert.equal(banner?.text, BANNER);
    assert.equal(banner?.address, 0x11d00000n + 1024n);
    assert.equal(scan.done, true);
  });
});

test("KernelScan: copies of the banner met before the note (a report in page cache) do not hide the kernel's own", () => {
  const scan = new KernelScan();
  const copies = Buffer.alloc(16384);
  for (let i = 0; i < 20; i++) copies.write(`  "banner": "${BANNER}",\n`, i * 512, "latin1");
  scan.observe(0x1000000n, copies);
  scan.observe(0x2000000n, memoryNote(TEXT));
  const rodata = Buffer.alloc(4096);
  rodata.write(`${BANNER}\n`, 512, "latin1");
  scan.observe(0x11d00000n, rodata); // in the kernel image: physical of _stext is 0x11c00000
  const { banner } = scan.result();
  assert.equal(banner?.text, BANNER);
  assert.equal(banner?.address, 0x11d00000n + 512n);
});

describe("ELF vmcore layout", () => {
  const kernel = {
    physical: 0x2000n,
    virtual: 0xffff_ffff_8100_0000n,
    length: 0x1000,
    kind: "kernel image" as const,
  };
  const direct = {
    physical: 0n,
    virtual: 0xffff_8880_0000_0000n,
    length: 0x10000,
    kind: "direct map" as const,
  };

  test("a range is cut where a mapping begins and ends; the first mapping listed wins where they overlap", () => {
    assert.deepEqual(virtualPieces(0x1000n, 0x3000, [kernel, direct]), [
      { start: 0x1000n, length: 0x1000, vaddr: 0xffff_8880_0000_1000n },
      { start: 0x2000n, length: 0x1000, vaddr: 0xffff_ffff_8100_0000n },
      { start: 0x3000n, length: 0x1000, vaddr: 0xffff_8880_0000_3000n },
    ]);
    assert.deepEqual(virtualPieces(0x1000n, 0x3000, [kernel]), [
      { start: 0x1000n, length: 0x1000, vaddr: 0n },
      { start: 0x2000n, length: 0x1000, vaddr: 0xffff_ffff_8100_0000n },
      { start: 0x3000n, length: 0x1000, vaddr: 0n },
    ]);
  });

  test("from VMCOREINFO: the kernel image mapping spans the 2 MiB around _stext up to the highest kernel symbol", () => {
    const [m] = mappingsFromVmcoreinfo(parseVmcoreinfo(TEXT), "x86_64");
    assert.equal(m?.virtual, 0xffff_ffff_8440_0000n);
    assert.equal(m?.physical, BigInt.asUintN(64, 0x0440_0000n + (physBase(parseVmcoreinfo(TEXT)) as bigint)));
    assert.equal(m?.length, 0xffff_ffff_8620_0000 - 0xffff_ffff_8440_0000); // node_data at ...860393a0 -> 0x86200000
  });

  test("PT_LOADs carry p_vaddr and the VMCOREINFO note; read back, the range is one region again", async () => {
    const bytes = Buffer.alloc(0x3000, 0x5a);
    const source = new BufferSource([{ start: 0x1000n, bytes }]);
    const path = scratch.path("vmcore.elf");
    await writeImageFile(source, "elf", path, {
      context: { source: source.description, notes: [vmcoreinfoNote(TEXT)], virtualMappings: [kernel] },
    });
    const { readFileSync } = await import("node:fs");
    const file = readFileSync(path);
    assert.equal(file.readUInt16LE(56), 4, "PT_NOTE and three PT_LOADs");
    const loads = [1, 2, 3].map((i) => decodeProgramHeader(file, ELF_HEADER_SIZE + i * PROGRAM_HEADER_SIZE));
    assert.deepEqual(
      loads.map((p) => [p.type, p.vaddr, p.paddr, p.filesz, p.offset]),
      [
        [PT_LOAD, 0n, 0x1000n, 0x1000, 0x1000],
        [PT_LOAD, 0xffff_ffff_8100_0000n, 0x2000n, 0x1000, 0x2000],
        [PT_LOAD, 0n, 0x3000n, 0x1000, 0x3000],
      ],
    );
    const opened = await openImage(path);
    try {
      assert.deepEqual(
        (await opened.source.map()).map((r) => [r.start, r.length]),
        [[0x1000n, 0x3000]],
      );
      assert.equal(opened.source.layout.details.vmcoreinfo, TEXT);
    } finally {
      await opened.source.close();
    }
    // Converted to ELF again, it stays a vmcore: the same program headers and the note; its report names the kernel.
    const again = scratch.path("again.elf");
    const r = memimage(["convert", "-q", path, again, "--format", "elf"]);
    assert.equal(r.status, 0, r.stderr);
    const second = readFileSync(again);
    const table = (b: Buffer) =>
      b.subarray(ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE, ELF_HEADER_SIZE + 4 * PROGRAM_HEADER_SIZE);
    assert.deepEqual(table(second), table(file));
    const report = JSON.parse(readFileSync(`${again}.report.json`, "utf8")) as {
      kernel?: { buildId: string };
    };
    assert.equal(report.kernel?.buildId, "eb4fbcd037e7253717950bf2b93bd5566f47c56f");
  });
});

describe("build ID of a vmlinux", () => {
  test("read from the GNU note (type 3) of a PT_NOTE segment", async () => {
    const note = encodeNote({
      name: "GNU",
      type: 3,
      desc: hexBytes("eb4fbcd037e7253717950bf2b93bd5566f47c56f"),
    });
    const header = encodeElfHeader({ machine: 62, phnum: 1 });
    header.writeUInt16LE(2, 16); // ET_EXEC
    const noteAt = ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE;
    const ph = encodeProgramHeader({
      type: PT_NOTE,
      flags: 4,
      offset: noteAt,
      vaddr: 0n,
      paddr: 0n,
      filesz: note.length,
      memsz: note.length,
      align: 4,
    });
    const path = scratch.path("vmlinux");
    await writeFile(path, Buffer.concat([header, ph, note, Buffer.alloc(0x200)]));
    assert.deepEqual(await readBuildId(path), {
      buildId: "eb4fbcd037e7253717950bf2b93bd5566f47c56f",
      machine: 62,
      type: 2,
    });
  });
});
