// Compares an image with the hypervisor's ground truth, page by page: byte-identical where memory does not
// change (kernel code and rodata), and the fraction of differing pages elsewhere (smear, a measurement).
import { UnreadableError } from "../core/errors.js";
import { type Span, subtractSpans } from "../core/map.js";
import { readFully, type Source } from "../sources/source.js";

const PAGE = 4096;

/** Reads [start, start+length) fully; bytes the source cannot give come back as undefined pages. */
export async function readSpan(source: Source, start: bigint, length: number): Promise<Buffer | undefined> {
  const out = Buffer.alloc(length);
  try {
    await readFully(source, start, out);
  } catch (error) {
    if (error instanceof UnreadableError) return undefined;
    throw error;
  }
  return out;
}

export interface PageDiff {
  pages: number;
  differing: number;
  /** Pages one side could not give. */
  missing: number;
  /** Addresses of the first few differing pages, for a diagnostic. */
  examples: bigint[];
}

/** Compares two sources over the spans, a page at a time (1 MiB reads). */
export async function diffPages(a: Source, b: Source, spans: readonly Span[]): Promise<PageDiff> {
  const result: PageDiff = { pages: 0, differing: 0, missing: 0, examples: [] };
  const step = 256 * PAGE;
  for (const span of spans) {
    for (let offset = 0; offset < span.length; offset += step) {
      const start = span.start + BigInt(offset);
      const length = Math.min(step, span.length - offset);
      const [x, y] = await Promise.all([readSpan(a, start, length), readSpan(b, start, length)]);
      for (let p = 0; p < length; p += PAGE) {
        const size = Math.min(PAGE, length - p);
        result.pages++;
        if (!x || !y) {
          result.missing++;
          continue;
        }
        if (!x.subarray(p, p + size).equals(y.subarray(p, p + size))) {
          result.differing++;
          if (result.examples.length < 8) result.examples.push(start + BigInt(p));
        }
      }
    }
  }
  return result;
}

/** The readable parts of spans (holes removed): what an image claims to hold. */
export function readableParts(spans: readonly Span[], holes: readonly Span[]): Span[] {
  return spans.flatMap((s) => subtractSpans(s.start, s.length, holes));
}
