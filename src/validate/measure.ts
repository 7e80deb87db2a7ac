// One validation run in the lab guest: start the workload, dump the guest's RAM through the hypervisor (paused),
// run the imager inside, dump again, and classify every page of System RAM against the two dumps. The dumps go
// to the host's disk (the run directory), never into the guest's RAM.
import { copyFile, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { exists } from "../core/exists.js";
import { type Span, totalLength } from "../core/map.js";
import type { Guest } from "../lab/guest.js";
import type { WriteLog } from "../lab/write-log.js";
import type { Report } from "../report/report.js";
import { openImage } from "../sources/image.js";
import { namedRange, parseIomem, systemRam } from "../sources/iomem.js";
import {
  type ChangeEvidence,
  type Classification,
  classifyPages,
  frameCount,
  markChanges,
  PAGE,
  PageClass,
} from "./classify.js";
import { openToolImage } from "./tool-image.js";
import { expand, type ToolSpec } from "./tools.js";
import { startScript, stopScript, type Workload } from "./workload.js";

export interface GuestFacts {
  release: string;
  memoryMiB: number;
  cpus: number;
  qemu: string;
  ram: Span[];
  kernel: { name: string; span: Span }[];
  /** GNU time in the guest (the host's, seen through 9p): how the tool's time and peak RSS are measured. */
  gnuTime: boolean;
}

export async function guestFacts(guest: Guest, memoryMiB: number, cpus: number): Promise<GuestFacts> {
  const iomem = parseIomem(await guest.check("cat /proc/iomem"));
  const kernel = ["Kernel code", "Kernel rodata"].flatMap((name) => {
    const span = namedRange(iomem, name);
    return span ? [{ name, span }] : [];
  });
  const version = await guest.qmp.execute<{ qemu: { major: number; minor: number; micro: number } }>(
    "query-version",
  );
  return {
    release: (await guest.check("uname -r")).trim(),
    memoryMiB,
    cpus,
    qemu: `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}`,
    ram: systemRam(iomem),
    kernel,
    gnuTime: (await guest.run("test -x /usr/bin/time")).code === 0,
  };
}

export interface RunInput {
  tool: ToolSpec;
  workload: Workload;
  /** 1-based, within this tool and workload. */
  run: number;
  /** For raw and padded images without a report beside them. */
  toolFormat?: string;
  lime?: string;
  /** Keep the image and both dumps here (moved off the run directory). */
  keepDir?: string;
  /** Seconds between the dumps taken while the imager runs (0: none). */
  sampleEverySeconds: number;
  /** The guest's write log, if its QEMU loaded the plugin. */
  writeLog?: WriteLog;
}

export type Unknown = `unknown: ${string}`;

export interface RunResult {
  tool: string;
  workload: Workload;
  run: number;
  command: string;
  toolExit: number;
  passed: boolean;
  /** Why it failed, one line each. */
  failures: string[];
  format?: string;
  layoutFrom?: string;
  systemRamBytes: number;
  bytesInImage?: number;
  coverage?: number;
  pages?: {
    compared: number;
    identical: number;
    smear: number;
    smearBefore: number;
    smearAfter: number;
    smearBetween: number;
    errors: number;
    /** Of the errors, pages all zeros in both dumps (see Classification.errorZeroPages). */
    errorsZeroInDumps: number;
    missing: number;
    declaredUnreadable: number;
    /** Pages the write log saw stored to during the window (see Classification.writtenPages). */
    written?: number;
    /** Pages whose bytes changed though the write log saw no store (see Classification.changedUnlogged). */
    changedUnlogged?: number;
  };
  /** What told validate that a page changed during the window. */
  changesSeenBy: string;
  kernelIdentical?: "yes" | "no" | Unknown;
  /** Pages of kernel code and rodata not identical to both dumps. */
  kernelPagesDiffering?: number | Unknown;
  time: {
    /** The tool's own wall time, measured in the guest by GNU time. */
    toolSeconds: number | Unknown;
    /** From the first dump's resume to the second dump's pause, on the host's clock. */
    windowSeconds: number;
    throughputMBps?: number | Unknown;
  };
  footprint: {
    peakRssBytes: number | Unknown;
    /** Pages some dump saw change during the window (tool, harness and guest together; idle: mostly the tool). */
    changedPages?: number;
  };
  readTimes: string;
  /** Dumps taken while the imager ran, each compared with the one before to find changes undone by the end. */
  samples: { count: number; everySeconds: number };
  examples?: Classification["examples"];
  kept?: string[];
  /** For the picture; left out of --json. */
  classes?: Uint8Array;
  readMs?: Float32Array;
}

let serial = 0;

export async function measure(guest: Guest, facts: GuestFacts, input: RunInput): Promise<RunResult> {
  const id = `validate-${++serial}`;
  const out = guest.path(`${id}.image`);
  const beforePath = guest.path(`${id}.before.elf`);
  const afterPath = guest.path(`${id}.after.elf`);
  const timePath = guest.path(`${id}.time`);
  const scriptPath = guest.path(`${id}.sh`);
  const command = expand(input.tool.template, { out, ...(input.lime ? { lime: input.lime } : {}) });
  await writeFile(scriptPath, `${command}\n`);
  const start = startScript(input.workload);
  const stop = stopScript(input.workload);
  const samplePath = guest.path(`${id}.sample.elf`);
  const logPath = guest.path(`${id}.written`);
  const sampled = new Uint8Array(frameCount(facts.ram));
  let written: Uint8Array | undefined;
  const samples = { count: 0, everySeconds: input.sampleEverySeconds };
  const log = input.writeLog;
  const base: Pick<
    RunResult,
    "tool" | "workload" | "run" | "command" | "systemRamBytes" | "readTimes" | "samples" | "changesSeenBy"
  > = {
    tool: input.tool.name,
    workload: input.workload,
    run: input.run,
    command,
    systemRamBytes: totalLength(facts.ram),
    readTimes: "unknown: the imager wrote no per-block read times",
    samples,
    changesSeenBy: listed([
      "the two dumps",
      ...(log ? ["the guest's write log"] : []),
      ...(input.sampleEverySeconds > 0 ? [`a dump every ${input.sampleEverySeconds} s meanwhile`] : []),
    ]),
  };
  let toolExit: number;
  let toolStderr: string;
  let windowSeconds: number;
  if (start) {
    await guest.check(start);
    await sleep(2000); // let the workload reach its steady state before the window opens
  }
  try {
    await groundTruth(guest, beforePath, () => log?.start());
    const opened = Date.now();
    const timed = facts.gnuTime ? `/usr/bin/time -f "%e %M" -o ${timePath} ` : "";
    const running = guest.run(`${timed}sh ${scriptPath}`, 60 * 60_000);
    let done = false;
    const ended = running.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    while (!done && input.sampleEverySeconds > 0) {
      await Promise.race([sleep(input.sampleEverySeconds * 1000), ended]);
      if (done) break;
      await groundTruth(guest, samplePath);
      samples.count++;
      await foldSample(beforePath, samplePath, facts.ram, sampled);
    }
    const r = await running;
    windowSeconds = (Date.now() - opened) / 1000;
    await groundTruth(guest, afterPath, async () => {
      if (!log) return;
      written = (await log.save(logPath)).written;
      await log.stop();
    });
    toolExit = r.code;
    toolStderr = r.stderr.trim();
  } finally {
    if (stop) await guest.check(stop);
  }
  const measured = facts.gnuTime ? await gnuTime(timePath) : undefined;
  const toolSeconds: number | Unknown =
    measured?.seconds ?? "unknown: no GNU time (/usr/bin/time) in the guest";
  const peakRssBytes: number | Unknown =
    input.tool.rssCaveat ??
    (measured ? measured.maxRssKiB * 1024 : "unknown: no GNU time (/usr/bin/time) in the guest");
  const files = [out, `${out}.report.json`, beforePath, afterPath];
  const result = await compare(facts, input, out, beforePath, afterPath, {
    sampled,
    ...(written ? { written } : {}),
  }).catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }) as const);
  const label = `${/^[a-z]+$/.test(input.tool.name) ? input.tool.name : "command"}-${input.workload}-${input.run}`;
  const kept = input.keepDir ? await keep(files, input.keepDir, id, label) : undefined;
  await Promise.all([...files, timePath, scriptPath].map((f) => rm(f, { force: true })));
  const failures: string[] = [];
  if (!input.tool.acceptedExits.includes(toolExit))
    failures.push(`the imager exited ${toolExit}${toolStderr ? `: ${lastLines(toolStderr)}` : ""}`);
  if ("error" in result) {
    failures.push(result.error);
    return {
      ...base,
      toolExit,
      passed: false,
      failures,
      time: { toolSeconds, windowSeconds },
      footprint: { peakRssBytes },
      ...(kept ? { kept } : {}),
    };
  }
  const { c, image, report } = result;
  const pages = {
    compared: PAGE_CLASS_TOTAL(c),
    identical: c.counts.identical,
    smear: c.counts.before + c.counts.after + c.counts.between,
    smearBefore: c.counts.before,
    smearAfter: c.counts.after,
    smearBetween: c.counts.between,
    errors: c.counts.error,
    errorsZeroInDumps: c.errorZeroPages,
    missing: c.counts.missing,
    declaredUnreadable: c.counts.declared,
    ...(c.writtenPages !== undefined ? { written: c.writtenPages } : {}),
    ...(c.changedUnlogged !== undefined ? { changedUnlogged: c.changedUnlogged } : {}),
  };
  const kernelPagesDiffering = kernelDiffering(c, facts);
  const kernelIdentical =
    typeof kernelPagesDiffering === "number"
      ? kernelPagesDiffering === 0
        ? "yes"
        : "no"
      : kernelPagesDiffering;
  if (pages.errors > 0)
    failures.push(
      `${pages.errors} pages differ from both dumps where nothing saw memory change (${base.changesSeenBy}), ${pages.errorsZeroInDumps} of them zeros in every dump (${c.examples.error.join(", ")})`,
    );
  if (pages.missing > 0)
    failures.push(
      `${pages.missing} pages of System RAM are not in the image and not declared unreadable (${c.examples.missing.join(", ")})`,
    );
  if (kernelIdentical !== "yes")
    failures.push(
      `kernel code and rodata identical to the dumps: ${kernelIdentical}${typeof kernelPagesDiffering === "number" ? ` (${kernelPagesDiffering} pages differ)` : ""}`,
    );
  const readMs = report ? readTimes(report, c.classes.length) : undefined;
  return {
    ...base,
    toolExit,
    passed: failures.length === 0,
    failures,
    format: image.format,
    layoutFrom: image.layoutFrom,
    bytesInImage: c.bytesInImage,
    coverage: c.bytesInImage / base.systemRamBytes,
    pages,
    kernelIdentical,
    kernelPagesDiffering,
    time: {
      toolSeconds,
      windowSeconds,
      throughputMBps:
        typeof toolSeconds === "number" && toolSeconds > 0
          ? Math.round((c.bytesInImage / 1e6 / toolSeconds) * 10) / 10
          : "unknown: no tool time",
    },
    footprint: { peakRssBytes, changedPages: c.changedPages },
    readTimes: report
      ? "from the memimage report's per-block read times (ms after its start)"
      : base.readTimes,
    examples: c.examples,
    classes: c.classes,
    ...(readMs ? { readMs } : {}),
    ...(kept ? { kept } : {}),
  };
}

function PAGE_CLASS_TOTAL(c: Classification): number {
  return Object.entries(c.counts).reduce((n, [k, v]) => (k === "outside" ? n : n + v), 0);
}

async function compare(
  facts: GuestFacts,
  input: RunInput,
  out: string,
  beforePath: string,
  afterPath: string,
  evidence: ChangeEvidence,
) {
  const image = await openToolImage(out, facts.ram, input.toolFormat);
  const before = await openImage(beforePath, { format: "elf" });
  const after = await openImage(afterPath, { format: "elf" });
  try {
    const c = await classifyPages(image, before.source, after.source, facts.ram, evidence);
    return { c, image, report: image.report };
  } finally {
    await Promise.all([image.source.close(), before.source.close(), after.source.close()]);
  }
}

/** Marks the pages where a dump taken during the window differs from the one before, then deletes it. */
async function foldSample(
  beforePath: string,
  samplePath: string,
  ram: Span[],
  changed: Uint8Array,
): Promise<void> {
  const before = await openImage(beforePath, { format: "elf" });
  const sample = await openImage(samplePath, { format: "elf" });
  try {
    await markChanges(before.source, sample.source, ram, changed);
  } finally {
    await Promise.all([before.source.close(), sample.source.close()]);
    await rm(samplePath, { force: true });
  }
}

/**
 * Pauses the guest, has QEMU dump its RAM (paging off) into a host file, does `whilePaused`, and resumes it.
 */
async function groundTruth(
  guest: Guest,
  path: string,
  whilePaused?: () => Promise<unknown> | undefined,
): Promise<void> {
  await guest.qmp.execute("stop");
  try {
    await guest.qmp.execute("dump-guest-memory", { paging: false, protocol: `file:${path}` });
    await whilePaused?.();
  } finally {
    await guest.qmp.execute("cont");
  }
}

/** Pages of kernel code and rodata that are not identical to both dumps, or why that is unknown. */
function kernelDiffering(c: Classification, facts: GuestFacts): number | Unknown {
  if (facts.kernel.length === 0) return "unknown: the guest's /proc/iomem names no kernel code or rodata";
  let differing = 0;
  for (const { span } of facts.kernel) {
    const first = Number(span.start / BigInt(PAGE));
    const end = Number((span.start + BigInt(span.length) + BigInt(PAGE - 1)) / BigInt(PAGE));
    for (let f = first; f < end; f++) if (c.classes[f] !== PageClass.identical) differing++;
  }
  return differing;
}

/** Each page's read time (ms after the acquisition started), from the report's per-block times. */
function readTimes(report: Report, frames: number): Float32Array | undefined {
  if (!report.blocks?.length) return undefined;
  const ms = new Float32Array(frames).fill(Number.NaN);
  for (const [address, length, startMs, endMs] of report.blocks) {
    const first = Number(BigInt(address) / BigInt(PAGE));
    const count = Math.ceil(length / PAGE);
    for (let f = first; f < Math.min(first + count, frames); f++) ms[f] = (startMs + endMs) / 2;
  }
  return ms;
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length < 2
    ? (items[0] ?? "")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** The end of what the imager printed: an uncaught exception's message sits above Node's version line. */
function lastLines(text: string): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !/^\s+at /.test(l));
  return lines.slice(-4).join(" | ");
}

async function gnuTime(path: string): Promise<{ seconds: number; maxRssKiB: number } | undefined> {
  const text = await readFile(path, "utf8").catch(() => "");
  const m = /(\d+(?:\.\d+)?) (\d+)\s*$/.exec(text);
  return m ? { seconds: Number(m[1]), maxRssKiB: Number(m[2]) } : undefined;
}

async function keep(files: string[], dir: string, id: string, label: string): Promise<string[]> {
  const kept: string[] = [];
  for (const f of files) {
    if (!(await exists(f))) continue;
    const to = join(dir, basename(f).replace(id, label));
    await rename(f, to).catch(async () => {
      await copyFile(f, to); // another filesystem
    });
    kept.push(to);
  }
  return kept;
}
