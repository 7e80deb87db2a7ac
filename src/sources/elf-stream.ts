// An ELF physical core read once, front to back, from a stream (QEMU's dump-guest-memory into a FIFO).
// QEMU lays it out header, program headers, notes, then each PT_LOAD's bytes in address order; the pipeline
// reads blocks in address order too, so every read lands at or after the stream's position and nothing is kept.
import { MemimageError } from "../core/errors.js";
import { hex, mapProblem, type Region, regionEnd } from "../core/map.js";
import {
  decodeElfHeader,
  decodeNotes,
  decodeProgramHeader,
  ELF_HEADER_SIZE,
  ET_CORE,
  type Note,
  PN_XNUM,
  PROGRAM_HEADER_SIZE,
  PT_LOAD,
  PT_NOTE,
} from "../formats/elf.js";
import type { FifoReader } from "./fifo.js";
import type { Source, SourceDescription } from "./source.js";

export interface StreamedLoad {
  start: bigint;
  length: number;
  fileOffset: number;
}

export interface StreamedElfHead {
  machine: number;
  notes: Note[];
  /** PT_LOADs with bytes, in file order (which must also be address order). */
  loads: StreamedLoad[];
}

/** Reads the ELF header, program headers and notes from the front of the stream. */
export async function readElfHead(stream: FifoReader, what: string): Promise<StreamedElfHead> {
  const bad = (offset: number, message: string) =>
    new MemimageError("source", `${what}: ${message} (at offset ${offset})`);
  const { header, problem } = decodeElfHeader(await stream.readExactly(ELF_HEADER_SIZE));
  if (!header) throw bad(0, problem ?? "not an ELF file");
  if (header.type !== ET_CORE) throw bad(16, `ELF type ${header.type} is not a core file`);
  if (header.phnum === PN_XNUM || header.phentsize !== PROGRAM_HEADER_SIZE)
    throw bad(54, "program header table this reader cannot stream (PN_XNUM or odd entry size)");
  if (header.phoff < ELF_HEADER_SIZE) throw bad(32, "program headers overlap the ELF header");
  await stream.skipTo(header.phoff);
  const table = await stream.readExactly(header.phnum * PROGRAM_HEADER_SIZE);
  const programs = Array.from({ length: header.phnum }, (_, i) =>
    decodeProgramHeader(table, i * PROGRAM_HEADER_SIZE),
  );
  const notes: Note[] = [];
  for (const p of programs.filter((q) => q.type === PT_NOTE).sort((a, b) => a.offset - b.offset)) {
    if (p.offset < stream.position) throw bad(p.offset, "notes before the program headers' end");
    await stream.skipTo(p.offset);
    notes.push(...decodeNotes(await stream.readExactly(p.filesz)));
  }
  const loads: StreamedLoad[] = [];
  for (const p of programs) {
    if (p.type !== PT_LOAD || p.filesz === 0) continue;
    if (p.filesz !== p.memsz)
      throw bad(p.offset, `PT_LOAD at ${hex(p.paddr)} stores fewer bytes than it maps`);
    const previous = loads[loads.length - 1];
    if (previous && (p.offset < previous.fileOffset + previous.length || p.paddr < regionEnd(previous)))
      throw bad(p.offset, "PT_LOADs are not in ascending file and address order, so they cannot be streamed");
    if (p.offset < stream.position) throw bad(p.offset, "memory data overlaps the headers or notes");
    loads.push({ start: p.paddr, length: p.filesz, fileOffset: p.offset });
  }
  const problem2 = mapProblem(loads);
  if (problem2) throw bad(header.phoff, problem2);
  return { machine: header.machine, notes, loads };
}

/** Serves the PT_LOADs' bytes as they come; a read before the stream's position is a bug and says so. */
export class ElfStreamSource implements Source {
  private index = 0;

  constructor(
    readonly description: SourceDescription,
    private readonly stream: FifoReader,
    readonly head: StreamedElfHead,
    private readonly kindOf: (start: bigint, length: number) => string = () => "RAM",
  ) {}

  async map(): Promise<Region[]> {
    return this.head.loads.map((l) => ({
      start: l.start,
      length: l.length,
      readable: true,
      kind: this.kindOf(l.start, l.length),
    }));
  }

  /** The stream position just past the last byte of memory: when it is reached, the dump is all read. */
  get done(): boolean {
    const last = this.head.loads[this.head.loads.length - 1];
    return !last || this.stream.position >= last.fileOffset + last.length;
  }

  async read(address: bigint, into: Uint8Array): Promise<number> {
    while (
      this.index < this.head.loads.length &&
      address >= regionEnd(this.head.loads[this.index] as StreamedLoad)
    )
      this.index++;
    const load = this.head.loads[this.index];
    if (!load || address < load.start)
      throw new MemimageError("source", `no PT_LOAD in the stream holds ${hex(address)}`);
    const offset = load.fileOffset + Number(address - load.start);
    if (offset < this.stream.position)
      throw new MemimageError(
        "source",
        `${hex(address)} was already passed in the stream (reads must ascend)`,
      );
    await this.stream.skipTo(offset);
    const length = Math.min(into.length, load.fileOffset + load.length - offset);
    return this.stream.read(into.subarray(0, length));
  }

  async close(): Promise<void> {
    await this.stream.close();
  }
}
