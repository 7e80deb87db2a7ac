import { open } from "node:fs/promises";
import { type HashName, HashStream } from "./hashing.js";

/** Hashes a whole file sequentially, reading the next buffer while the last one is hashed. */
export async function hashFile(
  path: string,
  names: readonly HashName[] = ["sha256"],
  bufferSize = 2 << 20,
): Promise<{ bytes: number; sha256: string; blake3?: string }> {
  const hash = await HashStream.create(names);
  const file = await open(path, "r");
  const buffers = [Buffer.allocUnsafe(bufferSize), Buffer.allocUnsafe(bufferSize)];
  let bytes = 0;
  try {
    let which = 0;
    let pending = file.read(buffers[0] as Buffer, 0, bufferSize, null);
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) break;
      const hashed = hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
      which ^= 1;
      pending = file.read(buffers[which] as Buffer, 0, bufferSize, null);
      await hashed;
    }
  } finally {
    await file.close();
  }
  return { bytes, ...(await hash.digest()) };
}
