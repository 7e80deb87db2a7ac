// The Snappy framing format (google/snappy framing_format.txt), written here around the library's raw block
// compressor: a stream identifier chunk, then chunks of at most 64 KiB of data each, compressed or stored, each
// with the masked CRC-32C of its uncompressed bytes. A chunk header is one type byte and a 24-bit LE length.
// encodeFramed() returns one whole stream; FrameDecoder reads one back a chunk at a time.
import { createRequire } from "node:module";

type Snappy = typeof import("snappy");
type Crc32 = typeof import("@node-rs/crc32");
let loaded: { snappy: Snappy; crc: Crc32 } | undefined;
/** The native codecs, loaded on first use: every format is registered at start-up, few runs use AVML. */
function codecs(): { snappy: Snappy; crc: Crc32 } {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    loaded = { snappy: require("snappy") as Snappy, crc: require("@node-rs/crc32") as Crc32 };
  }
  return loaded;
}

export const STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
export const CHUNK_COMPRESSED = 0x00;
export const CHUNK_UNCOMPRESSED = 0x01;
export const CHUNK_PADDING = 0xfe;
export const CHUNK_STREAM_IDENTIFIER = 0xff;
/** Most uncompressed bytes one chunk may hold. */
export const MAX_CHUNK_DATA = 65536;
const CHUNK_HEADER = 4;
const CRC_SIZE = 4;

/** The CRC the framing format stores: CRC-32C rotated right by 15 bits plus a constant, so CRCs of CRCs differ. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = codecs().crc.crc32c(data);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

function chunkHeader(type: number, length: number, crc: number): Buffer {
  const header = Buffer.allocUnsafe(CHUNK_HEADER + CRC_SIZE);
  header.writeUInt32LE((type | (length << 8)) >>> 0, 0);
  header.writeUInt32LE(crc, 4);
  return header;
}

/**
 * One framed stream holding `data`. A chunk is stored uncompressed when compression saves less than 1/8 of it,
 * as the Rust snap crate that AVML uses does, so incompressible memory costs 8 bytes per 64 KiB.
 */
export function encodeFramed(data: Uint8Array): Buffer {
  const parts: Uint8Array[] = [STREAM_IDENTIFIER];
  for (let offset = 0; offset < data.length; offset += MAX_CHUNK_DATA) {
    const piece = data.subarray(offset, Math.min(data.length, offset + MAX_CHUNK_DATA));
    const crc = maskedCrc32c(piece);
    const compressed = codecs().snappy.compressSync(piece);
    if (compressed.length < piece.length - (piece.length >> 3)) {
      parts.push(chunkHeader(CHUNK_COMPRESSED, CRC_SIZE + compressed.length, crc), compressed);
    } else {
      parts.push(chunkHeader(CHUNK_UNCOMPRESSED, CRC_SIZE + piece.length, crc), piece);
    }
  }
  return Buffer.concat(parts);
}

/** Why a framed stream could not be decoded, and where in it (an offset from the stream's first byte). */
export class FrameError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = "FrameError";
  }
}

/** What one chunk header says; `dataLength` is what follows the 4-byte header. */
export interface ChunkHeader {
  type: number;
  dataLength: number;
}

export function decodeChunkHeader(bytes: Uint8Array, at: number): ChunkHeader {
  const word = Buffer.from(bytes.buffer, bytes.byteOffset + at, CHUNK_HEADER).readUInt32LE(0);
  return { type: word & 0xff, dataLength: word >>> 8 };
}

/**
 * The uncompressed bytes of one chunk (with header), or undefined for a chunk that carries none (stream
 * identifier, padding, skippable). Checks the CRC. `offset` is the chunk's place in the stream, for errors.
 */
export function decodeChunk(chunk: Uint8Array, offset: number): Buffer | undefined {
  const { type, dataLength } = decodeChunkHeader(chunk, 0);
  const body = Buffer.from(chunk.buffer, chunk.byteOffset + CHUNK_HEADER, dataLength);
  if (type === CHUNK_STREAM_IDENTIFIER) {
    if (!body.equals(STREAM_IDENTIFIER.subarray(CHUNK_HEADER)))
      throw new FrameError(offset, "bad snappy stream identifier");
    return undefined;
  }
  if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
    if (dataLength < CRC_SIZE) throw new FrameError(offset, `snappy chunk of ${dataLength} bytes has no CRC`);
    const stored = body.readUInt32LE(0);
    let data: Buffer;
    if (type === CHUNK_UNCOMPRESSED) data = body.subarray(CRC_SIZE);
    else {
      try {
        data = codecs().snappy.uncompressSync(body.subarray(CRC_SIZE)) as Buffer;
      } catch {
        throw new FrameError(offset, "corrupt snappy block: it does not decompress");
      }
    }
    if (data.length > MAX_CHUNK_DATA)
      throw new FrameError(offset, `snappy chunk holds ${data.length} bytes, more than ${MAX_CHUNK_DATA}`);
    const actual = maskedCrc32c(data);
    if (actual !== stored)
      throw new FrameError(
        offset,
        `snappy chunk CRC mismatch: stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}`,
      );
    return data;
  }
  if (type >= 0x02 && type <= 0x7f)
    throw new FrameError(offset, `reserved unskippable snappy chunk type 0x${type.toString(16)}`);
  return undefined; // 0x80-0xfd skippable, 0xfe padding
}

/** How many uncompressed bytes a chunk holds, from its header and (for a compressed one) the block's preamble. */
export function chunkDataLength(type: number, dataLength: number, body: Uint8Array, offset: number): number {
  if (type === CHUNK_UNCOMPRESSED) return Math.max(0, dataLength - CRC_SIZE);
  if (type !== CHUNK_COMPRESSED) return 0;
  // A raw snappy block starts with its uncompressed length as a little-endian base-128 varint.
  let length = 0;
  for (let i = 0; i < 5; i++) {
    const byte = body[CRC_SIZE + i];
    if (byte === undefined) break;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return length;
  }
  throw new FrameError(offset, "corrupt snappy block: bad length preamble");
}

export const FRAME_CHUNK_HEADER = CHUNK_HEADER;
export const FRAME_CRC_SIZE = CRC_SIZE;
