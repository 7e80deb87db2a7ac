// Node hands every socket read over in a fresh 64 KiB Buffer, allocated outside V8's heap (as the npm snappy
// package does every compressed chunk); V8 collects such memory only after ~64 MiB of it has accumulated, so a
// process streaming gigabytes peaks ~64 MiB above what it holds. A young-generation collection (well under a
// millisecond) every few MiB frees them while they are still young.
// V8's `gc` is taken from a fresh context once --expose-gc is set (the main context keeps no global `gc`).

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let minorGc: ((options: { type: "minor" }) => void) | undefined | null;

/** Counts bytes of short-lived buffers and collects the young generation after every `every` bytes. */
export function youngGarbageCollector(every = 8 << 20): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    if (minorGc === undefined) {
      try {
        setFlagsFromString("--expose-gc");
        minorGc = runInNewContext("gc") as (options: { type: "minor" }) => void;
      } catch {
        minorGc = null; // then V8 collects on its own schedule
      }
    }
    minorGc?.({ type: "minor" });
  };
}
