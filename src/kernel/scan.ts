// Looks for the kernel's VMCOREINFO note and Linux banner in memory as it passes: every block of an acquisition
// (the pipeline's observer) or of an image read back (`info`). Matches that straddle two blocks are found through
// a short overlap kept from the previous block. It stops looking once it has what it needs.
import { findBanners } from "./banner.js";
import { architectureOf, kernelImagePhysical } from "./identity.js";
import { mappingsFromVmcoreinfo } from "./mapping.js";
import { findMemoryNote, parseVmcoreinfo, symbol } from "./vmcoreinfo.js";

const OVERLAP = 8192;
const MAX_BANNERS = 16;
/** struct new_utsname: six fields of 65 bytes (sysname, nodename, release, version, machine, domainname). */
const UTS_FIELD = 65;
const UTS_BYTES = 6 * UTS_FIELD;

/** The kernel's own uname: what /proc/version and uname(2) are built from (init_uts_ns.name). */
export interface Utsname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
}

export interface FoundNote {
  text: string;
  address: bigint;
  bytes: number;
}

export interface FoundBanner {
  text: string;
  release: string;
  address: bigint;
}

export class KernelScan {
  private readonly banners: FoundBanner[] = [];
  private tail: { end: bigint; bytes: Buffer } | undefined;
  private note: FoundNote | undefined;
  private kernelStart: bigint | undefined;
  /** Where the kernel image's rodata (linux_banner) must be, once the note says: no need to look elsewhere. */
  private kernelWindow: { start: bigint; end: bigint } | undefined;
  private release: string | undefined;
  private uts: { address: bigint; bytes: Buffer; filled: number } | undefined;

  private readonly knownNote: boolean;

  /** `knownNote`: the VMCOREINFO text already known (through sysfs, or in the hypervisor's dump): not looked for. */
  constructor(
    knownNote?: string,
    private readonly architecture?: string,
  ) {
    this.knownNote = knownNote !== undefined;
    if (knownNote !== undefined) this.learn(knownNote);
  }

  get done(): boolean {
    return (
      (this.knownNote || this.note !== undefined) &&
      (!this.uts || this.uts.filled === UTS_BYTES) &&
      this.preferredBanner(true) !== undefined
    );
  }

  observe(address: bigint, data: Uint8Array): void {
    if (this.done) return;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
    this.captureUts(address, bytes);
    // Searching costs about as much as hashing: once the note is known, only the kernel image is searched.
    const window = this.kernelWindow;
    const end = address + BigInt(bytes.length);
    if (this.haveNote && (!window || end + BigInt(OVERLAP) <= window.start || address >= window.end)) {
      this.tail = undefined;
      return;
    }
    if (this.tail && this.tail.end === address) {
      const joined = Buffer.concat([this.tail.bytes, bytes.subarray(0, OVERLAP)]);
      this.search(joined, this.tail.end - BigInt(this.tail.bytes.length), this.tail.bytes.length);
    }
    this.search(bytes, address, 0);
    const keep = Math.min(OVERLAP, bytes.length);
    this.tail = {
      end: address + BigInt(bytes.length),
      bytes: Buffer.from(bytes.subarray(bytes.length - keep)),
    };
  }

  /** What was found: the note (unless known) and the banner most likely the kernel's own (linux_banner in rodata). */
  result(): { note?: FoundNote; banner?: FoundBanner; utsname?: Utsname } {
    const banner = this.preferredBanner(false);
    const utsname = this.utsname();
    return {
      ...(this.note ? { note: this.note } : {}),
      ...(banner ? { banner } : {}),
      ...(utsname ? { utsname } : {}),
    };
  }

  /** Copies the bytes of init_uts_ns.name this block holds (the struct may straddle two blocks). */
  private captureUts(address: bigint, bytes: Buffer): void {
    const uts = this.uts;
    if (!uts || uts.filled === UTS_BYTES) return;
    const from = uts.address > address ? uts.address : address;
    const end = address + BigInt(bytes.length);
    const to = uts.address + BigInt(UTS_BYTES) < end ? uts.address + BigInt(UTS_BYTES) : end;
    if (from >= to) return;
    bytes.copy(uts.bytes, Number(from - uts.address), Number(from - address), Number(to - address));
    uts.filled += Number(to - from);
  }

  private utsname(): Utsname | undefined {
    if (this.uts?.filled !== UTS_BYTES) return undefined;
    const field = (i: number) => {
      const raw = (this.uts as { bytes: Buffer }).bytes.subarray(i * UTS_FIELD, (i + 1) * UTS_FIELD);
      const nul = raw.indexOf(0);
      return raw.toString("latin1", 0, nul < 0 ? raw.length : nul);
    };
    const uts = {
      sysname: field(0),
      nodename: field(1),
      release: field(2),
      version: field(3),
      machine: field(4),
    };
    // Sanity: the struct read is the kernel's own only if it names the release the note gives.
    return uts.sysname === "Linux" && (!this.release || uts.release === this.release) ? uts : undefined;
  }

  /**
   * In the overlap buffer (`straddle` > 0) only matches that begin in the previous block's tail and end in this
   * block count; the others were or will be found in one block alone.
   */
  private get haveNote(): boolean {
    return this.knownNote || this.note !== undefined;
  }

  private search(bytes: Buffer, base: bigint, straddle: number): void {
    const counts = (offset: number, length: number) =>
      straddle === 0 || (offset < straddle && offset + length > straddle);
    if (!this.haveNote) {
      for (let from = 0; ; ) {
        const found = findMemoryNote(bytes, from);
        if (!found) break;
        const length = 24 + found.text.length;
        if (counts(found.offset, length)) {
          this.note = { text: found.text, address: base + BigInt(found.offset), bytes: length };
          this.learn(found.text);
          break;
        }
        from = found.offset + 1;
      }
    }
    if (this.banners.length >= MAX_BANNERS) return;
    for (const b of findBanners(bytes)) {
      if (!counts(b.offset, b.text.length + 1)) continue;
      if (this.release && b.release !== this.release) continue;
      this.banners.push({ text: b.text, release: b.release, address: base + BigInt(b.offset) });
      if (this.banners.length >= MAX_BANNERS) return;
    }
  }

  private learn(text: string): void {
    const info = parseVmcoreinfo(text);
    this.release = info.get("OSRELEASE");
    const stext = symbol(info, "_stext");
    const architecture = this.architecture ?? architectureOf(info);
    if (stext !== undefined) this.kernelStart = kernelImagePhysical(info, architecture, stext);
    const image = mappingsFromVmcoreinfo(info, architecture)[0];
    if (image) {
      const window = { start: image.physical, end: image.physical + BigInt(image.length) };
      this.kernelWindow = window;
      // Copies met before the note (a report or log in page cache, a JSON string) must not take the slots the
      // kernel's own banner needs.
      const inWindow = this.banners.filter((b) => b.address >= window.start && b.address < window.end);
      this.banners.splice(0, this.banners.length, ...inWindow);
    }
    const utsVirtual = symbol(info, "init_uts_ns");
    const nameOffset = info.get("OFFSET(uts_namespace.name)");
    const utsPhysical =
      utsVirtual === undefined ? undefined : kernelImagePhysical(info, architecture, utsVirtual);
    if (utsPhysical !== undefined && nameOffset !== undefined && /^\d+$/.test(nameOffset))
      this.uts = { address: utsPhysical + BigInt(nameOffset), bytes: Buffer.alloc(UTS_BYTES), filled: 0 };
  }

  /**
   * The banner that is the running kernel's: the one that ends with the kernel's uname version when that is
   * known (a kernel image can hold stale copies, e.g. one without the build number); else the first of the right
   * release in the kernel image from _stext on (rodata), else of the right release, else any.
   */
  private preferredBanner(strict: boolean): FoundBanner | undefined {
    const release = this.release;
    const uts = this.utsname();
    if (uts) {
      const exact = this.banners.find((b) => b.release === uts.release && b.text.endsWith(uts.version));
      if (exact || strict) return exact;
    }
    const right = this.banners.filter((b) => !release || b.release === release);
    const start = this.kernelStart;
    const end = this.kernelWindow?.end;
    const inKernel =
      start === undefined
        ? undefined
        : right.find((b) => b.address >= start && (end === undefined || b.address < end));
    if (strict) return inKernel;
    return inKernel ?? right[0] ?? this.banners[0];
  }
}
