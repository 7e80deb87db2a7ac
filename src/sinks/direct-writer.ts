// Writes a new file with O_DIRECT where the filesystem allows it: bytes are copied into a few page-aligned staging
// buffers and written from there to the device while the next ones fill, so an image neither passes through nor
// fills the page cache. Profiled (docs/benchmarks.md, vm): copying into fresh page-cache pages cost memimage as
// much CPU as both its SHA-256s together; and on a machine being imaged, an image in the page cache evicts the
// memory being read. What is left over at the end (less than a page) goes through the ordinary descriptor.
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { errnoCode } from "../core/errors.js";

/** O_DIRECT wants offsets, lengths and memory aligned to the logical block size: a page covers every device. */
const ALIGN = 4096;
const STAGE_BYTES = 256 << 10;
const STAGES = 4;

// Node's type definitions leave WebAssembly out (no DOM library here); this is the one part used.
declare const WebAssembly: {
  Memory: new (pages: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
};

export class DirectWriteError extends Error {
  constructor(
    readonly offset: number,
    cause: unknown,
  ) {
    super(`write at ${offset} failed`, { cause });
  }
}

export class DirectWriter {
  private readonly stages: Uint8Array[];
  private readonly inFlight: (Promise<void> | undefined)[] = new Array(STAGES).fill(undefined);
  private current = 0;
  private filled = 0;
  /** File offset of the current stage's first byte. */
  private stageOffset = 0;
  private failure: DirectWriteError | undefined;
  private taken = 0;
  private completed = 0;

  private constructor(private readonly handle: FileHandle) {
    // WebAssembly memory is page-aligned (V8 maps it whole), which Node's Buffers are not; stages are 256 KiB
    // apart. Four: one filling while three are written (1 MiB of RSS in all).
    const memory = new WebAssembly.Memory({
      initial: (STAGES * STAGE_BYTES) / 65536,
      maximum: (STAGES * STAGE_BYTES) / 65536,
    });
    this.stages = Array.from(
      { length: STAGES },
      (_, i) => new Uint8Array(memory.buffer, i * STAGE_BYTES, STAGE_BYTES),
    );
  }

  /**
   * A second, O_DIRECT descriptor on a file just created (empty); undefined when the filesystem refuses O_DIRECT
   * (then the caller writes through its own descriptor as usual).
   */
  static async attach(path: string): Promise<DirectWriter | undefined> {
    if (constants.O_DIRECT === undefined || process.env.MEMIMAGE_NO_DIRECT_IO) return undefined;
    try {
      return new DirectWriter(await open(path, constants.O_WRONLY | constants.O_DIRECT));
    } catch (error) {
      if (errnoCode(error) === "EINVAL") return undefined;
      throw error;
    }
  }

  /** Bytes taken but not yet known on disk (staged or in flight): a disk budget must count them as used. */
  get unwritten(): number {
    return this.taken - this.completed;
  }

  /** Takes the bytes (copies them); resolves when the caller may reuse them. Throws an earlier write's failure. */
  async write(bytes: Uint8Array): Promise<void> {
    this.taken += bytes.length;
    for (let done = 0; done < bytes.length; ) {
      if (this.failure) throw this.failure;
      const stage = this.stages[this.current] as Uint8Array;
      const take = Math.min(STAGE_BYTES - this.filled, bytes.length - done);
      stage.set(bytes.subarray(done, done + take), this.filled);
      this.filled += take;
      done += take;
      if (this.filled === STAGE_BYTES) await this.rotate();
    }
  }

  /** Writes what is staged: the aligned part directly, the rest through `tail` (the ordinary descriptor). */
  async flush(tail: FileHandle): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    const stage = (this.stages[this.current] as Uint8Array).subarray(0, this.filled);
    const aligned = this.filled - (this.filled % ALIGN);
    await this.writeAt(this.handle, stage.subarray(0, aligned), this.stageOffset);
    await this.writeAt(tail, stage.subarray(aligned), this.stageOffset + aligned);
    if (this.failure) throw this.failure;
    this.stageOffset += this.filled;
    this.filled = 0;
  }

  /** Waits for the writes in flight (their failures are dropped: for abort, after a failure) and closes. */
  async close(): Promise<void> {
    await Promise.all(this.inFlight);
    await this.handle.close().catch(() => undefined);
  }

  private async rotate(): Promise<void> {
    const stage = this.stages[this.current] as Uint8Array;
    this.inFlight[this.current] = this.writeAt(this.handle, stage, this.stageOffset);
    this.stageOffset += STAGE_BYTES;
    this.current = (this.current + 1) % STAGES;
    this.filled = 0;
    await this.inFlight[this.current]; // the next stage is free once its last write is done
    if (this.failure) throw this.failure;
  }

  /** Never rejects: a failure is kept (the first one) and thrown by the next write or flush. */
  private async writeAt(handle: FileHandle, bytes: Uint8Array, offset: number): Promise<void> {
    let done = 0;
    try {
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done);
        if (bytesWritten === 0) throw new Error("the write made no progress");
        done += bytesWritten;
      }
      this.completed += done;
    } catch (error) {
      if (!this.failure || this.failure.offset > offset + done)
        this.failure = new DirectWriteError(offset + done, error);
    }
  }
}
