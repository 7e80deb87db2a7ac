// /proc/kcore: the kernel's ELF core view of itself. PT_LOADs of RAM in the direct map carry the physical
// address in p_paddr; vmalloc and module areas carry -1. The kernel-text PT_LOAD also has a p_paddr and overlaps
// RAM: the same physical pages through another mapping, so either may be read.
import { type FileHandle, open } from "node:fs/promises";
import { errnoCode, MemimageError } from "../core/errors.js";
import type { Span } from "../core/map.js";
import { decodeElfHeader, ET_CORE, PROGRAM_HEADER_SIZE, PT_LOAD } from "../formats/elf.js";
import { Coverage } from "./coverage.js";
import { whyDenied } from "./denial.js";
import { readSystemRam } from "./iomem.js";
import { type Location, PhysicalFileSource } from "./physical-file.js";
import { physicalMap } from "./physical-map.js";
import type { SourceDescription } from "./source.js";

const NO_PADDR = 0xffff_ffff_ffff_ffffn;

export interface KcoreSegment {
  paddr: bigint;
  vaddr: bigint;
  /** A bigint: with KASLR, kcore's file offsets (virtual address - PAGE_OFFSET) can pass 2^53. */
  offset: bigint;
  length: number;
}

/** The PT_LOADs that have a physical address. Fails with a reason if not a kcore. */
export async function readKcoreSegments(file: FileHandle, path: string): Promise<KcoreSegment[]> {
  const head = Buffer.alloc(64);
  const { bytesRead } = await file.read(head, 0, 64, 0);
  if (bytesRead === 0)
    throw new MemimageError(
      "source",
      `${path} is empty: a container masks it (bind-mounts /dev/null over it); run on the host, or use memimage vm from the hypervisor`,
    );
  const { header, problem } = decodeElfHeader(head);
  if (!header || header.type !== ET_CORE)
    throw new MemimageError("source", `${path}: ${problem ?? "not a core"}`);
  const table = Buffer.alloc(header.phnum * header.phentsize);
  await file.read(table, 0, table.length, header.phoff);
  const segments: KcoreSegment[] = [];
  for (let i = 0; i < header.phnum; i++) {
    // Read as bigints here rather than with decodeProgramHeader: vmalloc's size and KASLR'd offsets pass 2^53.
    const at = i * (header.phentsize || PROGRAM_HEADER_SIZE);
    const paddr = table.readBigUInt64LE(at + 24);
    const filesz = table.readBigUInt64LE(at + 32);
    if (table.readUInt32LE(at) !== PT_LOAD || paddr === NO_PADDR || filesz === 0n) continue;
    if (filesz > BigInt(Number.MAX_SAFE_INTEGER)) continue; // not RAM: no machine has 8 PiB
    segments.push({
      paddr,
      vaddr: table.readBigUInt64LE(at + 16),
      offset: table.readBigUInt64LE(at + 8),
      length: Number(filesz),
    });
  }
  return segments;
}

export class KcoreSource extends PhysicalFileSource {
  readonly description: SourceDescription;

  private constructor(
    file: FileHandle,
    path: string,
    private readonly segments: KcoreSegment[],
    map: ReturnType<typeof physicalMap>,
    coverage: Coverage,
  ) {
    super(file, path, map.regions, coverage);
    this.description = {
      kind: "kcore",
      path,
      addressSpace: "physical",
      details: {
        physicalSegments: segments.length,
        mapFrom: "/proc/iomem System RAM intersected with the PT_LOADs of /proc/kcore that have p_paddr",
        coverage,
      },
    };
  }

  static async open(path = "/proc/kcore", iomemPath = "/proc/iomem"): Promise<KcoreSource> {
    let file: FileHandle;
    try {
      file = await open(path, "r");
    } catch (error) {
      throw new MemimageError("source", await whyDenied(path, errnoCode(error)), { cause: error });
    }
    try {
      const segments = await readKcoreSegments(file, path);
      const { ram } = await readSystemRam(iomemPath);
      const map = physicalMap(
        ram,
        segments.map((s) => ({ start: s.paddr, length: s.length })),
        `${path} has no PT_LOAD for this System RAM`,
      );
      return new KcoreSource(file, path, segments, map, new Coverage(ram, map.notOffered));
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  protected locate(address: bigint): Location | undefined {
    for (const s of this.segments) {
      if (address >= s.paddr && address < s.paddr + BigInt(s.length)) {
        const into = Number(address - s.paddr);
        return { offset: s.offset + BigInt(into), available: s.length - into };
      }
    }
    return undefined;
  }

  /** kcore's PT_LOADs that have a physical address, with their kernel virtual addresses (for an ELF vmcore). */
  physicalSegments(): readonly KcoreSegment[] {
    return this.segments;
  }

  /** The physical spans kcore offers (for tests and the report). */
  offered(): Span[] {
    return this.segments.map((s) => ({ start: s.paddr, length: s.length }));
  }
}
