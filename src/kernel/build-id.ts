// The GNU build ID of a kernel ELF file (vmlinux): the NT_GNU_BUILD_ID note ("GNU", type 3) in a PT_NOTE
// segment. The kernel publishes the same bytes as VMCOREINFO's BUILD-ID, so a debug vmlinux matches an image
// exactly when the two are equal.
import { open } from "node:fs/promises";
import { MemimageError } from "../core/errors.js";
import { decodeElfHeader, decodeNotes, decodeProgramHeader, PT_NOTE } from "../formats/elf.js";

const NT_GNU_BUILD_ID = 3;

export interface ElfBuildId {
  buildId: string | undefined;
  machine: number;
  /** ELF type: 2 (ET_EXEC) for a vmlinux. */
  type: number;
}

export async function readBuildId(path: string): Promise<ElfBuildId> {
  const file = await open(path, "r").catch((error: NodeJS.ErrnoException) => {
    throw new MemimageError("source", `cannot open ${path}: ${error.code ?? error.message}`);
  });
  try {
    const head = Buffer.alloc(0x210); // an x86 boot image says "HdrS" at 0x202
    await file.read(head, 0, head.length, 0);
    const { header, problem } = decodeElfHeader(head);
    if (!header) {
      const compressed = head.subarray(0x202, 0x206).toString("latin1") === "HdrS";
      throw new MemimageError(
        "bad-image",
        `${path}: ${problem ?? "not an ELF file"}${compressed ? " (a compressed boot image, bzImage: give the debug vmlinux, e.g. /usr/lib/debug/boot/vmlinux-RELEASE)" : ""}`,
      );
    }
    const table = Buffer.alloc(header.phnum * header.phentsize);
    await file.read(table, 0, table.length, header.phoff);
    for (let i = 0; i < header.phnum; i++) {
      const p = decodeProgramHeader(table, i * header.phentsize);
      if (p.type !== PT_NOTE || p.filesz === 0 || p.filesz > 1 << 20) continue;
      const bytes = Buffer.alloc(p.filesz);
      await file.read(bytes, 0, p.filesz, p.offset);
      const note = decodeNotes(bytes).find((n) => n.name === "GNU" && n.type === NT_GNU_BUILD_ID);
      if (note)
        return {
          buildId: Buffer.from(note.desc).toString("hex"),
          machine: header.machine,
          type: header.type,
        };
    }
    return { buildId: undefined, machine: header.machine, type: header.type };
  } finally {
    await file.close();
  }
}
