// LiME: a sequence of records, each a 32-byte header and then the bytes of one physical range.
// Header (little-endian): u32 magic 0x4C694D45 ("EMiL" on disk), u32 version 1, u64 first address,
// u64 LAST address (inclusive: length = last - first + 1), 8 reserved zero bytes.
// The inclusive end is converted to memimage's exclusive lengths here and nowhere else.
import type { FileHandle } from "node:fs/promises";
import { badImage } from "../core/errors.js";
import { hex, regionEnd, subtractSpans } from "../core/map.js";
import type { Chunk, Format, FormatWriter, Piece } from "./format.js";
import type { ImageLayout, Segment } from "./segments.js";

export const LIME_MAGIC = 0x4c694d45;
export const LIME_VERSION = 1;
export const LIME_HEADER_SIZE = 32;

export interface RecordHeader {
  magic: number;
  version: number;
  start: bigint;
  length: number;
}

export function encodeRecordHeader(
  start: bigint,
  length: number,
  magic = LIME_MAGIC,
  version = LIME_VERSION,
): Buffer {
  const header = Buffer.alloc(LIME_HEADER_SIZE);
  header.writeUInt32LE(magic, 0);
  header.writeUInt32LE(version, 4);
  header.writeBigUInt64LE(start, 8);
  header.writeBigUInt64LE(start + BigInt(length) - 1n, 16); // inclusive last address
  return header;
}

/** Decodes one header; `where` names the file and offset for errors. */
export function decodeRecordHeader(
  bytes: Buffer,
  path: string,
  offset: number,
  expect = { magic: LIME_MAGIC, version: LIME_VERSION },
): RecordHeader {
  const magic = bytes.readUInt32LE(0);
  if (magic !== expect.magic) {
    throw badImage(
      path,
      offset,
      `bad record magic 0x${magic.toString(16).padStart(8, "0")}, expected 0x${expect.magic.toString(16)}`,
    );
  }
  const version = bytes.readUInt32LE(4);
  if (version !== expect.version)
    throw badImage(path, offset, `unsupported version ${version}, expected ${expect.version}`);
  const start = bytes.readBigUInt64LE(8);
  const last = bytes.readBigUInt64LE(16);
  if (last < start)
    throw badImage(path, offset, `record ends at ${hex(last)}, before its start ${hex(start)}`);
  const length = last - start + 1n;
  if (length > BigInt(Number.MAX_SAFE_INTEGER))
    throw badImage(path, offset, `record length ${length} is too large`);
  return { magic, version, start, length: Number(length) };
}

/** Writes one record per readable run of each block, so unreadable bytes are left out, not zero-filled. */
export class RecordWriter implements FormatWriter {
  constructor(
    private readonly magic = LIME_MAGIC,
    private readonly version = LIME_VERSION,
  ) {}

  *begin(): Iterable<Piece> {}

  *chunk(chunk: Chunk): Iterable<Piece> {
    for (const run of subtractSpans(chunk.address, chunk.data.length, chunk.holes)) {
      const offset = Number(run.start - chunk.address);
      yield encodeRecordHeader(run.start, run.length, this.magic, this.version);
      yield chunk.data.subarray(offset, offset + run.length);
    }
  }

  *unreadable(): Iterable<Piece> {}

  *end(): Iterable<Piece> {}
}

/** Walks the record headers of a file and returns where each record's bytes are. */
export async function readRecordLayout(
  file: FileHandle,
  path: string,
  size: number,
  format: string,
  magic = LIME_MAGIC,
  version = LIME_VERSION,
): Promise<ImageLayout> {
  const segments: Segment[] = [];
  const header = Buffer.alloc(LIME_HEADER_SIZE);
  let offset = 0;
  let previousEnd = -1n;
  while (offset < size) {
    if (size - offset < LIME_HEADER_SIZE) {
      throw badImage(
        path,
        offset,
        `truncated: ${size - offset} bytes left where a ${LIME_HEADER_SIZE}-byte record header should be`,
      );
    }
    await file.read(header, 0, LIME_HEADER_SIZE, offset);
    const record = decodeRecordHeader(header, path, offset, { magic, version });
    if (record.start < previousEnd) {
      throw badImage(
        path,
        offset,
        `record at ${hex(record.start)} overlaps or descends below the previous record, which ends at ${hex(previousEnd)}`,
      );
    }
    const dataOffset = offset + LIME_HEADER_SIZE;
    if (dataOffset + record.length > size) {
      throw badImage(
        path,
        offset,
        `truncated: record ${hex(record.start)}+${record.length} needs ${record.length} bytes but only ${size - dataOffset} remain`,
      );
    }
    segments.push({
      start: record.start,
      length: record.length,
      fileOffset: dataOffset,
      stored: true,
      kind: "record",
    });
    previousEnd = regionEnd(record);
    offset = dataOffset + record.length;
  }
  if (segments.length === 0) throw badImage(path, 0, "empty file: no LiME records");
  return {
    format,
    addressSpace: "physical",
    segments,
    fileSize: size,
    details: { records: segments.length },
  };
}

export const lime: Format = {
  name: "lime",
  summary:
    "LiME v1: a 32-byte header per range (inclusive end), then its bytes. Volatility 3, LiME, AVML read it.",
  leavesOutUnreadable: true,
  detect: (head) =>
    head.length >= 4 && Buffer.from(head.buffer, head.byteOffset, 4).readUInt32LE(0) === LIME_MAGIC,
  createWriter: () => new RecordWriter(),
  readLayout: (file, path, size) => readRecordLayout(file, path, size, "lime"),
};
