// --swap: after memory, copy every active swap area (from /proc/swaps) into one companion image, OUT.swap: the
// areas back to back, each hashed on its own and the whole file hashed, a MiB at a time (memory stays bounded).
// A swap area that cannot be opened or read is listed with the reason and zero-filled; it never ends the run.

import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { errnoCode, MemimageError } from "../core/errors.js";
import type { SwapCollection } from "../report/weaknesses.js";
import type { SwapArea } from "../sources/swaps.js";

const CHUNK = 1 << 20;

export async function copySwap(areas: readonly SwapArea[], imagePath: string): Promise<SwapCollection> {
  let out: FileHandle;
  try {
    out = await open(imagePath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    throw new MemimageError("output", `cannot create ${imagePath}: ${errnoCode(error) ?? String(error)}`);
  }
  const whole = createHash("sha256");
  const buffer = Buffer.alloc(CHUNK);
  const result: SwapCollection = { image: imagePath, bytes: 0, sha256: "", areas: [], unreadable: [] };
  try {
    for (const area of areas) {
      const offset = result.bytes;
      const hash = createHash("sha256");
      let bytesRead = 0;
      const input = await open(area.path, constants.O_RDONLY).catch((e: unknown) => e as Error);
      for (let at = 0; at < area.sizeBytes; at += CHUNK) {
        const length = Math.min(CHUNK, area.sizeBytes - at);
        const chunk = buffer.subarray(0, length);
        let reason: string | undefined;
        if (input instanceof Error) reason = `cannot open: ${errnoCode(input) ?? input.message}`;
        else {
          try {
            let done = 0;
            while (done < length) {
              const { bytesRead: n } = await input.read(chunk, done, length - done, at + done);
              if (n === 0) throw new Error("ends before the size /proc/swaps gives");
              done += n;
            }
          } catch (error) {
            reason = `read failed: ${errnoCode(error) ?? (error as Error).message}`;
          }
        }
        if (reason) {
          chunk.fill(0);
          const last = result.unreadable[result.unreadable.length - 1];
          if (last && last.path === area.path && last.reason === reason && last.offset + last.length === at)
            last.length += length;
          else result.unreadable.push({ path: area.path, offset: at, length, reason });
        } else {
          hash.update(chunk);
          bytesRead += length;
        }
        whole.update(chunk);
        await out.write(chunk, 0, length, null);
        result.bytes += length;
      }
      if (!(input instanceof Error)) await input.close();
      result.areas.push({
        path: area.path,
        offset,
        length: area.sizeBytes,
        bytesRead,
        sha256: hash.digest("hex"),
      });
    }
    await out.sync();
  } finally {
    await out.close();
  }
  result.sha256 = whole.digest("hex");
  return result;
}
