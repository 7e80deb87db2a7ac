import { UnreadableError } from "../core/errors.js";
import { type AddressSpace, hex, type Region } from "../core/map.js";

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

/**
 * Fills `into` from `address`, asking again after short reads. Throws UnreadableError, naming the address, where
 * the source cannot give a byte (its own error, or no bytes returned).
 */
export async function readFully(source: Source, address: bigint, into: Uint8Array): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const at = address + BigInt(done);
    let n: number;
    try {
      n = await source.read(at, into.subarray(done));
    } catch (error) {
      if (error instanceof UnreadableError)
        throw new UnreadableError(`no bytes at ${hex(at)}: ${error.reason}`);
      throw error;
    }
    if (n <= 0) throw new UnreadableError(`the source ends before ${hex(at)}`);
    done += n;
  }
}
