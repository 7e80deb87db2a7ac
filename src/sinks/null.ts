import type { Sink, SinkResult } from "./sink.js";

/** Discards what it is given: for verifying and measuring, where only the hashes matter. */
export class NullSink implements Sink {
  readonly kind = "null" as const;
  readonly reportBeside = undefined;
  private written = 0;

  async write(bytes: Uint8Array): Promise<void> {
    this.written += bytes.length;
  }

  async writeZeros(length: number): Promise<void> {
    this.written += length;
  }

  async finish(): Promise<SinkResult> {
    return { kind: this.kind, location: "(discarded)", bytes: this.written };
  }

  abort(): Promise<SinkResult> {
    return this.finish();
  }
}
