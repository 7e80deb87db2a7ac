// A memory map: ordered, non-overlapping regions of an address space.
// Addresses are bigint (kernel virtual addresses pass 2^53); lengths are checked safe integers.
// Ends are exclusive everywhere in memimage; only formats/lime.ts speaks of inclusive "last" addresses.

export type AddressSpace = "physical" | "virtual";

export interface Region {
  start: bigint;
  length: number;
  /** False when the source already knows it cannot be read (listed in the report, never silently dropped). */
  readable: boolean;
  /** What the source says the region is: "System RAM", a mapping's path, "segment". */
  kind: string;
  /** Mapping permissions "rwxp" for virtual regions. */
  perms?: string;
}

/** A byte range [start, start+length) inside a region. */
export interface Span {
  start: bigint;
  length: number;
}

export function regionEnd(r: Span): bigint {
  return r.start + BigInt(r.length);
}

export function hex(address: bigint | number): string {
  return `0x${address.toString(16)}`;
}

export function checkedLength(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError(`${what} is out of range: ${value}`);
  return Number(value);
}

/** Returns a problem description if the regions are not ascending and non-overlapping, else undefined. */
export function mapProblem(regions: readonly Span[]): string | undefined {
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i] as Span;
    if (r.length <= 0) return `region ${i} at ${hex(r.start)} is empty`;
    const previous = regions[i - 1];
    if (previous && r.start < regionEnd(previous)) {
      return r.start < previous.start
        ? `region ${i} at ${hex(r.start)} is below the previous one at ${hex(previous.start)} (ranges must ascend)`
        : `region ${i} at ${hex(r.start)} overlaps the previous one, which ends at ${hex(regionEnd(previous))}`;
    }
  }
  return undefined;
}

export function totalLength(regions: readonly Span[]): number {
  return regions.reduce((sum, r) => sum + r.length, 0);
}

/** Joins touching spans into one; used where a format cut one region into several records. */
export function coalesce<T extends Span>(
  spans: readonly T[],
  same: (a: T, b: T) => boolean = () => true,
): T[] {
  const out: T[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && regionEnd(last) === s.start && same(last, s))
      out[out.length - 1] = { ...last, length: last.length + s.length };
    else out.push({ ...s });
  }
  return out;
}

/** The parts of [start, start+length) that lie outside the given holes (holes ascending). */
export function subtractSpans(start: bigint, length: number, holes: readonly Span[]): Span[] {
  const end = start + BigInt(length);
  const out: Span[] = [];
  let cursor = start;
  for (const h of holes) {
    const hEnd = regionEnd(h);
    if (hEnd <= cursor || h.start >= end) continue;
    if (h.start > cursor) out.push({ start: cursor, length: Number(h.start - cursor) });
    if (hEnd > cursor) cursor = hEnd;
  }
  if (cursor < end) out.push({ start: cursor, length: Number(end - cursor) });
  return out;
}

/** Math.max and Math.min for addresses (they do not take bigints). */
export function laterOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

export function earlierOf(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
