// Classifies every page of the guest's System RAM by comparing an imager's image with two hypervisor dumps taken
// just before and just after it ran: the image may hold either version of a page that changed meanwhile (smear),
// but a page that did not change must be in the image byte for byte. Streams 1 MiB at a time from each file.
import { UnreadableError } from "../core/errors.js";
import { hex, regionEnd, type Span } from "../core/map.js";
import { readFully, type Source } from "../sources/source.js";

export const PAGE = 4096;

/** A page's class; the numbers index `PAGE_CLASSES` and order them from best to worst. */
export const PageClass = {
  /** Not System RAM: not compared. */
  outside: 0,
  /** Identical to both dumps: the page did not change and the image holds it. */
  identical: 1,
  /** Identical to the dump before only: it changed after the imager read it. */
  before: 2,
  /** Identical to the dump after only: it changed before the imager read it. */
  after: 3,
  /**
   * The image holds neither version and the page changed during the window: it differs between the dumps, the
   * guest's write log saw a store to it, or a dump taken during the window differs from the one before (a change
   * undone by the end, such as a page table cleared before it is freed). An intermediate state: still smear.
   */
  between: 4,
  /** The imager declared it could not read the page (its report lists it unreadable). */
  declared: 5,
  /** Not in the image, and nothing declared it missing. */
  missing: 6,
  /** Identical in both dumps, never written meanwhile, but different in the image: wrong, whatever the timing. */
  error: 7,
} as const;
export type PageClass = (typeof PageClass)[keyof typeof PageClass];

export const PAGE_CLASSES = [
  "outside",
  "identical",
  "before",
  "after",
  "between",
  "declared",
  "missing",
  "error",
] as const;
export type PageClassName = (typeof PAGE_CLASSES)[number];

/** `changedMeanwhile`: the write log or a dump taken during the window saw the page change. */
export function classifyPage(
  image: Uint8Array,
  before: Uint8Array,
  after: Uint8Array,
  changedMeanwhile = false,
): PageClass {
  const isBefore = Buffer.compare(image, before) === 0;
  const isAfter = Buffer.compare(image, after) === 0;
  if (isBefore && isAfter) return PageClass.identical;
  if (isBefore) return PageClass.before;
  if (isAfter) return PageClass.after;
  return Buffer.compare(before, after) === 0 && !changedMeanwhile ? PageClass.error : PageClass.between;
}

export interface ImageUnderTest {
  source: Source;
  /** Spans the image stores bytes for (ascending). */
  stored: readonly Span[];
  /** Spans the imager itself declared unreadable (ascending). */
  declared: readonly Span[];
}

export interface Classification {
  /** One class per page frame from address 0 to the end of the last compared span. */
  classes: Uint8Array;
  counts: Record<PageClassName, number>;
  /** Bytes of the compared spans the image holds. */
  bytesInImage: number;
  bytesCompared: number;
  /** Pages whose bytes differ between the two dumps, or in a dump taken meanwhile, whatever the image holds. */
  changedPages: number;
  /** Pages the write log saw stored to (stores of the same bytes count too); undefined without a log. */
  writtenPages?: number;
  /**
   * Pages whose bytes changed (between the dumps or in a dump taken meanwhile) that the write log did not see:
   * the log's blind spots (device DMA, the MMU's accessed/dirty bits). Undefined without a log.
   */
  changedUnlogged?: number;
  /**
   * Error pages that are all zeros in both dumps: most likely memory made and cleared again between two dumps (a
   * page table torn down, a page zeroed when allocated again), which the dumps cannot tell from a wrong image.
   */
  errorZeroPages: number;
  /** The first few pages of each failing class, for a diagnostic. */
  examples: { missing: string[]; error: string[] };
}

const STEP = 256 * PAGE;

/** What else says a page changed during the window, one byte per page frame (1: changed). */
export interface ChangeEvidence {
  /** A dump taken during the window differed from the dump before. */
  sampled?: Uint8Array;
  /** The guest's write log saw a store to the page. */
  written?: Uint8Array;
}

/**
 * Compares `image` with the dumps over `spans` (ascending, e.g. System RAM). A page is a frame clipped to its
 * span, so a partial page at a range's end is compared on the bytes it has.
 */
export async function classifyPages(
  image: ImageUnderTest,
  before: Source,
  after: Source,
  spans: readonly Span[],
  evidence: ChangeEvidence = {},
): Promise<Classification> {
  const { sampled, written } = evidence;
  const frames = frameCount(spans);
  const result: Classification = {
    classes: new Uint8Array(frames),
    counts: Object.fromEntries(PAGE_CLASSES.map((c) => [c, 0])) as Record<PageClassName, number>,
    bytesInImage: 0,
    bytesCompared: 0,
    changedPages: 0,
    errorZeroPages: 0,
    examples: { missing: [], error: [] },
  };
  let writtenPages = 0;
  let changedUnlogged = 0;
  const b = Buffer.alloc(STEP);
  const a = Buffer.alloc(STEP);
  const i = Buffer.alloc(STEP);
  for (const { start, length } of chunks(spans)) {
    await readExactly(before, start, b.subarray(0, length), "the dump before");
    await readExactly(after, start, a.subarray(0, length), "the dump after");
    const have = intersect(image.stored, start, length);
    for (const part of have)
      await readExactly(
        image.source,
        part.start,
        i.subarray(Number(part.start - start)).subarray(0, part.length),
        "the image",
      );
    result.bytesInImage += have.reduce((n, s) => n + s.length, 0);
    result.bytesCompared += length;
    for (const { address, frame, p, size } of pages(start, length)) {
      const pb = b.subarray(p, p + size);
      const pa = a.subarray(p, p + size);
      const changedInDumps = sampled?.[frame] === 1 || !pb.equals(pa);
      const stored = written?.[frame] === 1;
      const meanwhile = changedInDumps || stored;
      if (changedInDumps) result.changedPages++;
      if (stored) writtenPages++;
      else if (changedInDumps) changedUnlogged++;
      let cls: PageClass;
      if (covers(have, address, size)) cls = classifyPage(i.subarray(p, p + size), pb, pa, meanwhile);
      else if (overlaps(image.declared, address, size)) cls = PageClass.declared;
      else cls = PageClass.missing;
      // A frame shared by two spans keeps its worse class.
      if (cls > (result.classes[frame] ?? 0)) result.classes[frame] = cls;
      result.counts[PAGE_CLASSES[cls]]++;
      if (cls === PageClass.error && isZero(pb)) result.errorZeroPages++;
      if (
        (cls === PageClass.missing || cls === PageClass.error) &&
        result.examples[PAGE_CLASSES[cls]].length < 8
      )
        result.examples[PAGE_CLASSES[cls]].push(hex(address));
    }
  }
  return written ? { ...result, writtenPages, changedUnlogged } : result;
}

/** Marks (1) in `changed`, one byte per page frame, every page where `sample` differs from `before`. */
export async function markChanges(
  before: Source,
  sample: Source,
  spans: readonly Span[],
  changed: Uint8Array,
): Promise<void> {
  const b = Buffer.alloc(STEP);
  const s = Buffer.alloc(STEP);
  for (const { start, length } of chunks(spans)) {
    await readExactly(before, start, b.subarray(0, length), "the dump before");
    await readExactly(sample, start, s.subarray(0, length), "a dump during the window");
    for (const { frame, p, size } of pages(start, length))
      if (!b.subarray(p, p + size).equals(s.subarray(p, p + size))) changed[frame] = 1;
  }
}

/** The spans in pieces of at most STEP bytes, each read into the comparison buffers at once. */
function* chunks(spans: readonly Span[]): Generator<{ start: bigint; length: number }> {
  for (const span of spans)
    for (let offset = 0; offset < span.length; offset += STEP)
      yield { start: span.start + BigInt(offset), length: Math.min(STEP, span.length - offset) };
}

/**
 * The pages of a chunk, cut at frame boundaries (a span starting mid-frame gives a short first page): `p` is the
 * page's offset in the chunk, `frame` its page frame number.
 */
function* pages(
  start: bigint,
  length: number,
): Generator<{ address: bigint; frame: number; p: number; size: number }> {
  for (let p = 0; p < length; ) {
    const address = start + BigInt(p);
    const frame = address / BigInt(PAGE);
    const size = Math.min(length - p, Number((frame + 1n) * BigInt(PAGE) - address));
    yield { address, frame: Number(frame), p, size };
    p += size;
  }
}

/** Page frames from address 0 to the end of the last span. */
export function frameCount(spans: readonly Span[]): number {
  const last = spans[spans.length - 1];
  return last ? Number((regionEnd(last) + BigInt(PAGE - 1)) / BigInt(PAGE)) : 0;
}

/** Reads exactly into.length bytes from address; a dump or image that cannot give them is an error. */
async function readExactly(source: Source, address: bigint, into: Uint8Array, what: string): Promise<void> {
  try {
    await readFully(source, address, into);
  } catch (error) {
    if (error instanceof UnreadableError) throw new Error(`${what}: ${error.reason}`);
    throw error;
  }
}

/** The parts of [start, start+length) inside `spans` (ascending). */
export function intersect(spans: readonly Span[], start: bigint, length: number): Span[] {
  const end = start + BigInt(length);
  const out: Span[] = [];
  for (const s of spans) {
    if (s.start >= end) break;
    const lo = s.start > start ? s.start : start;
    const sEnd = regionEnd(s);
    const hi = sEnd < end ? sEnd : end;
    if (hi > lo) out.push({ start: lo, length: Number(hi - lo) });
  }
  return out;
}

function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

function covers(parts: readonly Span[], address: bigint, size: number): boolean {
  const end = address + BigInt(size);
  let cursor = address;
  for (const s of parts) {
    if (s.start > cursor) return false;
    if (regionEnd(s) > cursor) cursor = regionEnd(s);
    if (cursor >= end) return true;
  }
  return cursor >= end;
}

function overlaps(spans: readonly Span[], address: bigint, size: number): boolean {
  const end = address + BigInt(size);
  return spans.some((s) => s.start < end && regionEnd(s) > address);
}
