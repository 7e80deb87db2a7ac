// AVML compressed (Microsoft's AVML): LiME's 32-byte record header with magic 0x4C4D5641 ("AVML") and version 2,
// then the record's bytes as one Snappy framed stream, then a u64 LE: the length of that stream in bytes.
// AVML cuts ranges into records of at most 16 MiB and leaves out all-zero records; memimage writes one record per
// readable run of each 512 KiB block and leaves out the all-zero ones too. Readers accept any record size and gaps.
import type { FileHandle } from "node:fs/promises";
import { badImage } from "../core/errors.js";
import { hex, type Region, regionEnd, type Span, subtractSpans } from "../core/map.js";
import type { Chunk, Format, FormatWriter, LayoutHints, Piece } from "./format.js";
import { decodeRecordHeader, encodeRecordHeader, LIME_HEADER_SIZE } from "./lime.js";
import type { ImageLayout, Segment, SegmentReader } from "./segments.js";
import {
  CHUNK_STREAM_IDENTIFIER,
  chunkDataLength,
  decodeChunk,
  decodeChunkHeader,
  encodeFramed,
  encodeFramedInto,
  FRAME_CHUNK_HEADER,
  FRAME_CRC_SIZE,
  FrameError,
  MAX_CHUNK_DATA,
  maxFramedLength,
} from "./snappy-frame.js";

export const AVML_MAGIC = 0x4c4d5641;
export const AVML_VERSION = 2;
const TRAILER_SIZE = 8;
const EXPECT = { magic: AVML_MAGIC, version: AVML_VERSION };
const ZERO_PAGE = new Uint8Array(MAX_CHUNK_DATA);

export function isAllZero(bytes: Uint8Array): boolean {
  for (let at = 0; at < bytes.length; at += ZERO_PAGE.length) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + ZERO_PAGE.length));
    if (
      !Buffer.from(piece.buffer, piece.byteOffset, piece.length).equals(ZERO_PAGE.subarray(0, piece.length))
    )
      return false;
  }
  return true;
}

/** One record: header, framed stream, trailing length. */
export function encodeAvmlRecord(start: bigint, data: Uint8Array): Buffer[] {
  const framed = encodeFramed(data);
  const trailer = Buffer.alloc(TRAILER_SIZE);
  trailer.writeBigUInt64LE(BigInt(framed.length));
  return [encodeRecordHeader(start, data.length, AVML_MAGIC, AVML_VERSION), framed, trailer];
}

/** Writes one record into `out` at `at` (room for recordRoom(data.length) bytes); returns its length. */
function encodeAvmlRecordInto(start: bigint, data: Uint8Array, out: Buffer, at: number): number {
  encodeRecordHeader(start, data.length, AVML_MAGIC, AVML_VERSION).copy(out, at);
  const framed = encodeFramedInto(data, out, at + LIME_HEADER_SIZE);
  out.writeBigUInt64LE(BigInt(framed), at + LIME_HEADER_SIZE + framed);
  return LIME_HEADER_SIZE + framed + TRAILER_SIZE;
}

const recordRoom = (length: number) => LIME_HEADER_SIZE + maxFramedLength(length) + TRAILER_SIZE;

/**
 * The pipeline reads into a ring of three blocks and calls chunk() for a block only once the block three before it
 * is hashed and written (run.ts), so the output buffer of the third chunk() before is free again: a ring of three
 * output buffers, each written into again only after the sink took what it held. No garbage per block.
 */
const OUTPUT_RING = 3;
/**
 * The pipeline's blocks for AVML: its output ring is as large as the pipeline's input ring (three blocks), so smaller
 * blocks bound both. Measured on 2 GiB of random bytes (docs/benchmarks.md, avml): peak RSS 2 MiB blocks 75 MiB,
 * 1 MiB 69, 512 KiB 67, 256 KiB 67, LiME output 66.
 */
const AVML_BLOCK_SIZE = 512 << 10;

class AvmlWriter implements FormatWriter {
  private readonly ring: Buffer[] = [];
  private next = 0;

  *begin(): Iterable<Piece> {}

  *chunk(chunk: Chunk): Iterable<Piece> {
    // All-zero runs are left out, as AVML does; the report's map says these bytes were read (and zero).
    const runs = subtractSpans(chunk.address, chunk.data.length, chunk.holes).filter((run) => {
      const offset = Number(run.start - chunk.address);
      return !isAllZero(chunk.data.subarray(offset, offset + run.length));
    });
    if (runs.length === 0) return;
    const room = runs.reduce((n, run) => n + recordRoom(run.length), 0);
    let out = this.ring[this.next];
    if (!out || out.length < room) {
      out = Buffer.allocUnsafe(Math.max(room, recordRoom(chunk.data.length)));
      this.ring[this.next] = out;
    }
    this.next = (this.next + 1) % OUTPUT_RING;
    let end = 0;
    for (const run of runs) {
      const offset = Number(run.start - chunk.address);
      end += encodeAvmlRecordInto(run.start, chunk.data.subarray(offset, offset + run.length), out, end);
    }
    yield out.subarray(0, end);
  }

  *unreadable(): Iterable<Piece> {}

  *end(): Iterable<Piece> {}
}

interface StoredRecord {
  /** File offset of the framed stream. */
  streamOffset: number;
  streamLength: number;
}

/** Walks the records: each framed stream's chunk headers up to the record's length, then the trailing length. */
async function readAvmlLayout(
  file: FileHandle,
  path: string,
  size: number,
  hints: LayoutHints,
): Promise<ImageLayout> {
  const segments: Segment[] = [];
  const records = new Map<Segment, StoredRecord>();
  const header = Buffer.alloc(LIME_HEADER_SIZE);
  const peek = Buffer.alloc(FRAME_CHUNK_HEADER + FRAME_CRC_SIZE + 5);
  let offset = 0;
  let previousEnd = -1n;
  const need = (at: number, bytes: number, what: string) => {
    if (at + bytes > size)
      throw badImage(
        path,
        at,
        `truncated: ${size - at} bytes left where ${what} of ${bytes} bytes should be`,
      );
  };
  while (offset < size) {
    need(offset, LIME_HEADER_SIZE, "a record header");
    await file.read(header, 0, LIME_HEADER_SIZE, offset);
    const record = decodeRecordHeader(header, path, offset, EXPECT);
    if (record.start < previousEnd)
      throw badImage(
        path,
        offset,
        `record at ${hex(record.start)} overlaps or descends below the previous record, which ends at ${hex(previousEnd)}`,
      );
    const streamOffset = offset + LIME_HEADER_SIZE;
    let at = streamOffset;
    let produced = 0;
    while (produced < record.length) {
      need(at, FRAME_CHUNK_HEADER, "a snappy chunk header");
      const { bytesRead } = await file.read(peek, 0, Math.min(peek.length, size - at), at);
      const { type, dataLength } = decodeChunkHeader(peek, 0);
      if (at === streamOffset && type !== CHUNK_STREAM_IDENTIFIER)
        throw badImage(path, at, `snappy stream of record ${hex(record.start)} has no stream identifier`);
      need(at + FRAME_CHUNK_HEADER, dataLength, "a snappy chunk");
      try {
        produced += chunkDataLength(type, dataLength, peek.subarray(FRAME_CHUNK_HEADER, bytesRead), 0);
      } catch (error) {
        if (error instanceof FrameError) throw badImage(path, at, error.message);
        throw error;
      }
      at += FRAME_CHUNK_HEADER + dataLength;
    }
    if (produced !== record.length)
      throw badImage(
        path,
        at,
        `snappy stream of record ${hex(record.start)} holds ${produced} bytes, its header says ${record.length}`,
      );
    need(at, TRAILER_SIZE, "the record's trailing length");
    const trailer = Buffer.alloc(TRAILER_SIZE);
    await file.read(trailer, 0, TRAILER_SIZE, at);
    const stated = trailer.readBigUInt64LE(0);
    if (stated !== BigInt(at - streamOffset))
      throw badImage(
        path,
        at,
        `wrong trailer: record ${hex(record.start)} says its snappy stream is ${stated} bytes, it is ${at - streamOffset}`,
      );
    const segment: Segment = {
      start: record.start,
      length: record.length,
      fileOffset: streamOffset,
      stored: true,
      kind: "record",
    };
    segments.push(segment);
    records.set(segment, { streamOffset, streamLength: at - streamOffset });
    previousEnd = regionEnd(record);
    offset = at + TRAILER_SIZE;
  }
  if (segments.length === 0) throw badImage(path, 0, "empty file: no AVML records");
  const recordCount = segments.length;
  const zeroSegments = hints.map ? skippedZeros(hints.map, segments, hints.holes ?? []) : [];
  return {
    format: "avml",
    addressSpace: "physical",
    segments: [...segments, ...zeroSegments],
    fileSize: size,
    details: { records: recordCount, ...(hints.map ? { zeroSkipped: zeroSegments.length } : {}) },
    reader: new FramedReader(file, path, records),
  };
}

/** Where the report's map says bytes were read but no record stores them: the all-zero records left out. */
function skippedZeros(map: readonly Region[], stored: readonly Span[], holes: readonly Span[]): Segment[] {
  const absent = [...stored, ...holes].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return map
    .filter((r) => r.readable)
    .flatMap((r) => subtractSpans(r.start, r.length, absent).map((s) => ({ ...s, r })))
    .map(({ start, length, r }) => ({ start, length, fileOffset: -1, stored: true, kind: r.kind }));
}

/**
 * Decodes records a chunk (64 KiB) at a time. Reads come in address order, so it keeps its place in the record
 * last read and goes on from there; a read behind that place starts the record's stream again.
 */
class FramedReader implements SegmentReader {
  private segment: Segment | undefined;
  private next = 0; // file offset of the next chunk
  private chunkStart = 0; // offset in the record of `chunk`
  private chunk: Buffer = Buffer.alloc(0);
  private readonly window = Buffer.alloc(FRAME_CHUNK_HEADER + FRAME_CRC_SIZE + MAX_CHUNK_DATA + 4096);

  constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    private readonly records: ReadonlyMap<Segment, StoredRecord>,
  ) {}

  async read(segment: Segment, offset: number, into: Uint8Array): Promise<number> {
    const record = this.records.get(segment);
    if (!record) {
      into.fill(0); // an all-zero record AVML left out
      return into.length;
    }
    if (this.segment !== segment || offset < this.chunkStart) {
      this.segment = segment;
      this.next = record.streamOffset;
      this.chunkStart = 0;
      this.chunk = Buffer.alloc(0);
    }
    while (offset >= this.chunkStart + this.chunk.length) {
      if (this.next >= record.streamOffset + record.streamLength)
        throw badImage(this.path, this.next, `snappy stream of record ${hex(segment.start)} ended early`);
      const data = await this.nextChunk();
      if (data) {
        this.chunkStart += this.chunk.length;
        this.chunk = data;
      }
    }
    const from = offset - this.chunkStart;
    const count = Math.min(into.length, this.chunk.length - from);
    into.set(this.chunk.subarray(from, from + count));
    return count;
  }

  private async nextChunk(): Promise<Buffer | undefined> {
    const at = this.next;
    let { bytesRead } = await this.file.read(this.window, 0, this.window.length, at);
    const { dataLength } = decodeChunkHeader(this.window, 0);
    let chunk: Buffer = this.window;
    if (FRAME_CHUNK_HEADER + dataLength > this.window.length) {
      chunk = Buffer.alloc(FRAME_CHUNK_HEADER + dataLength); // a skippable chunk larger than any data chunk
      ({ bytesRead } = await this.file.read(chunk, 0, chunk.length, at));
    }
    if (bytesRead < FRAME_CHUNK_HEADER + dataLength) throw badImage(this.path, at, "truncated snappy chunk");
    this.next = at + FRAME_CHUNK_HEADER + dataLength;
    try {
      const data = decodeChunk(chunk.subarray(0, FRAME_CHUNK_HEADER + dataLength), 0);
      return data ? Buffer.from(data) : undefined; // own the bytes: the window is reused
    } catch (error) {
      if (error instanceof FrameError) throw badImage(this.path, at, error.message);
      throw error;
    }
  }
}

export const avml: Format = {
  name: "avml",
  summary:
    "AVML compressed: LiME-style headers (magic AVML, version 2), each record's bytes as a Snappy framed stream and its length. AVML, Volatility 3 read it.",
  leavesOutUnreadable: true,
  detect: (head) =>
    head.length >= 4 && Buffer.from(head.buffer, head.byteOffset, 4).readUInt32LE(0) === AVML_MAGIC,
  createWriter: () => new AvmlWriter(),
  blockSize: AVML_BLOCK_SIZE,
  readLayout: readAvmlLayout,
};
