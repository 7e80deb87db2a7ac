// The one pipeline every command uses: plan -> bounded read loop -> format writer -> sink, hashing as bytes pass.
// Reads go into a small ring of reusable buffers; a buffer is read again only after it has been hashed and the sink
// has taken it, so memory stays bounded whatever the image size, and a slow sink slows the reads (back-pressure).
import { MemimageError, UnreadableError } from "../core/errors.js";
import { type Region, type Span, subtractSpans, totalLength } from "../core/map.js";
import type { FormatWriter, Piece, WriteContext } from "../formats/format.js";
import type { Sink, SinkResult } from "../sinks/sink.js";
import type { Source } from "../sources/source.js";
import { type HashName, HashStream } from "./hashing.js";
import { type Block, mapOrder } from "./plan.js";

export const DEFAULT_BLOCK_SIZE = 2 << 20;
const RING_DEPTH = 3;
const PAGE_SIZE = 4096;

export interface UnreadableSpan extends Span {
  reason: string;
}

export interface RangeResult {
  start: bigint;
  length: number;
  kind: string;
  /** Bytes actually read (the range's length less its unreadable spans). */
  bytesRead: number;
  /** SHA-256 of the bytes read, in address order, unreadable spans left out: the same whatever the format. */
  sha256: string;
  firstReadMs: number;
  lastReadMs: number;
}

export interface BlockTiming {
  address: bigint;
  length: number;
  startMs: number;
  endMs: number;
}

export type PipelineStatus = "complete" | "partial" | "aborted";

export interface PipelineResult {
  status: PipelineStatus;
  startedAt: Date;
  endedAt: Date;
  bytesRead: number;
  bytesPlanned: number;
  ranges: RangeResult[];
  unreadable: UnreadableSpan[];
  blocks: BlockTiming[];
  output: { bytes: number; sha256: string; blake3?: string };
  sink: SinkResult;
  /** Why the pipeline stopped early (status "aborted"). */
  error?: MemimageError;
}

export type PipelineEvent =
  | { type: "start"; bytesPlanned: number; ranges: number }
  | { type: "range"; index: number; start: bigint; length: number; kind: string }
  | { type: "progress"; bytesRead: number; bytesPlanned: number; address: bigint }
  | { type: "warning"; message: string }
  | { type: "done"; status: PipelineStatus };

export interface PipelineOptions {
  source: Source;
  map: readonly Region[];
  writer: FormatWriter;
  context: WriteContext;
  sink: Sink;
  hashes?: readonly HashName[];
  blockSize?: number;
  plan?: Iterable<Block>;
  onEvent?: (event: PipelineEvent) => void;
  signal?: AbortSignal;
  /** Sees each block as read, before it is reused (smear sampling hashes its sampled pages here); synchronous. */
  observeBlock?: (address: bigint, data: Uint8Array, holes: readonly Span[], readMs: number) => void;
}

export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const { source, map, writer, sink } = options;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const emit = options.onEvent ?? (() => {});
  const outputHash = await HashStream.create(options.hashes ?? ["sha256"]);
  const startedAt = new Date();
  const t0 = performance.now();
  const elapsed = () => Math.round((performance.now() - t0) * 1000) / 1000;
  const bytesPlanned = totalLength(map.filter((r) => r.readable));
  const ranges: (RangeResult & { hash: HashStream })[] = [];
  const unreadable: UnreadableSpan[] = [];
  const blocks: BlockTiming[] = [];
  let bytesRead = 0;
  let bytesOut = 0;
  let failure: unknown;
  /** Never rejects: the first failure is kept, and the loop stops at its next block. */
  const settled = (work: Promise<unknown>): Promise<void> =>
    work.then(
      () => undefined,
      (error: unknown) => {
        failure ??= error;
      },
    );

  // Three things happen to every block after it is read, each in order with itself and all at once with each other
  // and with the next read: its range hash, the output hash of its pieces, and the sink's write of its pieces.
  let writes: Promise<void> = Promise.resolve();
  // A piece is hashed once the sink has taken it, so the output hash always covers exactly the bytes written (an
  // aborted image's hash matches its .partial file); the hash of one piece runs while the next is written.
  const send = (pieces: Iterable<Piece>): Promise<void> => {
    const list = [...pieces]; // run the writer now, in block order
    const hashed: Promise<void>[] = [];
    writes = writes.then(async () => {
      for (const piece of list) {
        if (piece instanceof Uint8Array) {
          await sink.write(piece);
          bytesOut += piece.length;
          hashed.push(outputHash.update(piece));
          continue;
        }
        // A padded gap can be gigabytes: write it a block at a time so a signal can stop it.
        for (let left = piece.zeros; left > 0; left -= blockSize) {
          if (options.signal?.aborted) throw interrupted(options.signal);
          const length = Math.min(left, blockSize);
          await sink.writeZeros(length);
          bytesOut += length;
          hashed.push(outputHash.updateZeros(length));
        }
      }
    });
    return settled(writes.then(() => Promise.all(hashed)));
  };

  const ring = Array.from({ length: RING_DEPTH }, () => ({
    buffer: Buffer.allocUnsafe(blockSize),
    busy: Promise.resolve(),
  }));
  let slotIndex = 0;
  let stopped: unknown;
  emit({ type: "start", bytesPlanned, ranges: map.length });
  try {
    await send(options.writer.begin(map, options.context));
    let current: (RangeResult & { hash: HashStream }) | undefined;
    let currentIndex = -1;
    for (const block of options.plan ?? mapOrder(map, blockSize)) {
      if (failure) break;
      if (options.signal?.aborted) throw interrupted(options.signal);
      if (block.regionIndex !== currentIndex) {
        currentIndex = block.regionIndex;
        emit({
          type: "range",
          index: block.regionIndex,
          start: block.region.start,
          length: block.region.length,
          kind: block.region.kind,
        });
        if (!block.region.readable) {
          unreadable.push({
            start: block.region.start,
            length: block.region.length,
            reason: "the source cannot read this region",
          });
          send(writer.unreadable(block.region));
          current = undefined;
          continue;
        }
        current = {
          start: block.region.start,
          length: block.region.length,
          kind: block.region.kind,
          bytesRead: 0,
          sha256: "",
          firstReadMs: elapsed(),
          lastReadMs: 0,
          hash: await HashStream.create(),
        };
        ranges.push(current);
      }
      if (!current || block.length === 0) continue;
      const slot = ring[slotIndex] as (typeof ring)[number];
      slotIndex = (slotIndex + 1) % RING_DEPTH;
      await slot.busy; // hashed and written: the buffer may be read into again
      if (failure) break;
      const data = slot.buffer.subarray(0, block.length);
      const startMs = elapsed();
      const holes = await readBlock(source, block.address, data);
      const endMs = elapsed();
      blocks.push({ address: block.address, length: block.length, startMs, endMs });
      options.observeBlock?.(block.address, data, holes, endMs);
      const rangeHashed: Promise<void>[] = [];
      for (const run of subtractSpans(block.address, block.length, holes)) {
        const offset = Number(run.start - block.address);
        rangeHashed.push(current.hash.update(data.subarray(offset, offset + run.length)));
        current.bytesRead += run.length;
        bytesRead += run.length;
      }
      current.lastReadMs = endMs;
      for (const hole of holes) mergeHole(unreadable, hole);
      slot.busy = settled(
        Promise.all([
          send(writer.chunk({ region: block.region, address: block.address, data, holes })),
          ...rangeHashed,
        ]),
      );
      emit({ type: "progress", bytesRead, bytesPlanned, address: block.address });
    }
    if (!failure) await send(writer.end());
  } catch (error) {
    stopped = error;
  }
  await Promise.all(ring.map((slot) => slot.busy));
  await writes.catch(() => undefined);
  const raised = failure ?? stopped;
  if (raised !== undefined && !(raised instanceof MemimageError)) {
    await sink.abort();
    throw raised; // a bug, not a condition of the source or sink
  }
  const error = raised;
  let sinkResult: SinkResult;
  let finishError: MemimageError | undefined;
  if (error) sinkResult = await sink.abort();
  else {
    try {
      sinkResult = await sink.finish();
    } catch (e) {
      finishError = e instanceof MemimageError ? e : new MemimageError("sink", String(e), { cause: e });
      sinkResult = await sink.abort();
    }
  }
  const finalError = error ?? finishError;
  const status: PipelineStatus = finalError ? "aborted" : unreadable.length > 0 ? "partial" : "complete";
  const rangeResults: RangeResult[] = [];
  for (const { hash, ...r } of ranges) rangeResults.push({ ...r, sha256: (await hash.digest()).sha256 });
  emit({ type: "done", status });
  return {
    status,
    startedAt,
    endedAt: new Date(),
    bytesRead,
    bytesPlanned,
    ranges: rangeResults,
    unreadable,
    blocks,
    output: { bytes: bytesOut, ...(await outputHash.digest()) },
    sink: sinkResult,
    ...(finalError ? { error: finalError } : {}),
  };
}

/** Fills `into` from `address`; unreadable parts are zero-filled and returned as holes. */
async function readBlock(source: Source, address: bigint, into: Buffer): Promise<UnreadableSpan[]> {
  const holes: UnreadableSpan[] = [];
  let position = 0;
  while (position < into.length) {
    const at = address + BigInt(position);
    try {
      const count = await source.read(at, into.subarray(position));
      if (count <= 0) throw new UnreadableError("the source returned no bytes");
      position += count;
    } catch (error) {
      if (!(error instanceof UnreadableError)) throw error;
      // Skip what the source says is unreadable, or else to the next page boundary, and try again from there.
      const toPageEnd = PAGE_SIZE - Number(at % BigInt(PAGE_SIZE));
      const skip = Math.min(into.length - position, error.length ?? toPageEnd);
      into.fill(0, position, position + skip);
      mergeHole(holes, { start: at, length: skip, reason: error.reason });
      position += skip;
    }
  }
  return holes;
}

function mergeHole(holes: UnreadableSpan[], hole: UnreadableSpan): void {
  const last = holes[holes.length - 1];
  if (last && last.start + BigInt(last.length) === hole.start && last.reason === hole.reason)
    last.length += hole.length;
  else holes.push({ ...hole });
}

function interrupted(signal: AbortSignal): MemimageError {
  return signal.reason instanceof MemimageError
    ? signal.reason
    : new MemimageError("interrupted", "interrupted");
}
