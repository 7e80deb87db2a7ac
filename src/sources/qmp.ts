// A QEMU guest read from outside, through its hypervisor (QMP). `pause` stops the guest, has QEMU dump its RAM
// (dump-guest-memory, paging off, ELF) into a FIFO that memimage reads as it is written, and resumes the guest;
// `live` leaves the guest running and has QEMU copy each range (pmemsave) into the same FIFO. Either way nothing
// runs inside the guest. Note that QEMU's dump-guest-memory stops a running guest by itself for its duration,
// so a live acquisition cannot use it.

import { MemimageError } from "../core/errors.js";
import { hex, type Region, regionEnd } from "../core/map.js";
import { ElfStreamSource, readElfHead } from "./elf-stream.js";
import type { FifoReader } from "./fifo.js";
import { QmpClient, QmpError, type QmpEvent } from "./qmp-client.js";
import { type GuestRange, parseFlatView } from "./qmp-layout.js";
import type { Source, SourceDescription } from "./source.js";

export type VmMode = "pause" | "live";

interface QueryDump {
  status: string;
  completed: number;
  total: number;
}

export interface VmFreeze {
  by: "memimage" | "already paused before memimage" | "none: --live";
  start?: string;
  end?: string;
  durationMs?: number;
  /** Where start and end come from: QEMU's STOP and RESUME events carry its own timestamps. */
  clock?: string;
  /** Why the guest could not be resumed (QEMU gone, or refused cont). */
  resumeError?: string;
}

const LIVE_PIECE = 64 << 20;
const EVENT_TIMEOUT_MS = 10_000;

export class VmSession {
  private resumed = false;
  private dumpStarted = false;
  private dumpFinished: Promise<QmpEvent | Error> | undefined;
  readonly freeze: VmFreeze;
  /** Recorded in the report as source.details; filled in as the acquisition goes. */
  readonly details: Record<string, unknown>;

  private constructor(
    readonly socketPath: string,
    readonly client: QmpClient,
    readonly mode: VmMode,
    readonly layout: GuestRange[],
    readonly initialStatus: string,
    details: Record<string, unknown>,
  ) {
    this.freeze =
      mode === "live"
        ? { by: "none: --live" }
        : initialStatus === "running"
          ? { by: "memimage" }
          : { by: "already paused before memimage" };
    this.details = { ...details, mode, freeze: this.freeze, guestRan: mode === "live" };
  }

  /** Connects and checks that this QEMU can be imaged now: the commands exist, no dump is running. */
  static async open(socketPath: string, mode: VmMode): Promise<VmSession> {
    const client = await QmpClient.connect(socketPath);
    try {
      const commands = new Set(
        (await client.execute<{ name: string }[]>("query-commands")).map((c) => c.name),
      );
      const needed = mode === "pause" ? ["dump-guest-memory", "query-dump", "stop", "cont"] : ["pmemsave"];
      const missing = [...needed, "query-status", "human-monitor-command"].filter((c) => !commands.has(c));
      if (missing.length > 0)
        throw new MemimageError(
          "source",
          `the QMP server at ${socketPath} has no ${missing.join(", ")}: not a QEMU system emulator that can dump guest memory`,
        );
      const status = await client.execute<{ status: string; running: boolean }>("query-status");
      if (mode === "pause") {
        const dump = await client.execute<QueryDump>("query-dump");
        if (dump.status === "active")
          throw new MemimageError(
            "source",
            `a dump is already running in this QEMU (${dump.completed} of ${dump.total} bytes); wait for it to end and retry`,
          );
      }
      const version = await client.execute<{ qemu: { major: number; minor: number; micro: number } }>(
        "query-version",
      );
      const size = await client
        .execute<{ "base-memory": number; "plugged-memory"?: number }>("query-memory-size-summary")
        .catch(() => undefined);
      const flat = await client.execute<string>("human-monitor-command", { "command-line": "info mtree -f" });
      const layout = parseFlatView(flat);
      const ramBytes = size ? size["base-memory"] + (size["plugged-memory"] ?? 0) : undefined;
      return new VmSession(socketPath, client, mode, layout, status.status, {
        hypervisor: {
          name: "QEMU",
          version: `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}`,
          qmpSocket: socketPath,
        },
        guestRamBytes: ramBytes ?? "unknown: no query-memory-size-summary",
        statusBefore: status.status,
        layout: layout.map((r) => ({ start: hex(r.start), length: r.length, names: r.names })),
      });
    } catch (error) {
      client.close();
      throw error instanceof QmpError ? new MemimageError("source", error.message) : error;
    }
  }

  /** Stops the guest if it runs (pause mode); the freeze starts at QEMU's STOP event. */
  async pause(): Promise<void> {
    if (this.mode !== "pause" || this.initialStatus !== "running") return;
    this.client.forget("STOP");
    await this.client.execute("stop");
    const stop = await this.client.waitEvent("STOP", EVENT_TIMEOUT_MS).catch(() => undefined);
    this.freeze.start = new Date(stop?.timestampMs ?? Date.now()).toISOString();
    this.freeze.clock = stop ? "QEMU's STOP and RESUME event timestamps" : "memimage's clock";
  }

  /**
   * Resumes the guest if memimage stopped it; safe to call again; never throws (a failure is recorded in
   * freeze.resumeError). Never resumes a guest paused by someone else.
   */
  async resume(): Promise<void> {
    if (this.mode !== "pause" || this.initialStatus !== "running" || this.resumed) return;
    this.resumed = true;
    try {
      await this.cont();
    } catch (error) {
      this.freeze.resumeError = error instanceof Error ? error.message : String(error);
    }
  }

  private async cont(): Promise<void> {
    await this.waitDump();
    this.client.forget("RESUME");
    await this.client.execute("cont");
    const event = await this.client.waitEvent("RESUME", EVENT_TIMEOUT_MS).catch(() => undefined);
    const end = event?.timestampMs ?? Date.now();
    this.freeze.end = new Date(end).toISOString();
    if (this.freeze.start)
      this.freeze.durationMs = Math.round((end - Date.parse(this.freeze.start)) * 1000) / 1000;
  }

  /** Starts QEMU's dump into the FIFO and returns a source that parses it as it streams. */
  async dumpSource(fifo: FifoReader, description: SourceDescription): Promise<ElfStreamSource> {
    this.watch(fifo);
    this.client.forget("DUMP_COMPLETED");
    try {
      await this.client.execute("dump-guest-memory", {
        paging: false,
        protocol: `file:${fifo.path}`,
        detach: true,
      });
    } catch (error) {
      throw error instanceof QmpError ? new MemimageError("source", error.message) : error;
    }
    this.dumpStarted = true;
    this.dumpFinished = this.client.waitEvent("DUMP_COMPLETED", 24 * 3600_000).catch((e: Error) => e);
    void this.dumpFinished.then((event) => {
      const error = event instanceof Error ? undefined : (event.data?.error as string | undefined);
      if (error) fifo.fail(new MemimageError("source-gone", `QEMU's dump failed: ${error}`));
    });
    const head = await readElfHead(fifo, `QEMU's dump (${this.socketPath})`);
    this.details.notes = head.notes.map((n) => ({ name: n.name, type: n.type, size: n.desc.length }));
    return new ElfStreamSource(description, fifo, head, (start, length) => this.kindOf(start, length));
  }

  /** A source that copies each range with pmemsave while the guest runs. */
  liveSource(fifo: FifoReader, description: SourceDescription): Source {
    this.watch(fifo);
    return new LiveSource(description, fifo, this.layout, this.client, (s, l) => this.kindOf(s, l));
  }

  /** Polls query-dump into details.dump (QEMU's own progress) until the dump ends. */
  async pollDump(everyMs = 500): Promise<void> {
    while (this.dumpStarted && this.dumpFinished) {
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        this.dumpFinished.then(() => true),
        new Promise<false>((r) => {
          timer = setTimeout(() => r(false), everyMs);
        }),
      ]);
      clearTimeout(timer);
      const dump = await this.client.execute<QueryDump>("query-dump").catch(() => undefined);
      if (dump) this.details.dump = dump;
      if (done || !dump || dump.status !== "active") return;
    }
  }

  /** Waits (a while) for a started dump to end, so that a guest is never resumed under a running dump. */
  async waitDump(): Promise<void> {
    if (!this.dumpFinished) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.dumpFinished,
      new Promise((r) => {
        timer = setTimeout(r, EVENT_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Records the guest's run state now (after the read) in details.statusAfter. */
  async recordStatus(): Promise<void> {
    const status = await this.client
      .execute<{ status: string }>("query-status")
      .catch((e: Error) => `unknown: ${e.message}`);
    this.details.statusAfter = typeof status === "string" ? status : status.status;
  }

  close(): void {
    this.client.close();
  }

  private watch(fifo: FifoReader): void {
    void this.client.closed.then((error) =>
      fifo.fail(new MemimageError("source-gone", `${error.message} while memory was being read`)),
    );
  }

  private kindOf(start: bigint, length: number): string {
    const end = start + BigInt(length);
    const names = this.layout.filter((r) => r.start < end && regionEnd(r) > start).flatMap((r) => r.names);
    return names.length > 0 ? [...new Set(names)].join("+") : "guest memory";
  }
}

/** The guest's ranges in order, each copied by QEMU (pmemsave, in pieces) into the FIFO as the reads reach it. */
class LiveSource implements Source {
  private feeding: Promise<void> | undefined;
  private readonly offsets: number[] = [];

  constructor(
    readonly description: SourceDescription,
    private readonly fifo: FifoReader,
    private readonly ranges: readonly GuestRange[],
    private readonly client: QmpClient,
    private readonly kindOf: (start: bigint, length: number) => string,
  ) {
    let offset = 0;
    for (const r of ranges) {
      this.offsets.push(offset);
      offset += r.length;
    }
  }

  async map(): Promise<Region[]> {
    return this.ranges.map((r) => ({
      start: r.start,
      length: r.length,
      readable: true,
      kind: this.kindOf(r.start, r.length),
    }));
  }

  async read(address: bigint, into: Uint8Array): Promise<number> {
    this.feeding ??= this.feed();
    const index = this.ranges.findIndex((r) => address >= r.start && address < regionEnd(r));
    const range = this.ranges[index];
    if (!range) throw new MemimageError("source", `${hex(address)} is in no range of the guest`);
    const inRange = Number(address - range.start);
    const position = (this.offsets[index] as number) + inRange;
    if (position < this.fifo.position)
      throw new MemimageError(
        "source",
        `${hex(address)} was already passed in the stream (reads must ascend)`,
      );
    await this.fifo.skipTo(position);
    return this.fifo.read(into.subarray(0, Math.min(into.length, range.length - inRange)));
  }

  async close(): Promise<void> {
    await this.fifo.close();
  }

  private async feed(): Promise<void> {
    try {
      for (const r of this.ranges) {
        for (let offset = 0; offset < r.length; offset += LIVE_PIECE) {
          const size = Math.min(LIVE_PIECE, r.length - offset);
          await this.client.execute("pmemsave", {
            val: Number(r.start + BigInt(offset)),
            size,
            filename: this.fifo.path,
          });
        }
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.fifo.fail(new MemimageError("source-gone", `QEMU stopped copying guest memory: ${message}`));
    }
  }
}
