// The map of a physical acquisition: System RAM from /proc/iomem, split into what the source offers (readable)
// and what it does not (listed as unreadable with the reason, never silently dropped).
import { type Region, regionEnd, type Span, subtractSpans } from "../core/map.js";
import type { NotOffered } from "./coverage.js";
import { SYSTEM_RAM } from "./iomem.js";

const PAGE = 4096n;
export const PARTIAL_PAGE =
  "a partial page at the edge of a System RAM range: the kernel does not use it and offers whole pages only";

function holdsWholePage(s: Span): boolean {
  const firstPage = ((s.start + PAGE - 1n) / PAGE) * PAGE;
  return firstPage + PAGE <= regionEnd(s);
}

export interface PhysicalMap {
  regions: Region[];
  notOffered: NotOffered[];
}

/** Intersects each RAM span with the (ascending, possibly overlapping) spans the source can read. */
export function physicalMap(ram: readonly Span[], offered: readonly Span[], whyNot: string): PhysicalMap {
  const sorted = union(offered);
  const regions: Region[] = [];
  const notOffered: NotOffered[] = [];
  for (const r of ram) {
    const end = regionEnd(r);
    const pieces: Region[] = [];
    for (const o of sorted) {
      const start = later(o.start, r.start);
      const oEnd = regionEnd(o);
      const stop = earlier(oEnd, end);
      if (stop > start)
        pieces.push({ start, length: Number(stop - start), readable: true, kind: SYSTEM_RAM });
    }
    for (const gap of subtractSpans(r.start, r.length, pieces)) {
      pieces.push({ ...gap, readable: false, kind: SYSTEM_RAM });
      notOffered.push({ ...gap, reason: holdsWholePage(gap) ? whyNot : PARTIAL_PAGE });
    }
    pieces.sort((a, b) => (a.start < b.start ? -1 : 1));
    regions.push(...pieces);
  }
  return { regions, notOffered };
}

/** The union of spans: ascending, overlaps folded and touching ones joined. */
function union(spans: readonly Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= regionEnd(last)) {
      if (regionEnd(s) > regionEnd(last)) last.length = Number(regionEnd(s) - last.start);
    } else out.push({ ...s });
  }
  return out;
}

const later = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const earlier = (a: bigint, b: bigint): bigint => (a < b ? a : b);
