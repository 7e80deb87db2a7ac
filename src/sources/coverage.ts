// Coverage of System RAM: bytes read over bytes of System RAM. A physical source counts as it reads, and the
// report serialises this object after the pipeline has finished, so the figure is the measured one.
import { hex, type Span, totalLength } from "../core/map.js";

export interface NotOffered extends Span {
  reason: string;
}

export class Coverage {
  private read = 0;

  constructor(
    private readonly ram: readonly Span[],
    /** System RAM the source cannot read at all (left out of the plan as unreadable regions). */
    private readonly notOffered: readonly NotOffered[],
  ) {}

  private counting = true;

  add(bytes: number): void {
    if (this.counting) this.read += bytes;
  }

  /** Reads made by `work` (the kernel's note, read before the pass) are not the image's: they are not counted. */
  async aside<T>(work: () => Promise<T>): Promise<T> {
    this.counting = false;
    try {
      return await work();
    } finally {
      this.counting = true;
    }
  }

  /** The pass is over: later reads (the smear sample's re-reads) do not count as coverage. */
  stop(): void {
    this.counting = false;
  }

  get bytesRead(): number {
    return this.read;
  }

  get systemRamBytes(): number {
    return totalLength(this.ram);
  }

  toJSON(): Record<string, unknown> {
    const ram = this.systemRamBytes;
    return {
      bytesRead: this.read,
      systemRamBytes: ram,
      fraction: ram === 0 ? 0 : this.read / ram,
      notOffered: this.notOffered.map((n) => ({ start: hex(n.start), length: n.length, reason: n.reason })),
    };
  }
}
