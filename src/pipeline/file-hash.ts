import { open, stat } from "node:fs/promises";
import { type HashName, HashStream } from "./hashing.js";
import type { PipelineEvent } from "./run.js";

/** Hashes a whole file sequentially, reading the next buffer while the last one is hashed. */
export async function hashFile(
  path: string,
  names: readonly HashName[] = ["sha256"],
  bufferSize = 2 << 20,
  onRead?: (bytesSoFar: number) => void,
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
      onRead?.(bytes);
      which ^= 1;
      pending = file.read(buffers[which] as Buffer, 0, bufferSize, null);
      await hashed;
    }
  } finally {
    await file.close();
  }
  return { bytes, ...(await hash.digest()) };
}

/** hashFile, telling `onEvent` as the pipeline does (start, progress by file offset, done), for the progress bar. */
export async function hashFileShowingProgress(
  path: string,
  onEvent: ((event: PipelineEvent) => void) | undefined,
): Promise<{ bytes: number; sha256: string }> {
  if (!onEvent) return hashFile(path);
  const size = (await stat(path)).size;
  onEvent({ type: "start", bytesPlanned: size, ranges: 1 });
  const file = await hashFile(path, ["sha256"], undefined, (bytes) =>
    onEvent({ type: "progress", bytesRead: bytes, bytesPlanned: size, address: BigInt(bytes) }),
  );
  onEvent({ type: "done", status: "complete" });
  return file;
}
