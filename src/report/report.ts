// The JSON report written beside every image: what was read, from where, when, how it was laid out and hashed,
// and what could not be read. Every figure is measured; what was not measured is left out or said to be unknown.
// Its schema is schema/report.schema.json.
import { arch, hostname, platform, release, userInfo } from "node:os";
import { inBinary } from "../core/embedded.js";
import { hex, type Region } from "../core/map.js";
import { BUILD, VERSION } from "../core/version.js";
import type { KernelIdentity } from "../kernel/identity.js";
import { sha256Engine } from "../pipeline/hashing.js";
import type { PipelineResult, RangeResult } from "../pipeline/run.js";
import type { SourceDescription } from "../sources/source.js";
import type { Weaknesses } from "./weaknesses.js";

export const REPORT_SCHEMA = "memimage-report/1";
export const REPORT_SUFFIX = ".report.json";

export interface ReportRegion {
  start: string;
  length: number;
  readable: boolean;
  kind: string;
  perms?: string;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  tool: {
    name: "memimage";
    version: string;
    /** The git commit of the build, or "unknown" (see core/version.ts). */
    commit: string;
    /** How memimage ran: the npm package under node, or the single executable (its addons loaded from itself). */
    build: "package" | "single executable";
    node: string;
    sha256: string;
  };
  command: string[];
  host: { hostname: string; platform: string; release: string; arch: string; user: string };
  status: PipelineResult["status"];
  exitCode: number;
  error?: string;
  source: SourceDescription;
  output: {
    format: string;
    sink: string;
    location: string;
    complete: boolean;
    bytes: number;
    sha256: string;
    blake3?: string;
  };
  time: { start: string; end: string; durationMs: number };
  map: ReportRegion[];
  /** The pipeline's per-range results, with the start address as hex. */
  ranges: (Omit<RangeResult, "start"> & { start: string })[];
  unreadable: { start: string; length: number; reason: string }[];
  summary: { bytesPlanned: number; bytesRead: number; ranges: number; unreadableBytes: number };
  /** Per block read: [address, length, start ms, end ms] relative to time.start. The smear measurements use them. */
  blocks: [string, number, number, number][];
  /** Who ran it (--examiner); the CASE performer. */
  examiner?: string;
  /** What was measured about each known weakness of memory imaging (src/report/weaknesses.ts). */
  weaknesses?: Weaknesses;
  /** Physical and VM images: which kernel, and where it is (src/kernel/identity.ts). */
  kernel?: KernelIdentity;
}

export interface ReportInput {
  result: PipelineResult;
  source: SourceDescription;
  map: readonly Region[];
  format: string;
  exitCode: number;
  argv?: string[];
  examiner?: string | undefined;
  weaknesses?: Weaknesses | undefined;
  kernel?: KernelIdentity | undefined;
}

export function buildReport({
  result,
  source,
  map,
  format,
  exitCode,
  argv = process.argv,
  examiner,
  weaknesses,
  kernel,
}: ReportInput): Report {
  const unreadableBytes = result.unreadable.reduce((n, u) => n + u.length, 0);
  return {
    schema: REPORT_SCHEMA,
    tool: {
      name: "memimage",
      version: VERSION,
      commit: BUILD.commit,
      build: inBinary() ? "single executable" : "package",
      node: process.version,
      sha256: sha256Engine(),
    },
    command: ["memimage", ...argv.slice(2)],
    host: {
      hostname: hostname(),
      platform: platform(),
      release: release(),
      arch: arch(),
      user: currentUser(),
    },
    status: result.status,
    exitCode,
    ...(result.error ? { error: result.error.message } : {}),
    source,
    output: {
      format,
      sink: result.sink.kind,
      location: result.sink.location,
      complete: result.status !== "aborted",
      bytes: result.output.bytes,
      sha256: result.output.sha256,
      ...(result.output.blake3 ? { blake3: result.output.blake3 } : {}),
    },
    time: {
      start: result.startedAt.toISOString(),
      end: result.endedAt.toISOString(),
      durationMs: result.endedAt.getTime() - result.startedAt.getTime(),
    },
    map: map.map(toReportRegion),
    ranges: result.ranges.map((r) => ({ ...r, start: hex(r.start) })),
    unreadable: result.unreadable.map((u) => ({ start: hex(u.start), length: u.length, reason: u.reason })),
    summary: {
      bytesPlanned: result.bytesPlanned,
      bytesRead: result.bytesRead,
      ranges: result.ranges.length,
      unreadableBytes,
    },
    blocks: result.blocks.map((b) => [hex(b.address), b.length, b.startMs, b.endMs]),
    ...(examiner ? { examiner } : {}),
    ...(weaknesses ? { weaknesses } : {}),
    ...(kernel ? { kernel } : {}),
  };
}

export function toReportRegion(r: Region): ReportRegion {
  return {
    start: hex(r.start),
    length: r.length,
    readable: r.readable,
    kind: r.kind,
    ...(r.perms ? { perms: r.perms } : {}),
  };
}

export function fromReportRegion(r: ReportRegion): Region {
  return {
    start: BigInt(r.start),
    length: r.length,
    readable: r.readable,
    kind: r.kind,
    ...(r.perms ? { perms: r.perms } : {}),
  };
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "unknown");
  }
}
