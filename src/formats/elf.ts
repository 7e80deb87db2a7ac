// ELF64 little-endian structures used by core files: the file header, program headers and notes.
// encode and decode sit side by side so that each field's offset appears twice, next to each other.
import { arch } from "node:os";

export const ELF_HEADER_SIZE = 64;
export const PROGRAM_HEADER_SIZE = 56;
export const ET_CORE = 4;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
/** e_phnum value meaning "the real count is in section header 0's sh_info". */
export const PN_XNUM = 0xffff;

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export function hostMachine(): number {
  return arch() === "arm64" ? EM_AARCH64 : EM_X86_64;
}

export interface ElfHeader {
  type: number;
  machine: number;
  phoff: number;
  phnum: number;
  phentsize: number;
}

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export function encodeElfHeader(h: { machine: number; phnum: number }): Buffer {
  const b = Buffer.alloc(ELF_HEADER_SIZE);
  b.write("\x7fELF", 0, "latin1");
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // ELFDATA2LSB
  b[6] = 1; // EV_CURRENT
  b.writeUInt16LE(ET_CORE, 16);
  b.writeUInt16LE(h.machine, 18);
  b.writeUInt32LE(1, 20); // e_version
  b.writeBigUInt64LE(BigInt(ELF_HEADER_SIZE), 32); // e_phoff: program headers follow this header
  b.writeUInt16LE(ELF_HEADER_SIZE, 52); // e_ehsize
  b.writeUInt16LE(PROGRAM_HEADER_SIZE, 54);
  b.writeUInt16LE(h.phnum, 56);
  return b;
}

/** Returns undefined when the bytes are not a 64-bit little-endian ELF file; `problem` says why. */
export function decodeElfHeader(b: Buffer): { header?: ElfHeader; problem?: string } {
  if (b.length < ELF_HEADER_SIZE || b.toString("latin1", 0, 4) !== "\x7fELF")
    return { problem: "not an ELF file" };
  if (b[4] !== 2 || b[5] !== 1) return { problem: "only 64-bit little-endian ELF is supported" };
  return {
    header: {
      type: b.readUInt16LE(16),
      machine: b.readUInt16LE(18),
      phoff: Number(b.readBigUInt64LE(32)),
      phentsize: b.readUInt16LE(54),
      phnum: b.readUInt16LE(56),
    },
  };
}

export function encodeProgramHeader(p: ProgramHeader): Buffer {
  const b = Buffer.alloc(PROGRAM_HEADER_SIZE);
  b.writeUInt32LE(p.type, 0);
  b.writeUInt32LE(p.flags, 4);
  b.writeBigUInt64LE(BigInt(p.offset), 8);
  b.writeBigUInt64LE(p.vaddr, 16);
  b.writeBigUInt64LE(p.paddr, 24);
  b.writeBigUInt64LE(BigInt(p.filesz), 32);
  b.writeBigUInt64LE(BigInt(p.memsz), 40);
  b.writeBigUInt64LE(BigInt(p.align), 48);
  return b;
}

export function decodeProgramHeader(b: Buffer, at = 0): ProgramHeader {
  return {
    type: b.readUInt32LE(at),
    flags: b.readUInt32LE(at + 4),
    offset: safe(b.readBigUInt64LE(at + 8)),
    vaddr: b.readBigUInt64LE(at + 16),
    paddr: b.readBigUInt64LE(at + 24),
    filesz: safe(b.readBigUInt64LE(at + 32)),
    memsz: safe(b.readBigUInt64LE(at + 40)),
    align: safe(b.readBigUInt64LE(at + 48)),
  };
}

export interface Note {
  name: string;
  type: number;
  desc: Uint8Array;
}

const align4 = (n: number) => (n + 3) & ~3;

/** An ELF note: namesz, descsz, type, then the NUL-terminated name and the descriptor, each padded to 4 bytes. */
export function encodeNote(note: Note): Buffer {
  const name = Buffer.from(`${note.name}\0`, "latin1");
  const b = Buffer.alloc(12 + align4(name.length) + align4(note.desc.length));
  b.writeUInt32LE(name.length, 0);
  b.writeUInt32LE(note.desc.length, 4);
  b.writeUInt32LE(note.type, 8);
  name.copy(b, 12);
  b.set(note.desc, 12 + align4(name.length));
  return b;
}

export function decodeNotes(b: Buffer): Note[] {
  const notes: Note[] = [];
  let at = 0;
  while (at + 12 <= b.length) {
    const namesz = b.readUInt32LE(at);
    const descsz = b.readUInt32LE(at + 4);
    const type = b.readUInt32LE(at + 8);
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    if (descAt + descsz > b.length) break;
    notes.push({
      name: b.toString("latin1", nameAt, nameAt + Math.max(0, namesz - 1)),
      type,
      desc: b.subarray(descAt, descAt + descsz),
    });
    at = descAt + align4(descsz);
  }
  return notes;
}

function safe(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`ELF field too large: ${value}`);
  return Number(value);
}
