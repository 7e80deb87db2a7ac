import type { AddressSpace, Region } from "../core/map.js";

/** What a report says about where the bytes came from. */
export interface SourceDescription {
  /** "image", "process", "kcore", "crash", "devmem", "qmp". */
  kind: string;
  /** The file or device read, or the process id. */
  path: string;
  addressSpace: AddressSpace;
  /** Anything else the source wants recorded (format of an input image, pid, command line...). */
  details?: Record<string, unknown>;
}

/**
 * Where bytes come from. `map()` lists the regions; `read()` fills `into` from `address` and returns how many
 * bytes it read (a short count is fine: the pipeline asks again). A part that cannot be read throws
 * UnreadableError (the pipeline records it and continues); a source that vanished throws MemimageError("source-gone").
 */
export interface Source {
  readonly description: SourceDescription;
  map(): Promise<Region[]>;
  read(address: bigint, into: Uint8Array): Promise<number>;
  close(): Promise<void>;
}
