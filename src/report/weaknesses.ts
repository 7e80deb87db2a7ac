// The five known weaknesses of memory imaging (SOLVE-IT technique T1003), and what this acquisition measured
// about each. A figure is given only when it was measured here; anything else is the string "unknown: why".
import { stat, statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { hex, type Region } from "../core/map.js";
import type { PriorityWindow } from "../pipeline/priority.js";
import type { PipelineResult } from "../pipeline/run.js";
import type { SmearSampleResult } from "../pipeline/smear.js";
import type { SourceDescription } from "../sources/source.js";
import { activeSwaps, type SwapArea, type ZramDevice, zramDevices } from "../sources/swaps.js";

export const SOLVE_IT_TECHNIQUE = "T1003";

type Unknown = `unknown: ${string}`;

export interface SwapCollection {
  image: string;
  bytes: number;
  sha256: string;
  areas: { path: string; offset: number; length: number; bytesRead: number; sha256: string }[];
  unreadable: { path: string; offset: number; length: number; reason: string }[];
}

export interface Weaknesses {
  technique: typeof SOLVE_IT_TECHNIQUE;
  memorySmear: {
    weakness: string;
    /** From the first block's read to the last block's read, ms since time.start. */
    window: { firstReadMs: number; lastReadMs: number; durationMs: number } | Unknown;
    perRange: string;
    perBlock: string;
    /** The window of what --priority read first, or why there is none. */
    priority: string | PriorityWindow;
    sample: SmearSampleResult | Unknown;
    /** How the acquisition avoided the weakness, when it did (SOLVE-IT mitigation). */
    mitigation?: string;
  };
  toolChangesMemory: {
    weakness: string;
    peakRssBytes: number;
    minorPageFaults: number;
    majorPageFaults: number;
    filesWritten: string[];
    targetWrites: string;
    mitigation?: string;
  };
  toolOverwritesData: {
    weakness: string;
    sink: string;
    location: string;
    device: string | Unknown;
    filesystem: string | Unknown;
    filesystemMagic: string | Unknown;
    network: boolean;
    ramBacked: boolean | Unknown;
    ramBackedOutput:
      | "refused"
      | "allowed with --allow-ram-backed-output"
      | "not on a RAM-backed filesystem"
      | Unknown;
  };
  incompleteAcquisition: {
    weakness: string;
    against: string;
    totalBytes: number | Unknown;
    bytesRead: number;
    fraction: number | Unknown;
    missing: { start: string; length: number; reason: string }[];
  };
  swapNotCollected: {
    weakness: string;
    active: SwapArea[] | Unknown;
    zram: ZramDevice[];
    collected: SwapCollection | "not requested (--swap)" | "not applicable: no active swap" | Unknown;
  };
}

export interface WeaknessInput {
  result: PipelineResult;
  source: SourceDescription;
  map: readonly Region[];
  smear?: SmearSampleResult | Unknown | undefined;
  priority?: string | PriorityWindow | undefined;
  swap?: Weaknesses["swapNotCollected"]["collected"] | undefined;
  /** Files this run wrote besides the image (report, CASE file, swap image). */
  otherFiles: string[];
}

/** statfs f_type of filesystems worth naming (linux/magic.h). */
const FILESYSTEMS: Record<number, string> = {
  16914836: "tmpfs",
  2240043254: "ramfs",
  61267: "ext2/3/4",
  1481003842: "xfs",
  2435016766: "btrfs",
  19780: "vfat",
  1397118030: "ntfs",
  538032816: "exfat",
  26985: "nfs",
  4283649346: "cifs",
  16914839: "9p",
  2035054128: "overlayfs",
  1702057286: "fuse",
};
const RAM_BACKED = new Set([0x01021994, 0x858458f6]);

export async function assessWeaknesses(input: WeaknessInput): Promise<Weaknesses> {
  const { result, source } = input;
  const usage = process.resourceUsage();
  const swaps = await activeSwaps();
  return {
    technique: SOLVE_IT_TECHNIQUE,
    memorySmear: {
      weakness:
        "memory smear: the system changes while it is read, so pages read at different times disagree",
      window: smearWindow(result),
      perRange: "ranges[].firstReadMs and lastReadMs",
      perBlock: "blocks[]: [address, length, start ms, end ms], in the order read",
      priority: input.priority ?? "not requested (--priority): read in address order",
      sample: input.smear ?? "unknown: no re-read sample taken (--smear-sample N)",
      ...hypervisorMitigation(source, "smear"),
    },
    toolChangesMemory: {
      weakness: "the tool changes the memory it reads: its own process takes pages of the RAM being imaged",
      peakRssBytes: usage.maxRSS * 1024,
      minorPageFaults: usage.minorPageFault,
      majorPageFaults: usage.majorPageFault,
      filesWritten: [
        ...(result.sink.kind === "file" ? [resolve(result.sink.location)] : []),
        ...input.otherFiles.map((f) => resolve(f)),
        ...(typeof input.swap === "object" ? [resolve(input.swap.image)] : []),
      ],
      targetWrites:
        source.kind === "process"
          ? "none: the process is read through /proc/PID/mem, never written; its page cache and swap-in may change"
          : source.kind === "image"
            ? "not applicable: the source is an image file, not live memory"
            : "memimage's own pages (peakRssBytes) come from the RAM being imaged; it writes to no physical address",
      ...hypervisorMitigation(source, "footprint"),
    },
    toolOverwritesData: await outputPlacement(result, source),
    incompleteAcquisition: coverage(input),
    swapNotCollected: {
      weakness: "pagefile or swap not collected: pages swapped out of RAM are in no memory image",
      active: Array.isArray(swaps) ? swaps : `unknown: ${swaps.unknown}`,
      zram: await zramDevices(Array.isArray(swaps) ? swaps : []),
      collected:
        input.swap ??
        (Array.isArray(swaps) && swaps.length === 0
          ? "not applicable: no active swap"
          : "not requested (--swap)"),
    },
  };
}

/** A guest imaged through its hypervisor (memimage vm): frozen from outside (M1088), nothing run inside (M1087). */
function hypervisorMitigation(
  source: SourceDescription,
  what: "smear" | "footprint",
): { mitigation?: string } {
  if (source.kind !== "qmp") return {};
  const frozen = (source.details?.freeze as { by?: string } | undefined)?.by !== "none: --live";
  if (what === "footprint")
    return {
      mitigation:
        "avoided (SOLVE-IT M1087): read through the hypervisor from outside; nothing ran in the guest, and memimage's own pages are the host's, not the guest's",
    };
  return {
    mitigation: frozen
      ? "avoided (SOLVE-IT M1088): the guest was frozen by its hypervisor for the whole read (source.details.freeze)"
      : "not avoided: --live, the guest ran while it was read",
  };
}

function smearWindow(result: PipelineResult): Weaknesses["memorySmear"]["window"] {
  const first = result.blocks[0];
  if (!first) return "unknown: no block was read";
  const firstReadMs = Math.min(...result.blocks.map((b) => b.startMs));
  const lastReadMs = Math.max(...result.blocks.map((b) => b.endMs));
  return { firstReadMs, lastReadMs, durationMs: Math.round((lastReadMs - firstReadMs) * 1000) / 1000 };
}

async function outputPlacement(
  result: PipelineResult,
  source: SourceDescription,
): Promise<Weaknesses["toolOverwritesData"]> {
  const base = {
    weakness:
      "the tool overwrites relevant data: an image written to this machine's RAM or disk displaces evidence",
    sink: result.sink.kind,
    location: result.sink.location,
  };
  const kind = result.sink.kind;
  if (kind === "tcp" || kind === "tcp-listen" || kind === "s3") {
    const why = `not applicable: ${kind} sends the image off this machine` as const;
    return {
      ...base,
      location: networkDestination(kind, result.sink.location),
      device: why,
      filesystem: why,
      filesystemMagic: why,
      network: true,
      ramBacked: false,
      ramBackedOutput: "not on a RAM-backed filesystem",
    };
  }
  if (result.sink.kind !== "file") {
    return {
      ...base,
      device: `not applicable: ${result.sink.kind}`,
      filesystem: `not applicable: ${result.sink.kind}`,
      filesystemMagic: `not applicable: ${result.sink.kind}`,
      network: false,
      ramBacked: `unknown: standard output goes wherever the caller sends it`,
      ramBackedOutput: `unknown: memimage cannot see where standard output goes`,
    };
  }
  const directory = dirname(resolve(result.sink.location));
  const fs = await statfs(directory).catch((e: Error) => e);
  const st = await stat(directory).catch((e: Error) => e);
  const device =
    st instanceof Error
      ? (`unknown: ${st.message}` as const)
      : `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`;
  if (fs instanceof Error) {
    const why = `unknown: ${fs.message}` as const;
    return {
      ...base,
      device,
      filesystem: why,
      filesystemMagic: why,
      network: false,
      ramBacked: why,
      ramBackedOutput: why,
    };
  }
  const ramBacked = RAM_BACKED.has(fs.type);
  const checked = (source.details as { outputFilesystem?: { allowRamBackedOutput?: boolean } } | undefined)
    ?.outputFilesystem;
  return {
    ...base,
    device,
    filesystem: FILESYSTEMS[fs.type] ?? `other (f_type 0x${fs.type.toString(16)})`,
    filesystemMagic: `0x${fs.type.toString(16)}`,
    network: [0x6969, 0xff534d42, 0x01021997].includes(fs.type),
    ramBacked,
    ramBackedOutput: !ramBacked
      ? "not on a RAM-backed filesystem"
      : checked?.allowRamBackedOutput
        ? "allowed with --allow-ram-backed-output"
        : typeof checked === "object"
          ? "refused"
          : `unknown: this command (${source.kind}) does not check for RAM-backed output`,
  };
}

/**
 * Where a network output went, without anything secret a URL may carry (user:password@, query string):
 * HOST:PORT for tcp:// (the receiver) and --listen (the client that connected), BUCKET/KEY for s3://.
 */
export function networkDestination(kind: "tcp" | "tcp-listen" | "s3", location: string): string {
  if (kind === "tcp-listen") {
    const client = /\(client ([^)\s]+)\)/.exec(location)?.[1];
    if (client) return client;
  }
  const url = /^[a-z0-9-]+:\/\/(?:[^@/?#]*@)?([^/?#\s]+)(\/[^?#\s]*)?/.exec(location);
  if (!url) return location.replace(/ \(.*\)$/, "");
  return kind === "s3" ? `${url[1]}${url[2] ?? ""}` : (url[1] as string);
}

function coverage(input: WeaknessInput): Weaknesses["incompleteAcquisition"] {
  const { result, source, map } = input;
  const weakness =
    "not all memory acquired: ranges the source could not or did not read are not in the image";
  const unreadable = result.unreadable.map((u) => ({
    start: hex(u.start),
    length: u.length,
    reason: u.reason,
  }));
  const details = (source.details ?? {}) as Record<string, unknown>;
  if (source.kind === "qmp" && Array.isArray(details.layout)) {
    const total = (details.layout as { length: number }[]).reduce((n, r) => n + r.length, 0);
    return {
      weakness,
      against: "the guest's RAM and ROM as its hypervisor maps them (source.details.layout)",
      totalBytes: total,
      bytesRead: result.bytesRead,
      fraction: total === 0 ? 0 : result.bytesRead / total,
      missing: unreadable,
    };
  }
  if (source.addressSpace === "physical" && source.kind !== "image") {
    const measured = details.coverage as { toJSON?: () => Record<string, unknown> } | undefined;
    const c = (measured?.toJSON?.() ?? measured) as
      | { systemRamBytes?: number; notOffered?: { start: string; length: number; reason: string }[] }
      | undefined;
    const ram = c?.systemRamBytes;
    return {
      weakness,
      against: "System RAM in /proc/iomem",
      totalBytes: ram ?? "unknown: the source gave no System RAM total",
      bytesRead: result.bytesRead,
      fraction: ram ? result.bytesRead / ram : "unknown: no System RAM total",
      missing: [
        ...(c?.notOffered ?? []),
        ...unreadable.filter((u) => !c?.notOffered?.some((n) => n.start === u.start)),
      ],
    };
  }
  if (source.kind === "process" && Array.isArray(details.mappings)) {
    const mappings = details.mappings as { start: string; end: string }[];
    const total = mappings.reduce((n, m) => n + Number(BigInt(m.end) - BigInt(m.start)), 0);
    const skipped = ((details.skipped ?? []) as { start: string; end: string; reason: string }[]).map(
      (s) => ({
        start: s.start,
        length: Number(BigInt(s.end) - BigInt(s.start)),
        reason: `left out (wholly or but for its first page) by the filter: ${s.reason}`,
      }),
    );
    return {
      weakness,
      against: "the process's mappings in /proc/PID/maps",
      totalBytes: total,
      bytesRead: result.bytesRead,
      fraction: total === 0 ? 0 : result.bytesRead / total,
      missing: [...skipped, ...unreadable],
    };
  }
  const total = map.reduce((n, r) => n + r.length, 0);
  return {
    weakness,
    against:
      source.kind === "image"
        ? "the input image's map (its own acquisition's report tells the rest)"
        : "the source's map",
    totalBytes: total,
    bytesRead: result.bytesRead,
    fraction: total === 0 ? 0 : result.bytesRead / total,
    missing: unreadable,
  };
}
