// /proc/PID/pagemap: one little-endian u64 per virtual page. Bit 63 present, 62 swapped, 61 file page or shared
// anonymous, 56 exclusively mapped, 55 soft-dirty; bits 0-54 the PFN (zero without CAP_SYS_ADMIN).
import { read } from "node:fs";

export const PAGE_SIZE = 4096;

export interface PageCounts {
  pages: number;
  present: number;
  swapped: number;
  /** File pages, or shared anonymous pages. */
  fileOrShared: number;
  exclusive: number;
  softDirty: number;
}

export function emptyCounts(): PageCounts {
  return { pages: 0, present: 0, swapped: 0, fileOrShared: 0, exclusive: 0, softDirty: 0 };
}

/** Adds the entries in `bytes` (a whole number of 8-byte entries) to `counts`. */
export function countEntries(bytes: Uint8Array, counts: PageCounts): PageCounts {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 8 <= bytes.length; at += 8) {
    // Only the high word holds the flag bits 55-63.
    const high = view.getUint32(at + 4, true);
    counts.pages++;
    if (high & 0x80000000) counts.present++;
    if (high & 0x40000000) counts.swapped++;
    if (high & 0x20000000) counts.fileOrShared++;
    if (high & 0x01000000) counts.exclusive++;
    if (high & 0x00800000) counts.softDirty++;
  }
  return counts;
}

/** Reads the pagemap entries of [start, end) in bounded chunks and counts the pages by state. */
export async function countPages(pagemap: number, start: bigint, end: bigint): Promise<PageCounts> {
  const counts = emptyCounts();
  const chunk = Buffer.allocUnsafe(64 << 10);
  const first = start / BigInt(PAGE_SIZE);
  const last = (end + BigInt(PAGE_SIZE - 1)) / BigInt(PAGE_SIZE);
  for (let page = first; page < last; ) {
    const want = Math.min(chunk.length / 8, Number(last - page));
    const bytesRead = await new Promise<number>((resolve, reject) =>
      read(pagemap, chunk, 0, want * 8, page * 8n, (error, n) => (error ? reject(error) : resolve(n))),
    );
    if (bytesRead < 8) break;
    countEntries(chunk.subarray(0, bytesRead - (bytesRead % 8)), counts);
    page += BigInt(Math.floor(bytesRead / 8));
  }
  return counts;
}
