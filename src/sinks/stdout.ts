import { MemimageError } from "../core/errors.js";
import { type Sink, type SinkResult, writeZerosBy } from "./sink.js";

/** Streams to standard output (`-o -`), waiting for 'drain' so a slow reader slows the acquisition, not memory. */
export class StdoutSink implements Sink {
  readonly kind = "stdout" as const;
  readonly reportBeside = undefined;
  private written = 0;
  private failure: Error | undefined;

  constructor(
    private readonly stream: NodeJS.WritableStream & { writableNeedDrain?: boolean } = process.stdout,
  ) {
    stream.on("error", (error: Error) => {
      this.failure = error;
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.check();
    // The stream keeps a reference until flushed: copy, since the pipeline reuses its buffers once write() resolves.
    const flushed = this.stream.write(Buffer.from(bytes));
    this.written += bytes.length;
    if (!flushed) await this.drain();
    this.check();
  }

  writeZeros(length: number): Promise<void> {
    return writeZerosBy((b) => this.write(b), length);
  }

  async finish(): Promise<SinkResult> {
    this.check();
    return { kind: "stdout", location: "-", bytes: this.written };
  }

  async abort(): Promise<SinkResult> {
    return { kind: "stdout", location: "-", bytes: this.written };
  }

  private drain(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("error", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("error", done);
      this.stream.on("close", done);
    });
  }

  private check(): void {
    if (this.failure) {
      throw new MemimageError(
        "sink",
        `standard output failed after ${this.written} bytes: ${this.failure.message}`,
        { cause: this.failure },
      );
    }
  }
}
