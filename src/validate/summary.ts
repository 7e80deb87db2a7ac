// Runs of the same imager on the same workload, summarised as min/median/max of each figure, and the table the
// terminal and docs/validation.md show.
import type { RunResult } from "./measure.js";

export interface Spread {
  min: number;
  median: number;
  max: number;
  runs: number;
}

export interface Summary {
  tool: string;
  workload: string;
  runs: number;
  passed: number;
  coverage?: Spread;
  identicalPages?: Spread;
  smearPages?: Spread;
  errorPages?: Spread;
  missingPages?: Spread;
  kernelIdentical: string;
  toolSeconds?: Spread;
  throughputMBps?: Spread;
  peakRssBytes?: Spread;
  changedPages?: Spread;
  writtenPages?: Spread;
}

export function spread(values: readonly (number | string | undefined)[]): Spread | undefined {
  const numbers = values.filter((v): v is number => typeof v === "number").sort((a, b) => a - b);
  if (numbers.length === 0) return undefined;
  const mid = numbers.length >> 1;
  const median =
    numbers.length % 2
      ? (numbers[mid] as number)
      : ((numbers[mid - 1] as number) + (numbers[mid] as number)) / 2;
  return {
    min: numbers[0] as number,
    median,
    max: numbers[numbers.length - 1] as number,
    runs: numbers.length,
  };
}

export function summarise(results: readonly RunResult[]): Summary[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const key = `${r.tool}\u0000${r.workload}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((runs) => {
    const first = runs[0] as RunResult;
    const verdicts = new Set(runs.map((r) => r.kernelIdentical ?? "unknown: no image"));
    const optional = (name: keyof Summary, values: (number | string | undefined)[]) => {
      const s = spread(values);
      return s ? { [name]: s } : {};
    };
    return {
      tool: first.tool,
      workload: first.workload,
      runs: runs.length,
      passed: runs.filter((r) => r.passed).length,
      ...optional(
        "coverage",
        runs.map((r) => r.coverage),
      ),
      ...optional(
        "identicalPages",
        runs.map((r) => r.pages?.identical),
      ),
      ...optional(
        "smearPages",
        runs.map((r) => r.pages?.smear),
      ),
      ...optional(
        "errorPages",
        runs.map((r) => r.pages?.errors),
      ),
      ...optional(
        "missingPages",
        runs.map((r) => r.pages?.missing),
      ),
      kernelIdentical: verdicts.size === 1 ? ([...verdicts][0] as string) : [...verdicts].join(" / "),
      ...optional(
        "toolSeconds",
        runs.map((r) => r.time.toolSeconds),
      ),
      ...optional(
        "throughputMBps",
        runs.map((r) => r.time.throughputMBps),
      ),
      ...optional(
        "peakRssBytes",
        runs.map((r) => r.footprint.peakRssBytes),
      ),
      ...optional(
        "changedPages",
        runs.map((r) => r.footprint.changedPages),
      ),
      ...optional(
        "writtenPages",
        runs.map((r) => r.pages?.written),
      ),
    };
  });
}

const HEADERS = [
  "tool",
  "workload",
  "passed",
  "coverage %",
  "identical",
  "smear",
  "errors",
  "missing",
  "kernel",
  "time s",
  "MB/s",
  "peak RSS MiB",
  "changed pages",
  "written pages",
] as const;

/** One row per tool and workload; a figure over several runs reads min/median/max. */
export function tableRows(summaries: readonly Summary[]): string[][] {
  const show = (s: Spread | undefined, f: (n: number) => string = String) =>
    !s ? "unknown" : s.runs === 1 || s.min === s.max ? f(s.median) : `${f(s.min)}/${f(s.median)}/${f(s.max)}`;
  return [
    [...HEADERS],
    ...summaries.map((s) => [
      s.tool.length > 40 ? `${s.tool.slice(0, 37)}...` : s.tool,
      s.workload,
      `${s.passed}/${s.runs}`,
      show(s.coverage, (n) => (n * 100).toFixed(4)),
      show(s.identicalPages),
      show(s.smearPages),
      show(s.errorPages),
      show(s.missingPages),
      s.kernelIdentical.startsWith("unknown") ? "unknown" : s.kernelIdentical,
      show(s.toolSeconds, (n) => n.toFixed(1)),
      show(s.throughputMBps, (n) => n.toFixed(1)),
      show(s.peakRssBytes, (n) => (n / 2 ** 20).toFixed(1)),
      show(s.changedPages),
      s.writtenPages ? show(s.writtenPages) : "no log",
    ]),
  ];
}

export function textTable(rows: readonly string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function markdownTable(rows: readonly string[][]): string {
  const [head, ...body] = rows;
  if (!head) return "";
  const line = (r: readonly string[]) => `| ${r.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...body.map(line)].join("\n");
}
