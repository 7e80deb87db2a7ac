// The notes of a process core, laid out as the Linux kernel writes them (include/uapi/linux/elfcore.h):
// for the first thread NT_PRSTATUS, then NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE, then its NT_FPREGSET and
// NT_X86_XSTATE; then NT_PRSTATUS and register sets for every other thread. gdb ties each register set to the
// NT_PRSTATUS before it. Sizes are those of x86-64 and arm64 (64-bit longs, 32-bit ids).
import type { Note } from "./elf.js";

export const NT_PRSTATUS = 1;
export const NT_FPREGSET = 2;
export const NT_PRPSINFO = 3;
export const NT_AUXV = 6;
export const NT_X86_XSTATE = 0x202;
export const NT_SIGINFO = 0x53494749;
export const NT_FILE = 0x46494c45;

const PRSTATUS_REGS_AT = 112;
const PRPSINFO_SIZE = 136;
const SIGINFO_SIZE = 128;
const USER_HZ = 100;

export interface NoteProcess {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** The stat state letter. */
  state: string;
  nice: number;
  flags: number;
  uid: number;
  gid: number;
  comm: string;
  cmdline: string[];
}

export interface NoteThread {
  tid: number;
  utimeTicks: number;
  stimeTicks: number;
  sigPending: bigint;
  sigBlocked: bigint;
  general: Uint8Array;
  fp?: Uint8Array;
  xstate?: Uint8Array;
}

export interface NoteFile {
  start: bigint;
  end: bigint;
  /** Offset in the file, in bytes (a multiple of the page size). */
  offset: bigint;
  path: string;
}

export interface ProcessNotesInput {
  process: NoteProcess;
  /** Threads with registers; the first is the one gdb selects. Threads without registers get no NT_PRSTATUS. */
  threads: NoteThread[];
  auxv: Uint8Array;
  files: NoteFile[];
  pageSize: number;
}

export function processNotes(input: ProcessNotesInput): Note[] {
  const core = (type: number, desc: Uint8Array): Note => ({ name: "CORE", type, desc });
  const perThread = (t: NoteThread): Note[] => [
    ...(t.fp ? [core(NT_FPREGSET, t.fp)] : []),
    ...(t.xstate ? [{ name: "LINUX", type: NT_X86_XSTATE, desc: padXstate(t.xstate) }] : []),
  ];
  const [first, ...others] = input.threads;
  const processWide = [
    core(NT_PRPSINFO, encodePrpsinfo(input.process)),
    core(NT_SIGINFO, Buffer.alloc(SIGINFO_SIZE)), // no signal caused this core
    ...(input.auxv.length > 0 ? [core(NT_AUXV, input.auxv)] : []),
    ...(input.files.length > 0 ? [core(NT_FILE, encodeFileNote(input.files, input.pageSize))] : []),
  ];
  if (!first) return processWide;
  return [
    core(NT_PRSTATUS, encodePrstatus(first, input.process)),
    ...processWide,
    ...perThread(first),
    ...others.flatMap((t) => [core(NT_PRSTATUS, encodePrstatus(t, input.process)), ...perThread(t)]),
  ];
}

/** struct elf_prstatus: siginfo (12), cursig, sigpend, sighold, pid, ppid, pgrp, sid, 4 timevals, regs, fpvalid. */
export function encodePrstatus(t: NoteThread, p: NoteProcess): Buffer {
  const b = Buffer.alloc(PRSTATUS_REGS_AT + t.general.length + 8);
  b.writeBigUInt64LE(t.sigPending, 16);
  b.writeBigUInt64LE(t.sigBlocked, 24);
  b.writeInt32LE(t.tid, 32);
  b.writeInt32LE(p.ppid, 36);
  b.writeInt32LE(p.pgrp, 40);
  b.writeInt32LE(p.session, 44);
  writeTimeval(b, 48, t.utimeTicks);
  writeTimeval(b, 64, t.stimeTicks);
  b.set(t.general, PRSTATUS_REGS_AT);
  b.writeInt32LE(t.fp ? 1 : 0, PRSTATUS_REGS_AT + t.general.length); // pr_fpvalid
  return b;
}

/** struct elf_prpsinfo: state, sname, zomb, nice, flag, uid, gid, pid, ppid, pgrp, sid, fname[16], psargs[80]. */
export function encodePrpsinfo(p: NoteProcess): Buffer {
  const b = Buffer.alloc(PRPSINFO_SIZE);
  const sname = p.state[0] ?? "R";
  b.writeUInt8(Math.max(0, "RSDTtXZ".indexOf(sname)), 0);
  b.write(sname, 1, "latin1");
  b.writeUInt8(sname === "Z" ? 1 : 0, 2);
  b.writeInt8(Math.max(-128, Math.min(127, p.nice)), 3);
  b.writeBigUInt64LE(BigInt(p.flags >>> 0), 8);
  b.writeUInt32LE(p.uid >>> 0, 16);
  b.writeUInt32LE(p.gid >>> 0, 20);
  b.writeInt32LE(p.pid, 24);
  b.writeInt32LE(p.ppid, 28);
  b.writeInt32LE(p.pgrp, 32);
  b.writeInt32LE(p.session, 36);
  Buffer.from(p.comm, "utf8").subarray(0, 15).copy(b, 40);
  Buffer.from(p.cmdline.join(" "), "utf8").subarray(0, 79).copy(b, 56);
  return b;
}

/** NT_FILE: count, page size, then (start, end, offset in pages) per mapping, then the NUL-terminated paths. */
export function encodeFileNote(files: readonly NoteFile[], pageSize: number): Buffer {
  const table = Buffer.alloc(16 + files.length * 24);
  table.writeBigUInt64LE(BigInt(files.length), 0);
  table.writeBigUInt64LE(BigInt(pageSize), 8);
  files.forEach((f, i) => {
    table.writeBigUInt64LE(f.start, 16 + i * 24);
    table.writeBigUInt64LE(f.end, 24 + i * 24);
    table.writeBigUInt64LE(f.offset / BigInt(pageSize), 32 + i * 24);
  });
  return Buffer.concat([table, ...files.map((f) => Buffer.from(`${f.path}\0`, "utf8"))]);
}

function writeTimeval(b: Buffer, at: number, ticks: number): void {
  const micros = Math.round((ticks * 1_000_000) / USER_HZ);
  b.writeBigInt64LE(BigInt(Math.floor(micros / 1_000_000)), at);
  b.writeBigInt64LE(BigInt(micros % 1_000_000), at + 8);
}

/**
 * gdb (13) sizes the XSAVE note by the features enabled in XCR0, which the kernel stores at byte 464 of the area,
 * using the standard layout (AVX-512 ends at 2688, PKRU at 2696), and rejects a shorter note as "too small". The
 * kernel gives only its own buffer size, which can be shorter; pad with zeros (state the header marks absent).
 */
export function padXstate(xstate: Uint8Array): Uint8Array {
  if (xstate.length < 472) return xstate;
  const xcr0 = Buffer.from(xstate.buffer, xstate.byteOffset, xstate.length).readBigUInt64LE(464);
  const size = xcr0 & 0x200n ? 2696 : xcr0 & 0xe0n ? 2688 : xcr0 & 0x18n ? 1088 : xcr0 & 0x4n ? 832 : 576;
  if (xstate.length >= size) return xstate;
  const padded = Buffer.alloc(size);
  padded.set(xstate);
  return padded;
}
