import { UnreadableError } from "../../src/core/errors.js";
import { type Region, regionEnd, type Span } from "../../src/core/map.js";
import type { Source, SourceDescription } from "../../src/sources/source.js";

export interface MemoryRegion {
  start: bigint;
  bytes: Uint8Array;
}

/**
 * Memory held in buffers, as a source: the test's stand-in for RAM, read through the real pipeline.
 * `unreadable` spans throw UnreadableError, as a real device does for a poisoned page.
 */
export class BufferSource implements Source {
  readonly description: SourceDescription;
  reads = 0;

  constructor(
    private readonly regions: MemoryRegion[],
    private readonly unreadable: Span[] = [],
    addressSpace: "physical" | "virtual" = "physical",
  ) {
    this.description = { kind: "test-buffer", path: "(memory)", addressSpace };
  }

  async map(): Promise<Region[]> {
    return this.regions.map((r) => ({
      start: r.start,
      length: r.bytes.length,
      readable: true,
      kind: "System RAM",
    }));
  }

  async read(address: bigint, into: Uint8Array): Promise<number> {
    this.reads++;
    const hole = this.unreadable.find((h) => address >= h.start && address < regionEnd(h));
    if (hole) throw new UnreadableError("test: poisoned");
    const region = this.regions.find((r) => address >= r.start && address < r.start + BigInt(r.bytes.length));
    if (!region) throw new UnreadableError("test: unmapped");
    const offset = Number(address - region.start);
    let length = Math.min(into.length, region.bytes.length - offset);
    const nextHole = this.unreadable.find((h) => h.start > address && h.start < address + BigInt(length));
    if (nextHole) length = Number(nextHole.start - address);
    into.set(region.bytes.subarray(offset, offset + length));
    return length;
  }

  async close(): Promise<void> {}
}
