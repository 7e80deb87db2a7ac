import type { FileHandle } from "node:fs/promises";
import type { Region, Span } from "../core/map.js";
import type { VirtualMapping } from "../kernel/mapping.js";
import type { SourceDescription } from "../sources/source.js";
import type { Note } from "./elf.js";
import type { ImageLayout, Segment } from "./segments.js";

/** What a writer emits: bytes, or a run of zeros that a sink may write as it likes (a hash still sees the zeros). */
export type Piece = Uint8Array | { zeros: number };

/** One block read by the pipeline: its bytes, with unreadable parts already zero-filled and listed in `holes`. */
export interface Chunk {
  region: Region;
  address: bigint;
  data: Uint8Array;
  holes: readonly Span[];
}

export interface WriteContext {
  source: SourceDescription;
  /** ELF notes the source supplies for a core (a process source gives NT_PRSTATUS, NT_FILE and the like). */
  notes?: Note[];
  /**
   * Regions a core declares without storing their bytes (a process's mappings its filter leaves out): PT_LOAD with
   * p_filesz 0, as the kernel writes them. They are not read, so they are not unreadable; formats without such a
   * header ignore them.
   */
  declared?: readonly Region[];
  /** Kernel virtual addresses of physical ranges: an ELF physical core gives its PT_LOADs these p_vaddr (vmcore). */
  virtualMappings?: readonly VirtualMapping[];
  /** ELF e_machine of what was imaged, when it is not this host's (a guest's, from QEMU's dump). */
  machine?: number;
}

/**
 * A streaming writer. The pipeline calls begin() with the whole map, then chunk() for every block in address order
 * (unreadable() for a region the source could not read at all), then end(). Each returns the pieces to write next.
 */
export interface FormatWriter {
  begin(map: readonly Region[], context: WriteContext): Iterable<Piece>;
  chunk(chunk: Chunk): Iterable<Piece>;
  unreadable(region: Region): Iterable<Piece>;
  end(): Iterable<Piece>;
}

/** What a reader may be told besides the file: the map of the acquisition, from its report. */
export interface LayoutHints {
  /** Regions in the order the image stores them (raw and padded images carry no addresses of their own). */
  map?: readonly Region[];
  /** Spans the acquisition could not read: zero-filled in the file, so not memory. */
  holes?: readonly Span[];
}

export interface Format {
  name: string;
  summary: string;
  /** Whether the format can leave unreadable bytes out; otherwise they are zero-filled. */
  leavesOutUnreadable: boolean;
  /** True if the first bytes of a file say it is in this format. */
  detect(head: Uint8Array): boolean;
  createWriter(): FormatWriter;
  /** The pipeline's block size this format's writer wants, if not the default (2 MiB). */
  blockSize?: number;
  readLayout(file: FileHandle, path: string, size: number, hints: LayoutHints): Promise<ImageLayout>;
}

export function segmentsFromMap(
  map: readonly Region[],
  offsetOf: (region: Region, index: number) => number,
): Segment[] {
  return map.map((r, i) => ({
    start: r.start,
    length: r.length,
    fileOffset: offsetOf(r, i),
    stored: true,
    kind: r.kind,
    ...(r.perms ? { perms: r.perms } : {}),
  }));
}

export function* zeros(length: number): Iterable<Piece> {
  if (length > 0) yield { zeros: length };
}
