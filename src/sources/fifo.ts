// A named pipe that QEMU writes into and memimage reads from, so no full-size temporary file is ever made.
// It is opened read-write and non-blocking: QEMU's open never waits for a reader, and QEMU closing it (each
// pmemsave opens and closes it again) is not an end of stream. The end is known from what was asked for; QEMU
// dying or failing is told through fail(). Reads pause the pipe when memimage falls behind (back-pressure).
import { execFile } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MemimageError } from "../core/errors.js";
import { loadAddon } from "../core/native.js";

const HIGH_WATER = 8 << 20;
const LOW_WATER = 2 << 20;

export class FifoReader {
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** Bytes taken out of the pipe so far (read or skipped). */
  position = 0;

  private constructor(
    readonly path: string,
    private readonly directory: string,
    private readonly socket: Socket,
  ) {
    socket.on("data", (data: Buffer) => {
      this.chunks.push(data);
      this.queued += data.length;
      if (this.queued > HIGH_WATER && !this.paused) {
        this.paused = true;
        socket.pause();
      }
      this.notify();
    });
    socket.on("error", (error) => this.fail(error));
  }

  /** Makes a FIFO (mode 0600, in a private directory) and opens it. */
  static async create(): Promise<FifoReader> {
    const directory = await mkdtemp(join(tmpdir(), "memimage-vm-"));
    const path = join(directory, "guest-memory.fifo");
    await promisify(execFile)("mkfifo", ["-m", "0600", path]);
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    await widenPipe(fd);
    let socket: Socket;
    try {
      socket = new Socket({ fd, readable: true, writable: false });
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new FifoReader(path, directory, socket);
  }

  /** Copies up to into.length bytes (at least one) as they arrive. */
  async read(into: Uint8Array): Promise<number> {
    while (this.queued === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    let copied = 0;
    while (copied < into.length && this.chunks.length > 0) {
      const head = this.chunks[0] as Buffer;
      const take = Math.min(head.length, into.length - copied);
      into.set(head.subarray(0, take), copied);
      copied += take;
      if (take === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
    }
    this.queued -= copied;
    this.position += copied;
    if (this.paused && this.queued < LOW_WATER) {
      this.paused = false;
      this.socket.resume();
    }
    return copied;
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
    this.failure ??= error;
    this.notify();
  }

  /** Closes our ends: a QEMU still writing gets EPIPE, which ends its dump. */
  async close(): Promise<void> {
    this.fail(new MemimageError("source-gone", "the FIFO from QEMU was closed"));
    this.socket.destroy();
    await rm(this.directory, { recursive: true, force: true });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** As large a pipe as the kernel allows (fs.pipe-max-size, 1 MiB by default), when the native addon is built. */
async function widenPipe(fd: number): Promise<void> {
  const addon = loadAddon<{ setPipeSize(fd: number, bytes: number): number }>("memimage_pipe").binding;
  if (!addon) return;
  const max = Number((await readFile("/proc/sys/fs/pipe-max-size", "utf8").catch(() => "1048576")).trim());
  addon.setPipeSize(fd, Number.isSafeInteger(max) && max > 0 ? Math.min(max, 16 << 20) : 1 << 20);
}
