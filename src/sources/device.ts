// A character device read at offset = physical address (/dev/mem, /dev/crash), over System RAM only:
// reading device memory (MMIO) through these can hang or upset hardware.
import { type FileHandle, open } from "node:fs/promises";
import { errnoCode, MemimageError } from "../core/errors.js";
import { Coverage } from "./coverage.js";
import { whyDenied } from "./denial.js";
import { readSystemRam } from "./iomem.js";
import { type Location, PhysicalFileSource } from "./physical-file.js";
import { physicalMap } from "./physical-map.js";
import type { SourceDescription } from "./source.js";

const LOW_MEGABYTE = 0x100000n;

export interface DeviceOptions {
  kind: "devmem" | "crash";
  path: string;
  iomemPath: string;
  /** Largest read the driver answers in one call. */
  maxRead: number;
  /** The sentence for a probe of RAM that the kernel refused (EPERM) although the device opened. */
  refused: string;
}

export class DeviceSource extends PhysicalFileSource {
  readonly description: SourceDescription;

  private constructor(
    file: FileHandle,
    options: DeviceOptions,
    map: ReturnType<typeof physicalMap>,
    coverage: Coverage,
  ) {
    super(file, options.path, map.regions, coverage, options.maxRead);
    this.description = {
      kind: options.kind,
      path: options.path,
      addressSpace: "physical",
      details: { mapFrom: "/proc/iomem System RAM", coverage },
    };
  }

  static async open(options: DeviceOptions): Promise<DeviceSource> {
    let file: FileHandle;
    try {
      file = await open(options.path, "r");
    } catch (error) {
      throw new MemimageError("source", await whyDenied(options.path, errnoCode(error)), { cause: error });
    }
    try {
      const { ram } = await readSystemRam(options.iomemPath);
      await probe(file, options, ram);
      const map = physicalMap(ram, ram, "");
      return new DeviceSource(file, options, map, new Coverage(ram, map.notOffered));
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  protected locate(address: bigint): Location {
    return { offset: address, available: Number.MAX_SAFE_INTEGER };
  }
}

/**
 * Reads one page of RAM above the first megabyte. With CONFIG_STRICT_DEVMEM x86 refuses RAM there (EPERM) and
 * shows RAM below 1 MiB as zeros, so a device that passes this probe hands out real RAM.
 */
async function probe(file: FileHandle, options: DeviceOptions, ram: { start: bigint; length: number }[]) {
  const page = ram.find((r) => r.start + BigInt(r.length) > LOW_MEGABYTE + 4096n);
  if (!page) return;
  const at = page.start > LOW_MEGABYTE ? page.start : LOW_MEGABYTE;
  try {
    await file.read(Buffer.alloc(4096), 0, 4096, Number(at));
  } catch (error) {
    const code = errnoCode(error);
    const why = code === "EPERM" ? options.refused : await whyDenied(options.path, code);
    throw new MemimageError("source", why, { cause: error });
  }
}
