// One benchmark's figures as a file, bench/results/NAME.json (not committed), for bench/report.ts to gather into
// docs/benchmarks.md: what was compared with which peer in the same run, the ratios against the goals, the peak
// RSS, and the machine and its load while it ran (the machine is shared and noisy, so the load goes with the figures).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "results");

export interface BenchCase {
  /** What memimage did, e.g. "convert lime -> padded". */
  name: string;
  mibPerSecond: number;
  /** memimage's throughput over the peer's (above 1: faster). */
  ratio: number;
  /** The least ratio the project aims for, when it has one. */
  goal?: number;
}

export interface BenchResult {
  name: string;
  /** What was measured, in one line: image size, rounds, sink. */
  setup: string;
  peer: { name: string; mibPerSecond: number };
  cases: BenchCase[];
  /** memimage's peak RSS, when the bench measured it. */
  peakRssMiB?: number;
  rssGoalMiB?: number;
  date: string;
  machine: Machine;
  /** 1-minute load average when the bench started and when it ended. */
  load: { start: number; end: number };
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
}

export function describeMachine(): Machine {
  const kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel,
    node: process.version,
  };
}

export const loadNow = (): number => Number((loadavg()[0] ?? 0).toFixed(2));

/** Writes bench/results/NAME.json; the date, machine and end load are added here. */
export function writeResult(
  result: Omit<BenchResult, "date" | "machine" | "load"> & { loadStart: number },
): string {
  const { loadStart, ...rest } = result;
  const full: BenchResult = {
    ...rest,
    cases: rest.cases.map((c) => ({ ...c, ratio: Number(c.ratio.toFixed(3)) })),
    date: new Date().toISOString(),
    machine: describeMachine(),
    load: { start: loadStart, end: loadNow() },
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(path, `${JSON.stringify(full, null, 2)}\n`);
  return path;
}
