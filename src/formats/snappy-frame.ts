// The Snappy framing format (google/snappy framing_format.txt), written here around a raw block compressor: a
// stream identifier chunk, then chunks of at most 64 KiB of data each, compressed or stored, each with the masked
// CRC-32C of its uncompressed bytes. A chunk header is one type byte and a 24-bit LE length. encodeFramed() returns
// one whole stream (encodeFramedInto() writes it into a given buffer); decodeChunk() reads one back a chunk at a
// time.
import { loadAddon, requireNativePackage } from "../core/native.js";
import { youngGarbageCollector } from "../core/young-garbage.js";

/** native/snappy.c: libsnappy's raw blocks, written into buffers the caller owns, and CRC-32C. */
interface NativeSnappy {
  compress(input: Uint8Array, output: Uint8Array): number;
  uncompress(input: Uint8Array, output: Uint8Array): number;
  maxCompressedLength(length: number): number;
  crc32c?(input: Uint8Array): number;
}

/** A raw block codec. compress() returns a view valid until its next call. */
interface BlockCodec {
  compress(piece: Uint8Array): Uint8Array;
  /** The uncompressed bytes, or undefined if `block` is not a valid snappy block. */
  uncompress(block: Uint8Array): Buffer | undefined;
  /** Whether each compress() leaves garbage outside V8's heap (the npm package's buffers). */
  leavesGarbage: boolean;
  crc32c(data: Uint8Array): number;
  name: string;
}

let loaded: BlockCodec | undefined;
/**
 * Loaded on first use (every format is registered at start-up, few runs use AVML): memimage's addon over libsnappy
 * when it was built, else the npm `snappy` package, whose output bytes are the same (Google's algorithm), with the
 * npm @node-rs/crc32 (3.5 MiB of RSS once loaded, which the addon's CRC-32C saves).
 */
export function blockCodec(): BlockCodec {
  if (loaded) return loaded;
  const native = loadAddon<NativeSnappy>("memimage_snappy").binding;
  if (native) {
    const scratch = Buffer.allocUnsafe(native.maxCompressedLength(MAX_CHUNK_DATA));
    const window = Buffer.allocUnsafe(MAX_CHUNK_DATA);
    loaded = {
      name: "libsnappy (memimage_snappy addon)",
      leavesGarbage: false,
      // An addon built before it had crc32c (source updated without npm install) still compresses.
      crc32c: native.crc32c ?? requireNativePackage<typeof import("@node-rs/crc32")>("@node-rs/crc32").crc32c,
      compress: (piece) => scratch.subarray(0, native.compress(piece, scratch)),
      uncompress: (block) => {
        const length = native.uncompress(block, window);
        return length < 0 ? undefined : Buffer.from(window.subarray(0, length));
      },
    };
  } else {
    const snappy = requireNativePackage<typeof import("snappy")>("snappy");
    const { crc32c } = requireNativePackage<typeof import("@node-rs/crc32")>("@node-rs/crc32");
    loaded = {
      name: "snappy (npm)",
      leavesGarbage: true,
      crc32c,
      // Asked to make its buffer on the V8 heap (copyOutputData), where the collector sees it and frees it soon.
      compress: (piece) => snappy.compressSync(piece, { copyOutputData: true }),
      uncompress: (block) => {
        try {
          return snappy.uncompressSync(block) as Buffer;
        } catch {
          return undefined;
        }
      },
    };
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
  const crc = blockCodec().crc32c(data);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** The most bytes a framed stream of `length` bytes can take: identifier, then every chunk stored at worst. */
export function maxFramedLength(length: number): number {
  return STREAM_IDENTIFIER.length + Math.ceil(length / MAX_CHUNK_DATA) * (CHUNK_HEADER + CRC_SIZE) + length;
}

/** One framed stream holding `data`, in a buffer of its own. */
export function encodeFramed(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(maxFramedLength(data.length));
  return out.subarray(0, encodeFramedInto(data, out, 0));
}

/**
 * Writes one framed stream holding `data` into `out` at `at` (room for maxFramedLength(data.length) bytes), and
 * returns its length. A chunk is stored uncompressed when compression saves less than 1/8 of it, as the Rust snap
 * crate that AVML uses does, so incompressible memory costs 8 bytes per 64 KiB. (Handing the sink such chunks as
 * views of `data` instead of copies made 32 pieces of 8 bytes per 2 MiB: more CPU, and no less RSS.)
 */
export function encodeFramedInto(data: Uint8Array, out: Buffer, at: number): number {
  const codec = blockCodec();
  let end = at + STREAM_IDENTIFIER.copy(out, at);
  for (let offset = 0; offset < data.length; offset += MAX_CHUNK_DATA) {
    const piece = data.subarray(offset, Math.min(data.length, offset + MAX_CHUNK_DATA));
    const crc = maskedCrc32c(piece);
    const compressed = codec.compress(piece);
    const stored = compressed.length < piece.length - (piece.length >> 3) ? compressed : piece;
    const type = stored === compressed ? CHUNK_COMPRESSED : CHUNK_UNCOMPRESSED;
    out.writeUInt32LE((type | ((CRC_SIZE + stored.length) << 8)) >>> 0, end);
    out.writeUInt32LE(crc, end + CHUNK_HEADER);
    end += CHUNK_HEADER + CRC_SIZE;
    out.set(stored, end);
    end += stored.length;
  }
  if (codec.leavesGarbage) collectCompressorGarbage(data.length);
  return end - at;
}

/**
 * Only for the npm package (when the addon was not built): its buffers are garbage as soon as they are copied out,
 * but V8 collects memory outside its heap late: AVML output peaked at 110 MiB where LiME takes 62. A young-generation
 * collection after every 8 MiB compressed frees them (82 MiB peak).
 */
const collectCompressorGarbage = youngGarbageCollector(8 << 20);

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
    let data: Buffer | undefined;
    if (type === CHUNK_UNCOMPRESSED) data = body.subarray(CRC_SIZE);
    else {
      const claimed = chunkDataLength(type, dataLength, body, offset);
      if (claimed > MAX_CHUNK_DATA)
        throw new FrameError(offset, `snappy chunk holds ${claimed} bytes, more than ${MAX_CHUNK_DATA}`);
      data = blockCodec().uncompress(body.subarray(CRC_SIZE));
      if (!data) throw new FrameError(offset, "corrupt snappy block: it does not decompress");
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
