import { constants } from "node:fs";
import { access, type FileHandle, link, open, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { errnoCode, MemimageError } from "../core/errors.js";
import { DirectWriteError, DirectWriter } from "./direct-writer.js";
import type { DiskBudget } from "./disk-budget.js";
import type { Sink, SinkResult } from "./sink.js";
import { writeZerosBy } from "./sink.js";

export const PARTIAL_SUFFIX = ".partial";

/**
 * Writes OUT.partial (mode 0600, O_EXCL: never overwrites), fsyncs, then links it to OUT, which fails rather than
 * replace a file that appeared meanwhile. An aborted image stays as OUT.partial, so it is never taken for complete.
 * With `direct` (and where the filesystem allows), the bytes go to the device with O_DIRECT (sinks/direct-writer.ts),
 * not through the page cache: cheaper in CPU, but each write waits for the device. `memimage receive` takes it
 * (0.21x -> 0.41x of `cat | nc`); a read racing a freeze or smear does not (memimage vm froze a 2 GiB guest 3.5 s
 * with it, 2.7 s without: the page cache takes the image at once and the fsync comes after the read).
 */
export class FileSink implements Sink {
  readonly kind = "file" as const;
  private written = 0;

  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private readonly budget: DiskBudget | undefined,
    private readonly direct: DirectWriter | undefined,
  ) {}

  get reportBeside(): string {
    return this.path;
  }

  static async create(
    path: string,
    options: { budget?: DiskBudget; direct?: boolean } = {},
  ): Promise<FileSink> {
    await refuseExisting(path);
    await refuseExisting(path + PARTIAL_SUFFIX);
    try {
      const handle = await open(
        path + PARTIAL_SUFFIX,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
        0o600,
      );
      const direct = options.direct
        ? await DirectWriter.attach(path + PARTIAL_SUFFIX).catch(async (error: unknown) => {
            await handle.close();
            throw error;
          })
        : undefined;
      return new FileSink(path, handle, options.budget, direct);
    } catch (error) {
      throw openError(path, error);
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.budget) await this.checkBudget(bytes.length);
    if (this.direct) {
      try {
        await this.direct.write(bytes);
      } catch (error) {
        throw this.writeError(error, this.written);
      }
      this.written += bytes.length;
      return;
    }
    let done = 0;
    try {
      while (done < bytes.length) {
        const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, null);
        done += bytesWritten;
      }
    } catch (error) {
      throw this.writeError(error, this.written + done);
    } finally {
      this.written += done;
    }
  }

  writeZeros(length: number): Promise<void> {
    return writeZerosBy((b) => this.write(b), length);
  }

  async finish(): Promise<SinkResult> {
    try {
      await this.direct?.flush(this.handle);
      await this.direct?.close();
      await this.handle.sync();
      await this.handle.close();
      await link(this.path + PARTIAL_SUFFIX, this.path);
      await unlink(this.path + PARTIAL_SUFFIX);
    } catch (error) {
      throw this.writeError(error, this.written);
    }
    return { kind: "file", location: this.path, bytes: this.written };
  }

  async abort(): Promise<SinkResult> {
    // What write() took is in the .partial file, as far as the device let it be written.
    await this.direct?.flush(this.handle).catch(() => undefined);
    await this.direct?.close();
    await this.handle.sync().catch(() => undefined);
    await this.handle.close().catch(() => undefined);
    return { kind: "file", location: this.path + PARTIAL_SUFFIX, bytes: this.written };
  }

  private async checkBudget(bytes: number): Promise<void> {
    const over = await this.budget?.refuses(bytes + (this.direct?.unwritten ?? 0));
    if (!over) return;
    throw new MemimageError(
      "sink",
      `${this.path}${PARTIAL_SUFFIX}: stopped after ${this.written} bytes, before the filesystem crosses --max-disk-usage ` +
        `${this.budget?.text} (${over.used} of ${over.total} bytes in use, limit ${over.limit}); the partial image is kept as ${this.path}${PARTIAL_SUFFIX}`,
    );
  }

  private writeError(failure: unknown, at: number): MemimageError {
    // A staged write fails later than write() returned: the file holds the bytes before the failed write's offset.
    const error = failure instanceof DirectWriteError ? failure.cause : failure;
    const offset = failure instanceof DirectWriteError ? failure.offset : at;
    const code = errnoCode(error);
    const what =
      code === "ENOSPC"
        ? "disk full"
        : code === "EDQUOT"
          ? "disk quota exceeded"
          : code === "EEXIST"
            ? "the output appeared while writing"
            : `${code ?? "write failed"}`;
    return new MemimageError(
      "sink",
      `${this.path}${PARTIAL_SUFFIX}: ${what} after ${offset} bytes; the partial image is kept as ${this.path}${PARTIAL_SUFFIX}`,
      { cause: error },
    );
  }
}

async function refuseExisting(path: string): Promise<void> {
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new MemimageError(
      "output-exists",
      `${path} already exists; memimage never overwrites an image (choose another name or remove it)`,
    );
}

function openError(path: string, error: unknown): MemimageError {
  const code = errnoCode(error);
  if (code === "ENOENT")
    return new MemimageError(
      "output",
      `cannot create ${path}: the directory ${dirname(path)} does not exist`,
      {
        cause: error,
      },
    );
  if (code === "EACCES" || code === "EPERM")
    return new MemimageError("output", `cannot create ${path}: permission denied`, { cause: error });
  if (code === "EEXIST")
    return new MemimageError(
      "output-exists",
      `${path}${PARTIAL_SUFFIX} already exists; remove it or choose another name`,
      { cause: error },
    );
  return new MemimageError("output", `cannot create ${path}: ${code ?? String(error)}`, { cause: error });
}
