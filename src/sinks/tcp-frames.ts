// memimage's TCP framing, shared by the sender (-o tcp://) and `memimage receive`. After an 8-byte magic, frames
// of: u8 type, u32 LE payload length, payload. The sender sends HELLO (JSON), DATA frames (the image's bytes),
// END (JSON: whether the image is complete, and its length), REPORT (the JSON report, with the image's SHA-256);
// the receiver answers with one ACK (JSON: whether it stored a complete, verified image, and where).
export const TCP_MAGIC = Buffer.from("MEMIMGT1", "latin1");
export const FRAME_HEADER = 5;

export const FrameType = {
  hello: 0x48, // H
  data: 0x44, // D
  end: 0x45, // E
  report: 0x52, // R
  ack: 0x41, // A
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export interface Hello {
  tool: string;
  version: string;
  host: string;
  format: string;
  /** The file name the sender proposes (tcp://HOST:PORT/NAME), else the receiver makes one. */
  name?: string;
}

export interface End {
  complete: boolean;
  bytes: number;
}

export interface Ack {
  status: "complete" | "partial" | "mismatch";
  location: string;
  message: string;
}

export function frameHeader(type: FrameType, length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER);
  header.writeUInt8(type, 0);
  header.writeUInt32LE(length, 1);
  return header;
}

export function jsonFrame(type: FrameType, value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value), "utf8");
  return Buffer.concat([frameHeader(type, payload.length), payload]);
}

export type Frame = { type: number; payload: Buffer } | { type: typeof FrameType.data; payload: Buffer };

/**
 * Splits a byte stream into frames. Data payloads are handed on in whatever pieces they arrive (never gathered
 * into one large buffer); other frames are gathered whole (they are small JSON). The magic comes first.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private magicSeen = false;
  private dataLeft = 0;
  /** Bytes taken so far, for error messages. */
  offset = 0;

  *push(chunk: Buffer): Iterable<Frame> {
    let input = chunk;
    while (input.length > 0) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, input.length);
        this.dataLeft -= take;
        this.offset += take;
        yield { type: FrameType.data, payload: input.subarray(0, take) };
        input = input.subarray(take);
        continue;
      }
      this.pending = this.pending.length ? Buffer.concat([this.pending, input]) : input;
      input = Buffer.alloc(0);
      if (!this.magicSeen) {
        if (this.pending.length < TCP_MAGIC.length) return;
        if (!this.pending.subarray(0, TCP_MAGIC.length).equals(TCP_MAGIC))
          throw new Error("the peer is not a memimage sender (bad magic)");
        this.magicSeen = true;
        this.consume(TCP_MAGIC.length);
      }
      if (this.pending.length < FRAME_HEADER) return;
      const type = this.pending.readUInt8(0);
      const length = this.pending.readUInt32LE(1);
      if (type === FrameType.data) {
        this.consume(FRAME_HEADER);
        this.dataLeft = length;
        input = this.pending;
        this.pending = Buffer.alloc(0);
        continue;
      }
      if (length > 64 << 20) throw new Error(`frame of ${length} bytes is too large`);
      if (this.pending.length < FRAME_HEADER + length) return;
      const payload = Buffer.from(this.pending.subarray(FRAME_HEADER, FRAME_HEADER + length));
      this.consume(FRAME_HEADER + length);
      input = this.pending;
      this.pending = Buffer.alloc(0);
      yield { type, payload };
    }
  }

  /** True when the stream stopped inside a frame. */
  get midFrame(): boolean {
    return this.dataLeft > 0 || this.pending.length > 0;
  }

  private consume(bytes: number): void {
    this.pending = this.pending.subarray(bytes);
    this.offset += bytes;
  }
}
