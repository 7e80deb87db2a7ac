// --listen [HOST:]PORT: as LiME's TCP mode, wait for one client and send it the image's bytes, nothing else, so
// `nc HOST PORT > image` on the collecting machine receives exactly the file -o would have written.
import { createServer, type Socket } from "node:net";
import { errnoCode, MemimageError } from "../core/errors.js";
import { type Sink, type SinkResult, writeZerosBy } from "./sink.js";

export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535)
    throw new MemimageError("usage", `--listen ${text}: give a port, or HOST:PORT (e.g. 4444, 0.0.0.0:4444)`);
  return { host: (match[1] ?? "0.0.0.0").replace(/^\[|\]$/g, ""), port };
}

export class ListenSink implements Sink {
  readonly kind = "tcp-listen" as const;
  readonly reportBeside = undefined;
  private written = 0;
  private failure: MemimageError | undefined;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    private readonly where: string,
  ) {
    socket.on("error", (error) => {
      this.failure ??= new MemimageError(
        "sink",
        `${where}: the client closed the connection after ${this.written} bytes (${errnoCode(error) ?? String(error)}); what it received is incomplete`,
        { cause: error },
      );
    });
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
  }

  /** Listens, says where on stderr, and returns once the first client has connected. */
  static async create(listen: string, say: (line: string) => void): Promise<ListenSink> {
    const { host, port } = parseListen(listen);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    }).catch((error: unknown) => {
      throw new MemimageError(
        "output",
        `cannot listen on ${host}:${port}: ${errnoCode(error) ?? String(error)}`,
        {
          cause: error,
        },
      );
    });
    const address = server.address();
    const bound = typeof address === "object" && address ? address.port : port;
    say(`memimage: waiting on ${host}:${bound} for one connection (e.g. nc ${host} ${bound} > image)`);
    const socket = await new Promise<Socket>((resolve) => server.once("connection", resolve));
    server.close();
    return new ListenSink(
      socket,
      `tcp-listen://${host}:${bound} (client ${socket.remoteAddress}:${socket.remotePort})`,
    );
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      this.socket.write(bytes, (error) => {
        if (error) {
          this.failure ??= new MemimageError(
            "sink",
            `${this.where}: the client closed the connection after ${this.written} bytes; what it received is incomplete`,
            { cause: error },
          );
          reject(this.failure);
        } else resolve();
      });
    });
    this.written += bytes.length;
  }

  writeZeros(length: number): Promise<void> {
    return writeZerosBy((b) => this.write(b), length);
  }

  async finish(): Promise<SinkResult> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve) => this.socket.end(() => resolve())); // flushed to the kernel
    this.socket.destroy();
    if (this.failure) throw this.failure;
    return { kind: "tcp-listen", location: this.where, bytes: this.written };
  }

  async abort(): Promise<SinkResult> {
    // The client cannot be told the image is incomplete except by a reset: a clean end would look complete.
    this.socket.resetAndDestroy();
    await this.closed;
    return { kind: "tcp-listen", location: this.where, bytes: this.written };
  }
}
