// A live process as a source: /proc/PID/maps (via smaps) for the map, /proc/PID/mem read at offset = virtual
// address for the bytes, /proc/PID/pagemap for the state of each page.
import { close, closeSync, openSync, read, readFileSync, readlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { errnoCode, MemimageError, UnreadableError } from "../core/errors.js";
import { hex, type Region } from "../core/map.js";
import { classify, type FilterDecision } from "./coredump-filter.js";
import { countPages, PAGE_SIZE, type PageCounts } from "./pagemap.js";
import { type Mapping, parseSmaps } from "./proc-maps.js";
import {
  PF_KTHREAD,
  type ProcStat,
  type ProcStatus,
  parseCmdline,
  parseStat,
  parseStatus,
} from "./proc-status.js";
import type { Source, SourceDescription } from "./source.js";

/** What memimage learns about the process before reading it. */
export interface ProcessTarget {
  pid: number;
  stat: ProcStat;
  status: ProcStatus;
  cmdline: string[];
  exe: { path?: string; problem?: string };
  /** The descriptor of /proc/PID/mem, opened once: the permission check happens here, before any output. */
  mem: number;
}

const ACCESS_HELP =
  "run as root, or as the process's owner with ptrace allowed (kernel.yama.ptrace_scope 0, or CAP_SYS_PTRACE)";

/** Checks that the process exists, has user memory and may be read; throws a MemimageError saying what to do. */
export async function openProcess(pid: number): Promise<ProcessTarget> {
  let stat: ProcStat;
  try {
    stat = parseStat(await readFile(`/proc/${pid}/stat`, "latin1"));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") throw new MemimageError("source", `no process with PID ${pid}`);
    throw new MemimageError("source", `cannot read /proc/${pid}/stat: ${errnoCode(error) ?? String(error)}`);
  }
  if (stat.state === "Z" || stat.state === "X")
    throw new MemimageError(
      "source",
      `process ${pid} (${stat.comm}) is a zombie: it has exited and has no memory left to read`,
    );
  if (stat.flags & PF_KTHREAD)
    throw new MemimageError(
      "source",
      `process ${pid} (${stat.comm}) is a kernel thread: it has no user memory`,
    );
  const status = parseStatus(await readFile(`/proc/${pid}/status`, "latin1"));
  let mem: number;
  try {
    mem = openSync(`/proc/${pid}/mem`, "r");
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT") throw new MemimageError("source", `no process with PID ${pid} (it exited)`);
    if (code === "EACCES" || code === "EPERM")
      throw new MemimageError(
        "source",
        `permission denied reading the memory of process ${pid} (${stat.comm}): ${ACCESS_HELP}`,
      );
    throw new MemimageError("source", `cannot open /proc/${pid}/mem: ${code ?? String(error)}`);
  }
  const cmdline = parseCmdline(await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0)));
  let exe: ProcessTarget["exe"];
  try {
    exe = { path: readlinkSync(`/proc/${pid}/exe`) };
  } catch (error) {
    exe = { problem: `cannot read /proc/${pid}/exe: ${errnoCode(error) ?? String(error)}` };
  }
  return { pid, stat, status, cmdline, exe, mem };
}

/** True when the process has exited (gone, or a zombie whose memory is released). */
export function processGone(pid: number): boolean {
  try {
    const state = parseStat(readFileSync(`/proc/${pid}/stat`, "latin1")).state;
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

export interface PlannedMapping {
  mapping: Mapping;
  decision: FilterDecision;
  pages?: PageCounts;
}

export interface ProcessPlan {
  /** What will be read, in address order. */
  regions: Region[];
  /** Mappings (or their tails) declared in the core without bytes: left out by the filter or unreadable. */
  declared: Region[];
  mappings: PlannedMapping[];
}

const ELF_MAGIC = Buffer.from("\x7fELF", "latin1");
/** /proc/PID/mem takes its offset as a signed 64-bit position in Node: the vsyscall page above 2^63 is out of reach. */
const HIGHEST_READABLE = 1n << 63n;

/** Reads the mappings (smaps), decides what to keep, and counts page states from pagemap. */
export async function planMappings(target: ProcessTarget, filterBits: number): Promise<ProcessPlan> {
  let mappings: Mapping[];
  try {
    mappings = parseSmaps(await readFile(`/proc/${target.pid}/smaps`, "latin1"));
  } catch (error) {
    throw new MemimageError(
      "source",
      `cannot read /proc/${target.pid}/smaps: ${errnoCode(error) ?? String(error)}; ${ACCESS_HELP}`,
    );
  }
  if (mappings.length === 0)
    throw new MemimageError(
      "source",
      `process ${target.pid} has no user memory (no mappings; it may be exiting)`,
    );
  let pagemap: number | undefined;
  try {
    pagemap = openSync(`/proc/${target.pid}/pagemap`, "r");
  } catch {
    pagemap = undefined;
  }
  const regions: Region[] = [];
  const declared: Region[] = [];
  const planned: PlannedMapping[] = [];
  const head = Buffer.alloc(4);
  try {
    for (const m of mappings) {
      let elfMagic = false;
      if (m.offset === 0n && m.inode !== 0) {
        const bytesRead = await readAt(target.mem, head, m.start).catch(() => 0);
        elfMagic = bytesRead === 4 && head.equals(ELF_MAGIC);
      }
      let decision = classify(m, filterBits, elfMagic);
      if (m.end > HIGHEST_READABLE && decision.dump !== "none")
        decision = {
          class: decision.class,
          dump: "none",
          reason:
            "above 2^63 (the fixed vsyscall page, the same in every process): out of reach of a file offset",
        };
      const length = Number(m.end - m.start);
      const kind = m.path || "[anon]";
      const keep = decision.dump === "all" ? length : decision.dump === "first-page" ? PAGE_SIZE : 0;
      if (keep > 0) regions.push({ start: m.start, length: keep, readable: true, kind, perms: m.perms });
      if (keep < length)
        declared.push({
          start: m.start + BigInt(keep),
          length: length - keep,
          readable: false,
          kind,
          perms: m.perms,
        });
      const pages =
        pagemap !== undefined ? await countPages(pagemap, m.start, m.end).catch(() => undefined) : undefined;
      planned.push({ mapping: m, decision, ...(pages ? { pages } : {}) });
    }
  } finally {
    if (pagemap !== undefined) closeSync(pagemap);
  }
  return { regions, declared, mappings: planned };
}

/** Reads a process's memory through /proc/PID/mem. */
export class ProcessSource implements Source {
  private readonly lastEnd: bigint;
  private bytesRead = 0;
  private lastReadCalled = false;

  constructor(
    readonly description: SourceDescription,
    private readonly target: ProcessTarget,
    private readonly regions: readonly Region[],
    /** Called once the last byte of the last region has been read (memimage resumes a frozen process then). */
    private readonly onLastRead: () => void = () => {},
  ) {
    const last = regions[regions.length - 1];
    this.lastEnd = last ? last.start + BigInt(last.length) : 0n;
  }

  async map(): Promise<Region[]> {
    return [...this.regions];
  }

  async read(address: bigint, into: Uint8Array): Promise<number> {
    let count: number;
    try {
      count = await readAt(this.target.mem, into, address);
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ESRCH" || processGone(this.target.pid)) throw this.gone(address);
      if (code === "EIO" || code === "EFAULT")
        throw new UnreadableError(
          `${code}: the kernel could not read this page (unmapped meanwhile, beyond the end of its file, or a device page)`,
        );
      throw error;
    }
    if (count === 0) {
      if (processGone(this.target.pid)) throw this.gone(address);
      throw new UnreadableError("the kernel returned no bytes for this page");
    }
    this.bytesRead += count;
    if (!this.lastReadCalled && address + BigInt(count) >= this.lastEnd) {
      this.lastReadCalled = true;
      this.onLastRead();
    }
    return count;
  }

  async close(): Promise<void> {
    await closeProcess(this.target);
  }

  private gone(address: bigint): MemimageError {
    const region = this.regions.find((r) => address >= r.start && address < r.start + BigInt(r.length));
    return new MemimageError(
      "source-gone",
      `process ${this.target.pid} exited while being read: stopped at ${hex(address)}${region ? ` (${region.kind})` : ""} after ${this.bytesRead} bytes; the core is partial`,
    );
  }
}

/** pread(2) at a 64-bit position: the promise API's types take only numbers, the callback API bigints too. */
export function readAt(fd: number, into: Uint8Array, position: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, into, 0, into.length, position, (error, bytesRead) =>
      error ? reject(error) : resolve(bytesRead),
    );
  });
}

export function closeProcess(target: ProcessTarget): Promise<void> {
  return new Promise((resolve) => close(target.mem, () => resolve()));
}
