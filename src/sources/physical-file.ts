// The common part of the physical sources: a file read at an offset derived from a physical address
// (/proc/kcore through its program headers, /dev/mem and /dev/crash at the address itself).
import type { FileHandle } from "node:fs/promises";
import { errnoCode, MemimageError, UnreadableError } from "../core/errors.js";
import type { Region } from "../core/map.js";
import { readAt } from "../core/read-at.js";
import type { Coverage } from "./coverage.js";
import type { Source, SourceDescription } from "./source.js";

/** Where a physical address lies in the file, and how many bytes from there are contiguous. */
export interface Location {
  /** A bigint: kcore offsets can pass 2^53 (FileHandle.read takes a bigint position). */
  offset: bigint;
  available: number;
}

const PAGE = 4096;
/** Errors a kernel returns for one page it will not hand out; the rest of the range may still read. */
const PAGE_ERRORS = new Set(["EIO", "EFAULT", "EPERM", "ENXIO", "EINVAL", "ENOMEM"]);

export abstract class PhysicalFileSource implements Source {
  abstract readonly description: SourceDescription;

  protected constructor(
    protected readonly file: FileHandle,
    protected readonly path: string,
    protected readonly regions: Region[],
    readonly coverage: Coverage,
    /** Largest single read; /dev/crash hands out one page per read. */
    private readonly maxRead = 1 << 30,
  ) {}

  protected abstract locate(address: bigint): Location | undefined;

  async map(): Promise<Region[]> {
    return this.regions.map((r) => ({ ...r }));
  }

  async read(address: bigint, into: Uint8Array): Promise<number> {
    const at = this.locate(address);
    if (!at) throw new UnreadableError(`${this.path} has no mapping for this address`);
    const length = Math.min(into.length, at.available, this.maxRead);
    let count: number;
    try {
      count = await readAt(this.file, into, length, at.offset);
    } catch (error) {
      const code = errnoCode(error);
      if (code && PAGE_ERRORS.has(code)) {
        const toPageEnd = PAGE - Number(address % BigInt(PAGE));
        throw new UnreadableError(`${this.path}: ${code}`, Math.min(toPageEnd, into.length));
      }
      throw new MemimageError("source-gone", `${this.path}: read failed: ${code ?? String(error)}`, {
        cause: error,
      });
    }
    if (count === 0) throw new UnreadableError(`${this.path}: end of file`);
    this.coverage.add(count);
    return count;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
