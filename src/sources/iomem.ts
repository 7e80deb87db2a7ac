// /proc/iomem: the kernel's tree of physical address ranges. Lines read "start-last : name", indented two
// spaces per level, with hexadecimal addresses whose `last` is INCLUSIVE. This is the one place that turns
// that inclusive last address into memimage's exclusive end (AVML's parser drops the last byte of each range).
import { readFile } from "node:fs/promises";
import { errnoCode, MemimageError } from "../core/errors.js";
import { coalesce, type Span } from "../core/map.js";

export const SYSTEM_RAM = "System RAM";

export interface IomemEntry {
  start: bigint;
  /** Exclusive. */
  end: bigint;
  name: string;
  /** Nesting level: 0 for a top-level range. */
  depth: number;
}

const LINE = /^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)$/;

export function parseIomem(text: string): IomemEntry[] {
  const entries: IomemEntry[] = [];
  for (const line of text.split("\n")) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, indent = "", first = "", last = "", name = ""] = match;
    entries.push({
      start: BigInt(`0x${first}`),
      end: BigInt(`0x${last}`) + 1n,
      name: name.trim(),
      depth: indent.length / 2,
    });
  }
  return entries;
}

/** The "System RAM" ranges, ascending and joined where they touch. */
export function systemRam(entries: readonly IomemEntry[]): Span[] {
  const spans = entries
    .filter((e) => e.name === SYSTEM_RAM && e.end > e.start)
    .map((e) => ({ start: e.start, length: Number(e.end - e.start) }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return coalesce(spans);
}

/** The first range with this name (e.g. "Kernel code", "Kernel rodata"), if the kernel lists it. */
export function namedRange(entries: readonly IomemEntry[], name: string): Span | undefined {
  const e = entries.find((x) => x.name === name);
  return e ? { start: e.start, length: Number(e.end - e.start) } : undefined;
}

/**
 * Reads System RAM from /proc/iomem. Without CAP_SYS_ADMIN the kernel prints every address as 0, which would
 * look like a machine without memory: that is an error saying what to do, not an empty map.
 */
export async function readSystemRam(path = "/proc/iomem"): Promise<{ entries: IomemEntry[]; ram: Span[] }> {
  let text: string;
  try {
    text = await readFile(path, "latin1");
  } catch (error) {
    throw new MemimageError("source", `cannot read ${path}: ${errnoCode(error) ?? String(error)}`, {
      cause: error,
    });
  }
  const entries = parseIomem(text);
  const ram = systemRam(entries);
  if (entries.length > 0 && entries.every((e) => e.start === 0n && e.end === 1n))
    throw new MemimageError(
      "source",
      `${path} shows every address as 0: reading physical addresses needs root (CAP_SYS_ADMIN); run memimage acquire as root`,
    );
  if (ram.length === 0) throw new MemimageError("source", `${path} lists no "System RAM"`);
  return { entries, ram };
}
