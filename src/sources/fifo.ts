// A named pipe that QEMU writes into and memimage reads from, so no full-size temporary file is ever made.
// It is opened read-write: QEMU's open never waits for a reader, and QEMU closing it (each pmemsave opens and
// closes it again) is not an end of stream. The end is known from what was asked for; QEMU dying or failing is
// told through fail(). Reads go straight into the caller's buffer on the thread pool (no 64 KiB chunks copied
// on the main thread); a full pipe makes QEMU wait (back-pressure).
import { execFile } from "node:child_process";
import { close, constants, openSync, read, write } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MemimageError } from "../core/errors.js";
import { loadAddon } from "../core/native.js";

const PIPE_BYTES = 16 << 20;
const readFd = promisify(read);
const writeFd = promisify(write);
const closeFd = promisify(close);

export class FifoReader {
  private failure: Error | undefined;
  private pending: Promise<unknown> | undefined;
  private closed = false;
  /** Bytes taken out of the pipe so far (read or skipped). */
  position = 0;

  private constructor(
    readonly path: string,
    private readonly directory: string,
    private readonly fd: number,
    /** Write-only and non-blocking, for the wake-up byte alone (see fail()). */
    private readonly wakeFd: number,
  ) {}

  /** Makes a FIFO (mode 0600, in a private directory) and opens it. */
  static async create(): Promise<FifoReader> {
    const directory = await mkdtemp(join(tmpdir(), "memimage-vm-"));
    const path = join(directory, "guest-memory.fifo");
    await promisify(execFile)("mkfifo", ["-m", "0600", path]);
    const fd = openSync(path, constants.O_RDWR);
    const wakeFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    await widenPipe(fd);
    return new FifoReader(path, directory, fd, wakeFd);
  }

  /** Reads up to into.length bytes (at least one), waiting for QEMU to write them. */
  async read(into: Uint8Array): Promise<number> {
    if (this.failure) throw this.failure;
    const reading = readFd(this.fd, into, 0, into.length, null);
    this.pending = reading;
    const { bytesRead } = await reading;
    this.pending = undefined;
    // fail() wakes a blocked read by writing into the pipe itself: what such a read returns is not QEMU's.
    if (this.failure) throw this.failure;
    this.position += bytesRead;
    return bytesRead;
  }

  async readExactly(length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    for (let done = 0; done < length; ) done += await this.read(out.subarray(done));
    return out;
  }

  /** Discards bytes up to the given stream position. */
  async skipTo(position: number): Promise<void> {
    const scratch = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, position - this.position)));
    while (this.position < position)
      await this.read(scratch.subarray(0, Math.min(scratch.length, position - this.position)));
  }

  /** Ends every read now and later with this error (QEMU died, or reported the dump failed). */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    // A read blocked on an empty pipe would wait for ever (we hold a write end): give it a byte to return with.
    // Never a blocking write: into a full pipe it would wait for ever too, and keep the pipe's read side open
    // after close(), so QEMU, blocked on the same full pipe, would never get EPIPE (a full pipe wakes the read
    // anyway: EAGAIN is fine).
    if (this.pending && !this.closed) writeFd(this.wakeFd, Buffer.from([0])).catch(() => undefined);
  }

  /** Closes our ends: a QEMU still writing gets EPIPE, which ends its dump. */
  async close(): Promise<void> {
    this.fail(new MemimageError("source-gone", "the FIFO from QEMU was closed"));
    await this.pending?.catch(() => undefined);
    if (!this.closed) {
      this.closed = true;
      await closeFd(this.fd).catch(() => undefined);
      await closeFd(this.wakeFd).catch(() => undefined);
    }
    await rm(this.directory, { recursive: true, force: true });
  }
}

/**
 * A wide pipe, when the native addon is built: QEMU's dump writes a page per call and waits whenever the pipe is
 * full, so the pipe is all that lets it run on while memimage hashes and writes a block. Root (CAP_SYS_RESOURCE)
 * may pass fs.pipe-max-size (1 MiB by default) without changing it; others get as much as it allows. The pipe's
 * pages are the kernel's, not memimage's RSS.
 */
async function widenPipe(fd: number): Promise<void> {
  const addon = loadAddon<{ setPipeSize(fd: number, bytes: number): number }>("memimage_pipe").binding;
  if (!addon) return;
  if (addon.setPipeSize(fd, PIPE_BYTES) > 0) return;
  const max = Number((await readFile("/proc/sys/fs/pipe-max-size", "utf8").catch(() => "1048576")).trim());
  addon.setPipeSize(fd, Number.isSafeInteger(max) && max > 0 ? Math.min(max, PIPE_BYTES) : 1 << 20);
}
