// Smear sampling (--smear-sample N): an estimate of how much memory changed while it was being imaged.
// N pages are drawn at random from the readable map before the pass; as the pass reads each of them, its SHA-256
// is kept (32 bytes a page, nothing else); after the pass every sampled page is read again through the same source
// and compared. A page that differs changed between its read and the re-read, so the image holds a state of it
// that no longer matches its neighbours read later (Pagani et al., "Introducing the Temporal Dimension to Memory
// Forensics", 2019). A lower bound: a page may change and change back, and pages read last had the least time.
import { createHash, randomInt } from "node:crypto";
import { UnreadableError } from "../core/errors.js";
import { hex, type Region, type Span } from "../core/map.js";
import { readFully, type Source } from "../sources/source.js";

const PAGE = 4096;
/** 32 bytes of hash and 8 of address a page: 2^18 pages cost 10 MiB, within the tool's memory budget. */
export const MAX_SMEAR_SAMPLE = 1 << 18;
const EXAMPLES = 32;

export interface SmearSampleResult {
  requested: number;
  /** Pages drawn (fewer than requested when the map has fewer readable pages). */
  sampled: number;
  /** Sampled pages that the pass read whole (a page with an unreadable part is not compared). */
  compared: number;
  changed: number;
  /** Sampled pages the re-read could not read (the memory went away or became unreadable). */
  unreadableOnReread: number;
  fractionChanged: number | null;
  /** When the re-read ran, ms since the acquisition started. */
  rereadStartMs: number;
  rereadEndMs: number;
  /** Up to 32 changed pages, ascending: address and when the pass had read it (ms since start). */
  examples: { address: string; readMs: number }[];
}

export class SmearSampler {
  private readonly addresses: bigint[];
  private readonly lengths: number[];
  private readonly hashes: (Buffer | undefined)[];
  private readonly readMs: Float64Array;

  constructor(
    map: readonly Region[],
    readonly requested: number,
  ) {
    const pages = map.filter((r) => r.readable).map((r) => ({ r, count: Math.ceil(r.length / PAGE) }));
    const total = pages.reduce((n, p) => n + p.count, 0);
    const chosen = choose(total, Math.min(requested, total, MAX_SMEAR_SAMPLE));
    this.addresses = [];
    this.lengths = [];
    let base = 0;
    let i = 0;
    for (const { r, count } of pages) {
      while (i < chosen.length && (chosen[i] as number) < base + count) {
        const k = (chosen[i] as number) - base;
        this.addresses.push(r.start + BigInt(k * PAGE));
        this.lengths.push(Math.min(PAGE, r.length - k * PAGE));
        i++;
      }
      base += count;
    }
    this.hashes = new Array(this.addresses.length).fill(undefined);
    this.readMs = new Float64Array(this.addresses.length);
  }

  /** Called by the pipeline with each block as read (blocks come in address order within a region). */
  observe(address: bigint, data: Uint8Array, holes: readonly Span[], readMs: number): void {
    const end = address + BigInt(data.length);
    // Blocks arrive in plan order; find the first sampled page of this block by binary search.
    let i = lowerBound(this.addresses, address);
    for (; i < this.addresses.length && (this.addresses[i] as bigint) < end; i++) {
      const at = this.addresses[i] as bigint;
      const length = this.lengths[i] as number;
      if (holes.some((h) => h.start < at + BigInt(length) && at < h.start + BigInt(h.length))) continue;
      const offset = Number(at - address);
      this.hashes[i] = sha256(data.subarray(offset, offset + length));
      this.readMs[i] = readMs;
    }
  }

  /** Reads every compared page again through `source` and counts those that differ. */
  async reread(source: Source, elapsed: () => number): Promise<SmearSampleResult> {
    const rereadStartMs = elapsed();
    const buffer = Buffer.alloc(PAGE);
    let compared = 0;
    let changed = 0;
    let unreadableOnReread = 0;
    const examples: SmearSampleResult["examples"] = [];
    for (const [i, before] of this.hashes.entries()) {
      if (!before) continue;
      const at = this.addresses[i] as bigint;
      const page = buffer.subarray(0, this.lengths[i]);
      try {
        await readFully(source, at, page);
      } catch (error) {
        if (error instanceof UnreadableError) {
          unreadableOnReread++;
          continue;
        }
        throw error;
      }
      compared++;
      if (!sha256(page).equals(before)) {
        changed++;
        if (examples.length < EXAMPLES) examples.push({ address: hex(at), readMs: this.readMs[i] as number });
      }
    }
    return {
      requested: this.requested,
      sampled: this.addresses.length,
      compared,
      changed,
      unreadableOnReread,
      fractionChanged: compared === 0 ? null : changed / compared,
      rereadStartMs,
      rereadEndMs: elapsed(),
      examples,
    };
  }
}

/** `count` distinct integers in [0, total), ascending (Floyd's algorithm: one draw each). */
function choose(total: number, count: number): number[] {
  const picked = new Set<number>();
  for (let j = total - count; j < total; j++) {
    const t = randomInt(0, j + 1);
    picked.add(picked.has(t) ? j : t);
  }
  return [...picked].sort((a, b) => a - b);
}

function lowerBound(sorted: readonly bigint[], value: bigint): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as bigint) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest();
