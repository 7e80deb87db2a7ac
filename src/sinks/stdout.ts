import { write } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { errnoCode, MemimageError } from "../core/errors.js";
import { type Sink, type SinkResult, writeZerosBy } from "./sink.js";

const writeFd = promisify(write);

/**
 * Streams to standard output (`-o -`). It writes to descriptor 1 directly, not through process.stdout: the stream
 * would copy every block and hold the copies until the garbage collector runs (RSS grew past 90 MiB), while a
 * direct write lets the pipeline reuse its buffer as soon as the bytes are taken, and a slow reader slows the reads.
 */
export class StdoutSink implements Sink {
  readonly kind = "stdout" as const;
  readonly reportBeside = undefined;
  private written = 0;

  constructor(private readonly fd = 1) {}

  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      try {
        done += (await writeFd(this.fd, bytes, done, bytes.length - done, null)).bytesWritten;
      } catch (error) {
        // A descriptor left non-blocking by whoever started us: wait for the reader.
        if (errnoCode(error) === "EAGAIN") await sleep(1);
        else {
          this.written += done;
          throw new MemimageError(
            "sink",
            `standard output failed after ${this.written} bytes: ${errnoCode(error) ?? String(error)}`,
            { cause: error },
          );
        }
      }
    }
    this.written += done;
  }

  writeZeros(length: number): Promise<void> {
    return writeZerosBy((b) => this.write(b), length);
  }

  async finish(): Promise<SinkResult> {
    return { kind: "stdout", location: "-", bytes: this.written };
  }

  async abort(): Promise<SinkResult> {
    return this.finish();
  }
}
