import { open } from "node:fs/promises";
import { type HashName, MultiHash } from "./hashing.js";

/** Hashes a whole file sequentially with a bounded buffer. */
export async function hashFile(
  path: string,
  names: readonly HashName[] = ["sha256"],
  bufferSize = 4 << 20,
): Promise<{ bytes: number; sha256: string; blake3?: string }> {
  const hash = await MultiHash.create(names);
  const file = await open(path, "r");
  const buffers = [Buffer.allocUnsafe(bufferSize), Buffer.allocUnsafe(bufferSize)];
  let bytes = 0;
  try {
    // Read the next buffer while hashing the previous one.
    let which = 0;
    let pending = file.read(buffers[0] as Buffer, 0, bufferSize, null);
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) break;
      which ^= 1;
      pending = file.read(buffers[which] as Buffer, 0, bufferSize, null);
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await file.close();
  }
  return { bytes, ...hash.digest() };
}
