import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { MemimageError } from "../core/errors.js";
import { hex } from "../core/map.js";
import { type NoteThread, type ProcessNotesInput, processNotes } from "../formats/elf-process-notes.js";
import { hashFile } from "../pipeline/file-hash.js";
import { describeFilter, KERNEL_DEFAULT_FILTER, parseFilter } from "../sources/coredump-filter.js";
import { Freezer } from "../sources/freeze.js";
import { PAGE_SIZE } from "../sources/pagemap.js";
import { isFileBacked } from "../sources/proc-maps.js";
import { parseStat, parseStatus } from "../sources/proc-status.js";
import {
  closeProcess,
  openProcess,
  type ProcessPlan,
  ProcessSource,
  type ProcessTarget,
  planMappings,
} from "../sources/process.js";
import type { SourceDescription } from "../sources/source.js";
import { addOutputOptions } from "./output-options.js";
import { ensureFormatFitsSource, writeImage } from "./write-image.js";

interface ProcessOptions {
  output?: string;
  format: string;
  freeze?: boolean;
  filter?: string;
  report?: string;
  json?: boolean;
  quiet?: boolean;
  blake3?: boolean;
  listen?: string;
}

export function registerProcess(program: Command): void {
  addOutputOptions(program.command("process"))
    .description("acquire a process's memory as a core gdb opens (or LiME/raw), with a report")
    .argument("<pid>", "the process id")
    .option("-o, --output <path>", "file to write, or - for standard output (default: core.PID)")
    .option("-f, --format <name>", "elf (a core gdb opens), lime or raw", "elf")
    .option("--freeze", "stop the process while it is read (ptrace, else SIGSTOP), and resume it after")
    .option(
      "--filter <kinds>",
      "mappings to keep: a hex mask as in /proc/PID/coredump_filter, 'all', or names among anon-private, anon-shared, file-private, file-shared, elf-headers, huge-private, huge-shared (default: the process's own coredump_filter)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  memimage process 1234                       # core.1234, open with: gdb -c core.1234\n  memimage process 1234 --freeze -o app.core\n  memimage process 1234 --filter all --format lime -o app.lime\n\nExit: 0 complete, 1 cannot read the process (none, zombie, kernel thread, permission), 2 usage,\n      3 partial (unreadable pages, or the process exited while read), 4 output failed (disk full).\n",
    )
    .action(async (pidText: string, options: ProcessOptions) => {
      process.exitCode = await acquireProcess(pidText, options);
    });
}

async function acquireProcess(pidText: string, options: ProcessOptions): Promise<number> {
  if (!/^\d+$/.test(pidText) || Number(pidText) <= 0 || Number(pidText) > 2 ** 22)
    throw new MemimageError("usage", `not a process id: "${pidText}"`);
  if (!["elf", "lime", "raw"].includes(options.format))
    throw new MemimageError("usage", `a process core is elf, lime or raw, not "${options.format}"`);
  ensureFormatFitsSource(options.format, "virtual");
  let filterBits: number | undefined;
  try {
    filterBits = options.filter === undefined ? undefined : parseFilter(options.filter);
  } catch (error) {
    throw new MemimageError("usage", (error as Error).message);
  }
  const pid = Number(pidText);
  const target = await openProcess(pid);
  const executable = await describeExecutable(target);
  const filter = filterBits === undefined ? await processFilter(pid) : { bits: filterBits, from: "--filter" };
  const freezer = new Freezer(pid, options.freeze === true);
  // Resume on every way out: Ctrl-C and SIGTERM (before the pipeline stops at its next block), and exit.
  const resume = () => freezer.resume();
  process.on("SIGINT", resume);
  process.on("SIGTERM", resume);
  process.on("exit", resume);
  try {
    freezer.stop();
    const plan = await planMappings(target, filter.bits);
    const notes = options.format === "elf" ? processNotes(await noteInput(target, freezer, plan)) : undefined;
    const details = {
      pid,
      command: target.stat.comm,
      commandLine: target.cmdline,
      executable,
      state: target.stat.state,
      ppid: target.stat.ppid,
      uid: target.status.uid,
      threads: freezer.threads.map((t) => ({
        tid: t.tid,
        name: threadName(pid, t.tid),
        registers: t.registers ? "captured" : `unavailable: ${t.problem}`,
      })),
      freeze: { toJSON: () => freezer.record() },
      filter: { mask: hex(filter.bits), from: filter.from, kinds: describeFilter(filter.bits) },
      pagesSwappedOut: plan.mappings.reduce((n, m) => n + (m.pages?.swapped ?? 0), 0),
      pageStates: plan.mappings.some((m) => m.pages)
        ? "counted from /proc/PID/pagemap before reading; swapped-out pages are brought back by the read"
        : "unknown: /proc/PID/pagemap could not be read",
      mappings: plan.mappings.map(({ mapping: m, decision, pages }) => ({
        start: hex(m.start),
        end: hex(m.end),
        perms: m.perms,
        offset: hex(m.offset),
        path: m.path || "[anon]",
        class: decision.class,
        dumped: decision.dump,
        ...(decision.reason ? { reason: decision.reason } : {}),
        ...(pages ? { pages } : {}),
      })),
      skipped: plan.mappings
        .filter((m) => m.decision.dump !== "all")
        .map(({ mapping: m, decision }) => ({
          start: hex(m.start),
          end: hex(m.end),
          path: m.path || "[anon]",
          reason: decision.reason ?? "",
        })),
      perMappingSha256: "in ranges[], one range per mapping kept (same start)",
    };
    const description: SourceDescription = {
      kind: "process",
      path: `/proc/${pid}/mem`,
      addressSpace: "virtual",
      details,
    };
    const source = new ProcessSource(description, target, plan.regions, resume);
    const { exitCode } = await writeImage(
      source,
      plan.regions,
      { source: description, ...(notes ? { notes } : {}), declared: plan.declared },
      { output: options.output ?? (options.listen ? "-" : `core.${pid}`), ...options },
    );
    return exitCode;
  } finally {
    freezer.resume();
    process.off("SIGINT", resume);
    process.off("SIGTERM", resume);
    process.off("exit", resume);
    await closeProcess(target);
  }
}

async function describeExecutable(target: ProcessTarget): Promise<Record<string, unknown>> {
  if (!target.exe.path) return { problem: target.exe.problem };
  try {
    // Through /proc/PID/exe, so the bytes are those of the running binary even if the path was replaced.
    const { bytes, sha256 } = await hashFile(`/proc/${target.pid}/exe`, ["sha256"], 64 << 10);
    return { path: target.exe.path, bytes, sha256 };
  } catch (error) {
    return { path: target.exe.path, problem: `cannot hash it: ${(error as Error).message}` };
  }
}

async function processFilter(pid: number): Promise<{ bits: number; from: string }> {
  try {
    const text = await readFile(`/proc/${pid}/coredump_filter`, "latin1");
    return { bits: Number.parseInt(text.trim(), 16), from: `/proc/${pid}/coredump_filter` };
  } catch {
    return { bits: KERNEL_DEFAULT_FILTER, from: "the kernel's default (coredump_filter unreadable)" };
  }
}

function threadName(pid: number, tid: number): string | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1")).comm;
  } catch {
    return undefined;
  }
}

async function noteInput(
  target: ProcessTarget,
  freezer: Freezer,
  plan: ProcessPlan,
): Promise<ProcessNotesInput> {
  const pid = target.pid;
  const auxv = await readFile(`/proc/${pid}/auxv`).catch(() => Buffer.alloc(0));
  // The main thread first: gdb selects the thread of the first NT_PRSTATUS.
  const ordered = [...freezer.threads].sort((a, b) =>
    a.tid === pid ? -1 : b.tid === pid ? 1 : a.tid - b.tid,
  );
  const threads: NoteThread[] = [];
  for (const t of ordered) {
    if (!t.registers) continue;
    const stat = await readFile(`/proc/${pid}/task/${t.tid}/stat`, "latin1").then(parseStat, () => undefined);
    const status = await readFile(`/proc/${pid}/task/${t.tid}/status`, "latin1").then(
      parseStatus,
      () => undefined,
    );
    threads.push({
      tid: t.tid,
      utimeTicks: stat?.utime ?? 0,
      stimeTicks: stat?.stime ?? 0,
      sigPending: status?.sigPending ?? 0n,
      sigBlocked: status?.sigBlocked ?? 0n,
      general: t.registers.general,
      ...(t.registers.fp ? { fp: t.registers.fp } : {}),
      ...(t.registers.xstate ? { xstate: t.registers.xstate } : {}),
    });
  }
  return {
    process: {
      pid,
      ppid: target.stat.ppid,
      pgrp: target.stat.pgrp,
      session: target.stat.session,
      state: target.stat.state,
      nice: target.stat.nice,
      flags: target.stat.flags,
      uid: target.status.uid,
      gid: target.status.gid,
      comm: target.stat.comm,
      cmdline: target.cmdline,
    },
    threads,
    auxv,
    files: plan.mappings
      .map((p) => p.mapping)
      .filter(isFileBacked)
      .map((m) => ({ start: m.start, end: m.end, offset: m.offset, path: m.path })),
    pageSize: PAGE_SIZE,
  };
}
