// raw: the regions' bytes one after another, no headers. Addresses are lost; the report's map restores them.
import { badImage } from "../core/errors.js";
import { totalLength } from "../core/map.js";
import { type Format, type FormatWriter, type Piece, segmentsFromMap, zeros } from "./format.js";
import { storedOnlyWhereReadable, wholeFile } from "./layout-hints.js";

class RawWriter implements FormatWriter {
  *begin(): Iterable<Piece> {}
  *chunk(chunk: { data: Uint8Array }): Iterable<Piece> {
    yield chunk.data;
  }
  *unreadable(region: { length: number }): Iterable<Piece> {
    yield* zeros(region.length);
  }
  *end(): Iterable<Piece> {}
}

export const raw: Format = {
  name: "raw",
  summary:
    "raw: the ranges' bytes concatenated, no headers (addresses only in the report). Any tool that reads bytes.",
  leavesOutUnreadable: false,
  detect: () => false,
  createWriter: () => new RawWriter(),
  async readLayout(_file, path, size, hints) {
    if (!hints.map) return wholeFile("raw", path, size);
    const expected = totalLength(hints.map);
    if (expected !== size)
      throw badImage(
        path,
        Math.min(expected, size),
        `the report's map covers ${expected} bytes but the file has ${size}`,
      );
    let offset = 0;
    const segments = segmentsFromMap(hints.map, (r) => {
      const at = offset;
      offset += r.length;
      return at;
    });
    return {
      format: "raw",
      addressSpace: "physical",
      segments: storedOnlyWhereReadable(segments, hints.map),
      fileSize: size,
      details: { mapFrom: "report" },
    };
  },
};
