// -o tcp://HOST:PORT[/NAME]: streams the image to `memimage receive` in frames (sinks/tcp-frames.ts), then the
// report, so the receiver can check the SHA-256 and store both. The receiver's answer says whether it did.

import { connect, type Socket } from "node:net";
import { hostname } from "node:os";
import { errnoCode, MemimageError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { type Sink, type SinkResult, writeZerosBy } from "./sink.js";
import {
  type Ack,
  FRAME_HEADER,
  FrameType,
  frameHeader,
  type Hello,
  jsonFrame,
  TCP_MAGIC,
} from "./tcp-frames.js";

export interface TcpTarget {
  host: string;
  port: number;
  name?: string;
}

/** Parses tcp://HOST:PORT[/NAME]; an IPv6 host goes in brackets. */
export function parseTcpUrl(output: string): TcpTarget {
  const match = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})(?:\/([^/]+))?$/.exec(output);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535)
    throw new MemimageError(
      "usage",
      `not a TCP output: "${output}" (use tcp://HOST:PORT or tcp://HOST:PORT/NAME)`,
    );
  return {
    host: (match[1] as string).replace(/^\[|\]$/g, ""),
    port,
    ...(match[3] ? { name: match[3] } : {}),
  };
}

export class TcpSink implements Sink {
  readonly kind = "tcp" as const;
  readonly reportBeside = undefined;
  private written = 0;
  private failure: MemimageError | undefined;
  private readonly closed: Promise<void>;
  private answer = Buffer.alloc(0);

  private constructor(
    private readonly socket: Socket,
    private readonly url: string,
  ) {
    socket.on("error", (error) => {
      this.failure ??= this.lost(error);
    });
    socket.on("data", (bytes: Buffer) => {
      this.answer = Buffer.concat([this.answer, bytes]);
    });
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
  }

  static async create(output: string, format: string): Promise<TcpSink> {
    const target = parseTcpUrl(output);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: target.host, port: target.port }, () => resolve(s));
      s.once("error", reject);
    }).catch((error: unknown) => {
      throw new MemimageError(
        "output",
        `cannot connect to ${output}: ${errnoCode(error) ?? String(error)} (is \`memimage receive --listen ${target.port}\` running there?)`,
        { cause: error },
      );
    });
    socket.setNoDelay(true);
    const sink = new TcpSink(socket, output);
    const hello: Hello = {
      tool: "memimage",
      version: VERSION,
      host: hostname(),
      format,
      ...(target.name ? { name: target.name } : {}),
    };
    await sink.send(Buffer.concat([TCP_MAGIC, jsonFrame(FrameType.hello, hello)]));
    return sink;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    this.socket.cork();
    const header = this.send(frameHeader(FrameType.data, bytes.length));
    const body = this.send(bytes);
    this.socket.uncork();
    await Promise.all([header, body]); // resolves once the bytes are in the kernel: the caller may reuse them
    this.written += bytes.length;
  }

  writeZeros(length: number): Promise<void> {
    return writeZerosBy((b) => this.write(b), length);
  }

  async finish(): Promise<SinkResult> {
    await this.send(jsonFrame(FrameType.end, { complete: true, bytes: this.written }));
    return { kind: "tcp", location: this.url, bytes: this.written };
  }

  async abort(): Promise<SinkResult> {
    if (!this.failure)
      await this.send(jsonFrame(FrameType.end, { complete: false, bytes: this.written })).catch(
        () => undefined,
      );
    return { kind: "tcp", location: this.url, bytes: this.written };
  }

  /** Sends the report after the image and waits for the receiver to say what it stored. */
  async deliverReport(report: object): Promise<string> {
    await this.send(jsonFrame(FrameType.report, report));
    this.socket.end();
    await this.closed;
    const ack = this.parseAck();
    if (!ack) {
      throw (
        this.failure ??
        new MemimageError(
          "sink",
          `${this.url}: the receiver closed without saying whether it stored the image`,
        )
      );
    }
    if (ack.status === "mismatch")
      throw new MemimageError("sink", `${this.url}: the receiver says: ${ack.message}`);
    return `${this.url}: the receiver says: ${ack.message}`;
  }

  private parseAck(): Ack | undefined {
    if (this.answer.length < FRAME_HEADER || this.answer.readUInt8(0) !== FrameType.ack) return undefined;
    const length = this.answer.readUInt32LE(1);
    if (this.answer.length < FRAME_HEADER + length) return undefined;
    try {
      return JSON.parse(this.answer.subarray(FRAME_HEADER, FRAME_HEADER + length).toString("utf8")) as Ack;
    } catch {
      return undefined;
    }
  }

  private send(bytes: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => {
        if (error) {
          this.failure ??= this.lost(error);
          reject(this.failure);
        } else resolve();
      });
    });
  }

  private lost(error: unknown): MemimageError {
    const code = errnoCode(error);
    const why =
      code === "ECONNRESET" || code === "EPIPE"
        ? "the receiver closed the connection"
        : `the connection failed (${code ?? String(error)})`;
    return new MemimageError(
      "sink",
      `${this.url}: ${why} after ${this.written} bytes of the image; the image there is incomplete`,
      { cause: error },
    );
  }
}
