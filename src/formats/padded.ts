// padded: zero-filled from address 0, so a byte's file offset is its physical address.
import { badImage, MemimageError } from "../core/errors.js";
import { hex, regionEnd } from "../core/map.js";
import { type Chunk, type Format, type FormatWriter, type Piece, segmentsFromMap, zeros } from "./format.js";
import { storedOnlyWhereReadable, wholeFile } from "./layout-hints.js";

/** Beyond this a padded file is almost surely a mistake (a virtual address space, a bogus map). */
const MAX_PADDED_END = 2n ** 44n;

class PaddedWriter implements FormatWriter {
  private written = 0n;

  begin(map: readonly { start: bigint; length: number }[]): Iterable<Piece> {
    const last = map[map.length - 1];
    if (last && regionEnd(last) > MAX_PADDED_END) {
      throw new MemimageError(
        "usage",
        `padded output would be ${regionEnd(last)} bytes long (the map ends at ${hex(regionEnd(last))}); use lime or elf`,
      );
    }
    return [];
  }

  *chunk(chunk: Chunk): Iterable<Piece> {
    yield* this.padTo(chunk.address);
    yield chunk.data;
    this.written = chunk.address + BigInt(chunk.data.length);
  }

  *unreadable(region: { start: bigint; length: number }): Iterable<Piece> {
    yield* this.padTo(regionEnd(region));
  }

  *end(): Iterable<Piece> {}

  private *padTo(address: bigint): Iterable<Piece> {
    if (address < this.written)
      throw new RangeError(
        `padded output needs ascending addresses, got ${hex(address)} after ${hex(this.written)}`,
      );
    yield* zeros(Number(address - this.written));
    this.written = address;
  }
}

export const padded: Format = {
  name: "padded",
  summary:
    "padded: zero-filled from address 0, file offset = physical address. Any tool that takes a flat physical file.",
  leavesOutUnreadable: false,
  detect: () => false,
  createWriter: () => new PaddedWriter(),
  async readLayout(_file, path, size, hints) {
    if (!hints.map) return wholeFile("padded", path, size);
    const last = hints.map[hints.map.length - 1];
    if (last && regionEnd(last) > BigInt(size)) {
      throw badImage(
        path,
        size,
        `truncated: the report's map ends at ${hex(regionEnd(last))} but the file has ${size} bytes`,
      );
    }
    const segments = segmentsFromMap(hints.map, (r) => Number(r.start));
    return {
      format: "padded",
      addressSpace: "physical",
      segments: storedOnlyWhereReadable(segments, hints.map),
      fileSize: size,
      details: { mapFrom: "report" },
    };
  },
};
