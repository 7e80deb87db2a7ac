import type { FileHandle } from "node:fs/promises";
import { UnreadableError } from "../core/errors.js";
import { type AddressSpace, coalesce, hex, type Region, regionEnd, type Span } from "../core/map.js";
import type { Source, SourceDescription } from "../sources/source.js";

/** Where a run of addresses is stored in an image file. Every format reader reduces an image to these. */
export interface Segment {
  start: bigint;
  length: number;
  fileOffset: number;
  /** False for a segment the image declares but does not store (an ELF PT_LOAD with p_filesz 0). */
  stored: boolean;
  kind: string;
  perms?: string;
}

/** A parsed image: its format and the segments it stores, in file order. */
export interface ImageLayout {
  format: string;
  addressSpace: AddressSpace;
  segments: Segment[];
  /** Bytes of the file that the layout accounts for (headers and data). */
  fileSize: number;
  /** Whatever else the format carries, for `info` (ELF notes, header fields). */
  details: Record<string, unknown>;
  /** How a format that encodes its bytes (AVML's snappy) reads a segment back; absent, bytes are stored as is. */
  reader?: SegmentReader;
}

/** Reads up to `into.length` bytes of a segment from `offset` inside it; returns how many it read. */
export interface SegmentReader {
  read(segment: Segment, offset: number, into: Uint8Array): Promise<number>;
}

/** An image file read back as a source: this is how convert, verify and info read every format. */
export class ImageSource implements Source {
  readonly description: SourceDescription;
  private readonly byAddress: Segment[];

  constructor(
    private readonly file: FileHandle,
    path: string,
    readonly layout: ImageLayout,
    private readonly holes: readonly Span[] = [],
  ) {
    this.description = {
      kind: "image",
      path,
      addressSpace: layout.addressSpace,
      details: { format: layout.format },
    };
    this.byAddress = [...layout.segments].sort((a, b) =>
      a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
    );
  }

  /** The regions, with physical records that a format cut from one range joined again. */
  async map(): Promise<Region[]> {
    const regions: Region[] = this.byAddress.map((s) => ({
      start: s.start,
      length: s.length,
      readable: s.stored,
      kind: s.kind,
      ...(s.perms ? { perms: s.perms } : {}),
    }));
    if (this.layout.addressSpace === "virtual") return regions; // each mapping stays a region of its own
    return coalesce(regions, (a, b) => a.readable === b.readable && a.kind === b.kind && a.perms === b.perms);
  }

  async read(address: bigint, into: Uint8Array): Promise<number> {
    const segment = this.segmentAt(address);
    if (!segment?.stored) throw new UnreadableError(`the image stores no bytes at ${hex(address)}`);
    const wanted = this.readableLengthAt(address, into.length);
    const offsetInSegment = Number(address - segment.start);
    const length = Math.min(wanted, segment.length - offsetInSegment);
    if (this.layout.reader)
      return this.layout.reader.read(segment, offsetInSegment, into.subarray(0, length));
    const { bytesRead } = await this.file.read(into, 0, length, segment.fileOffset + offsetInSegment);
    return bytesRead;
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  /** How many bytes from `address` lie before the next hole; throws if `address` is in one. */
  private readableLengthAt(address: bigint, length: number): number {
    const hole = this.holes.find((h) => address < regionEnd(h) && address + BigInt(length) > h.start);
    if (!hole) return length;
    if (hole.start <= address) {
      throw new UnreadableError(
        "unreadable when acquired (zero-filled in the image)",
        Number(regionEnd(hole) - address),
      );
    }
    return Number(hole.start - address);
  }

  private segmentAt(address: bigint): Segment | undefined {
    let low = 0;
    let high = this.byAddress.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const s = this.byAddress[mid] as Segment;
      if (address < s.start) high = mid - 1;
      else if (address >= regionEnd(s)) low = mid + 1;
      else return s;
    }
    return undefined;
  }
}
