// ELF core files: a physical image (PT_LOAD by p_paddr, as QEMU's dump-guest-memory writes) or a process core
// (PT_LOAD by p_vaddr, as the kernel and gdb write). The writer streams: headers and notes first, then the data.
import type { FileHandle } from "node:fs/promises";
import { badImage } from "../core/errors.js";
import { hex, mapProblem, type Region } from "../core/map.js";
import { virtualPieces } from "../kernel/mapping.js";
import {
  decodeElfHeader,
  decodeNotes,
  decodeProgramHeader,
  ELF_HEADER_SIZE,
  ET_CORE,
  encodeElfHeader,
  encodeNote,
  encodeProgramHeader,
  hostMachine,
  PF_R,
  PF_W,
  PF_X,
  PN_XNUM,
  PROGRAM_HEADER_SIZE,
  PT_LOAD,
  PT_NOTE,
} from "./elf.js";
import type { Chunk, Format, FormatWriter, Piece, WriteContext } from "./format.js";
import type { ImageLayout, Segment } from "./segments.js";

const PAGE = 4096;

export function flagsFromPerms(perms: string | undefined): number {
  if (!perms) return PF_R | PF_W | PF_X;
  return (perms[0] === "r" ? PF_R : 0) | (perms[1] === "w" ? PF_W : 0) | (perms[2] === "x" ? PF_X : 0);
}

class ElfCoreWriter implements FormatWriter {
  *begin(map: readonly Region[], context: WriteContext): Iterable<Piece> {
    const virtual = context.source.addressSpace === "virtual";
    // A physical image leaves out what could not be read; a process core keeps every mapping (gdb lists them),
    // with no bytes for the unreadable ones.
    const loads = virtual
      ? [...map, ...(context.declared ?? [])].sort((a, b) =>
          a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
        )
      : map.filter((r) => r.readable);
    const notes = Buffer.concat((context.notes ?? []).map(encodeNote));
    // The data follows the order the regions will be read in (--priority reads the kernel first), while the
    // program headers list the segments by address, as readers expect.
    let offset = 0;
    const placed = loads.map((r) => {
      const at = { r, offset, filesz: r.readable ? r.length : 0 };
      offset += at.filesz;
      return at;
    });
    placed.sort((a, b) => (a.r.start < b.r.start ? -1 : a.r.start > b.r.start ? 1 : 0));
    // A physical range is cut where a known kernel mapping begins or ends, so each PT_LOAD has one p_vaddr.
    const programs = placed.flatMap(({ r, offset: at, filesz }) =>
      virtual
        ? [{ r, at, filesz, memsz: r.length, vaddr: r.start, paddr: 0n }]
        : virtualPieces(r.start, r.length, context.virtualMappings ?? []).map((piece) => {
            const into = Number(piece.start - r.start);
            return {
              r,
              at: at + into,
              filesz: piece.length,
              memsz: piece.length,
              vaddr: piece.vaddr,
              paddr: piece.start,
            };
          }),
    );
    const phnum = programs.length + 1;
    if (phnum >= PN_XNUM) throw new RangeError(`too many ranges for one ELF file: ${loads.length}`);
    const notesOffset = ELF_HEADER_SIZE + phnum * PROGRAM_HEADER_SIZE;
    const dataStart = Math.ceil((notesOffset + notes.length) / PAGE) * PAGE;
    const headers: Buffer[] = [encodeElfHeader({ machine: context.machine ?? hostMachine(), phnum })];
    headers.push(
      encodeProgramHeader({
        type: PT_NOTE,
        flags: 0,
        offset: notesOffset,
        vaddr: 0n,
        paddr: 0n,
        filesz: notes.length,
        memsz: 0,
        align: 0,
      }),
    );
    for (const { r, at, filesz, memsz, vaddr, paddr } of programs) {
      const fileAt = dataStart + at;
      const address = virtual ? vaddr : paddr;
      headers.push(
        encodeProgramHeader({
          type: PT_LOAD,
          flags: flagsFromPerms(r.perms),
          offset: fileAt,
          vaddr,
          paddr,
          filesz,
          memsz,
          align: BigInt(fileAt % PAGE) === address % BigInt(PAGE) ? PAGE : 1,
        }),
      );
    }
    yield* headers;
    yield notes;
    yield { zeros: dataStart - notesOffset - notes.length };
  }

  *chunk(chunk: Chunk): Iterable<Piece> {
    yield chunk.data;
  }

  *unreadable(): Iterable<Piece> {}

  *end(): Iterable<Piece> {}
}

export async function readElfLayout(file: FileHandle, path: string, size: number): Promise<ImageLayout> {
  const head = Buffer.alloc(ELF_HEADER_SIZE);
  await file.read(head, 0, ELF_HEADER_SIZE, 0);
  const { header, problem } = decodeElfHeader(head);
  if (!header) throw badImage(path, 0, problem ?? "not an ELF file");
  if (header.type !== ET_CORE)
    throw badImage(path, 16, `ELF type ${header.type} is not a core file (ET_CORE = 4)`);
  if (header.phentsize !== PROGRAM_HEADER_SIZE)
    throw badImage(path, 54, `program header size ${header.phentsize}, expected ${PROGRAM_HEADER_SIZE}`);
  let phnum = header.phnum;
  if (phnum === PN_XNUM) {
    const shoffBytes = Buffer.alloc(8);
    await file.read(shoffBytes, 0, 8, 40);
    const shoff = Number(shoffBytes.readBigUInt64LE(0));
    const section0 = Buffer.alloc(64);
    await file.read(section0, 0, 64, shoff);
    phnum = section0.readUInt32LE(44); // sh_info of section 0 holds the real count
  }
  const tableEnd = header.phoff + phnum * PROGRAM_HEADER_SIZE;
  if (tableEnd > size)
    throw badImage(
      path,
      header.phoff,
      `truncated: ${phnum} program headers need ${tableEnd} bytes, the file has ${size}`,
    );
  const table = Buffer.alloc(phnum * PROGRAM_HEADER_SIZE);
  await file.read(table, 0, table.length, header.phoff);
  const programs = Array.from({ length: phnum }, (_, i) =>
    decodeProgramHeader(table, i * PROGRAM_HEADER_SIZE),
  );
  const loads = programs.filter((p) => p.type === PT_LOAD);
  // gdb and the kernel leave p_paddr at 0 in process cores; physical dumps carry the physical address there.
  const virtual = loads.length > 1 && loads.every((p) => p.paddr === 0n);
  const segments: Segment[] = [];
  // A physical vmcore's kernel virtual addresses (p_vaddr), so that a conversion to ELF keeps them.
  const kernelMappings: { physical: string; virtual: string; length: number }[] = [];
  for (const [index, p] of programs.entries()) {
    if (p.type !== PT_LOAD) continue;
    const at = header.phoff + index * PROGRAM_HEADER_SIZE;
    if (p.paddr === 0xffffffffffffffffn && !virtual) continue; // /proc/kcore: not physical memory
    if (!virtual && p.filesz !== p.memsz) {
      throw badImage(
        path,
        at,
        `program header ${index}: p_filesz ${p.filesz} ≠ p_memsz ${p.memsz} in a physical image (bytes missing)`,
      );
    }
    if (p.filesz > p.memsz)
      throw badImage(path, at, `program header ${index}: p_filesz ${p.filesz} > p_memsz ${p.memsz}`);
    if (p.offset + p.filesz > size) {
      throw badImage(
        path,
        at,
        `truncated: program header ${index} (${hex(virtual ? p.vaddr : p.paddr)}) needs bytes up to ${p.offset + p.filesz}, the file has ${size}`,
      );
    }
    const start = virtual ? p.vaddr : p.paddr;
    if (!virtual && p.vaddr !== 0n)
      kernelMappings.push({ physical: hex(p.paddr), virtual: hex(p.vaddr), length: p.memsz });
    const perms = `${p.flags & PF_R ? "r" : "-"}${p.flags & PF_W ? "w" : "-"}${p.flags & PF_X ? "x" : "-"}`;
    if (p.filesz > 0)
      segments.push({ start, length: p.filesz, fileOffset: p.offset, stored: true, kind: "load", perms });
    if (p.memsz > p.filesz) {
      segments.push({
        start: start + BigInt(p.filesz),
        length: p.memsz - p.filesz,
        fileOffset: p.offset + p.filesz,
        stored: false,
        kind: "load (not in file)",
        perms,
      });
    }
  }
  const byAddress = [...segments].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const problem2 = mapProblem(byAddress);
  if (problem2) throw badImage(path, header.phoff, `program headers: ${problem2}`);
  const notes: { name: string; type: number; size: number }[] = [];
  let vmcoreinfo: string | undefined;
  for (const p of programs.filter((q) => q.type === PT_NOTE)) {
    if (p.offset + p.filesz > size)
      throw badImage(path, p.offset, "truncated: the PT_NOTE segment runs past the end of the file");
    const bytes = Buffer.alloc(p.filesz);
    await file.read(bytes, 0, p.filesz, p.offset);
    for (const n of decodeNotes(bytes)) {
      notes.push({ name: n.name, type: n.type, size: n.desc.length });
      if (n.name === "VMCOREINFO") vmcoreinfo = Buffer.from(n.desc).toString("latin1");
    }
  }
  return {
    format: "elf",
    addressSpace: virtual ? "virtual" : "physical",
    segments,
    fileSize: size,
    details: {
      machine: header.machine,
      programHeaders: phnum,
      notes,
      ...(vmcoreinfo ? { vmcoreinfo } : {}),
      ...(kernelMappings.length > 0 ? { kernelMappings } : {}),
    },
  };
}

export const elf: Format = {
  name: "elf",
  summary:
    "ELF core: PT_LOAD per range (p_paddr for physical, p_vaddr for a process). gdb, crash, drgn, Volatility read it.",
  leavesOutUnreadable: true,
  detect: (head) =>
    head.length >= 4 && Buffer.from(head.buffer, head.byteOffset, 4).toString("latin1") === "\x7fELF",
  createWriter: () => new ElfCoreWriter(),
  readLayout: (file, path, size) => readElfLayout(file, path, size),
};
