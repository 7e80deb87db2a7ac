// /proc/PID/maps and /proc/PID/smaps: one mapping per header line "start-end perms offset dev inode path",
// and in smaps the "Key: value kB" lines and "VmFlags:" that follow it.

export interface Mapping {
  start: bigint;
  /** Exclusive. */
  end: bigint;
  /** "r-xp": read, write, execute, then p (private) or s (shared). */
  perms: string;
  /** Byte offset in the mapped file. */
  offset: bigint;
  dev: string;
  inode: number;
  /** The file, a pseudo-name such as "[stack]", or "" for anonymous memory. */
  path: string;
  /** Two-letter VmFlags from smaps ("dd", "io", "ht"...); empty when read from maps. */
  vmFlags: string[];
  /** smaps "Anonymous:" in bytes (pages copied on write in a private file mapping count here), if known. */
  anonymousBytes?: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+)\s+([r-][w-][x-][ps])\s+([0-9a-f]+)\s+(\S+)\s+(\d+)(?:\s+(.*))?$/;

/** Parses one header line; returns undefined for a line that is not one (an smaps field line). */
export function parseMapsLine(line: string): Mapping | undefined {
  const m = HEADER.exec(line);
  if (!m) return undefined;
  return {
    start: BigInt(`0x${m[1]}`),
    end: BigInt(`0x${m[2]}`),
    perms: m[3] as string,
    offset: BigInt(`0x${m[4]}`),
    dev: m[5] as string,
    inode: Number(m[6]),
    path: (m[7] ?? "").trim(),
    vmFlags: [],
  };
}

export function parseMaps(text: string): Mapping[] {
  return text
    .split("\n")
    .map(parseMapsLine)
    .filter((m) => m !== undefined);
}

/** Parses /proc/PID/smaps: the maps lines, with VmFlags and Anonymous attached to each mapping. */
export function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of text.split("\n")) {
    const header = parseMapsLine(line);
    if (header) {
      mappings.push(header);
      continue;
    }
    const current = mappings[mappings.length - 1];
    if (!current) continue;
    if (line.startsWith("VmFlags:")) current.vmFlags = line.slice(8).trim().split(/\s+/).filter(Boolean);
    else if (line.startsWith("Anonymous:")) current.anonymousBytes = kilobytes(line);
  }
  return mappings;
}

export function mappingLength(m: Mapping): number {
  return Number(m.end - m.start);
}

/** A mapping of a file (as opposed to anonymous memory or a kernel pseudo-mapping such as [stack]). */
export function isFileBacked(m: Mapping): boolean {
  return m.inode !== 0 && m.path.startsWith("/");
}

function kilobytes(line: string): number {
  const value = /:\s*(\d+)\s*kB/.exec(line);
  return value ? Number(value[1]) * 1024 : 0;
}
