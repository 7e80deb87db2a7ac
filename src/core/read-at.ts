import { read } from "node:fs";
import type { FileHandle } from "node:fs/promises";

/**
 * Reads at a 64-bit offset. FileHandle.read() in Node 20 ignores a bigint position and reads at the current file
 * position instead (seen with 20.20: read(buf, 0, 8, 4n) returned the file's first bytes), which made every
 * /proc/kcore read past 2^53 come back as the wrong bytes. The callback API takes the bigint as it is.
 */
export function readAt(
  file: FileHandle,
  into: Uint8Array,
  length: number,
  position: bigint,
): Promise<number> {
  return new Promise((resolve, reject) => {
    read(file.fd, into, 0, length, position, (error, bytesRead) =>
      error ? reject(error) : resolve(bytesRead),
    );
  });
}
