// Writes the generated part of docs/benchmarks.md from bench/results/*.json (npm run bench runs it last): one
// table of every bench's latest ratios against its peer, goals, peak RSS and load, and the machine. Only the part
// between the markers is replaced; the hand-written history and analysis around it stay as they are.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BenchResult, type Machine, RESULTS_DIR } from "./results.js";

export const BEGIN = "<!-- bench:generated:begin -->";
export const END = "<!-- bench:generated:end -->";

const docPath = process.argv[2] ?? join(RESULTS_DIR, "..", "..", "docs", "benchmarks.md");
const results: BenchResult[] = existsSync(RESULTS_DIR)
  ? readdirSync(RESULTS_DIR)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(RESULTS_DIR, f), "utf8")) as BenchResult)
  : [];
if (results.length === 0)
  throw new Error(`no results in ${RESULTS_DIR}: run npm run bench (or one bench/*.sh) first`);

const doc = readFileSync(docPath, "utf8");
const section = [BEGIN, render(results), END].join("\n");
const begin = doc.indexOf(BEGIN);
const end = doc.indexOf(END);
const updated =
  begin >= 0 && end > begin
    ? `${doc.slice(0, begin)}${section}${doc.slice(end + END.length)}`
    : doc.replace(/^(# .*\n)/, `$1\n${section}\n`);
writeFileSync(docPath, updated);
process.stdout.write(`${docPath}: ${results.length} result(s)\n`);

function render(all: BenchResult[]): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|"); // a pipe in a name would end the cell
  const rows = all.flatMap((r) =>
    r.cases.map(
      (c, i) =>
        `| ${i === 0 ? r.name : ""} | ${cell(c.name)} | ${c.mibPerSecond.toFixed(1)} | ${i === 0 ? `${cell(r.peer.name)}: ${r.peer.mibPerSecond.toFixed(1)}` : ""} | ${ratioCell(c.ratio, c.goal)} | ${i === 0 ? rssCell(r.peakRssMiB, r.rssGoalMiB) : ""} | ${i === 0 ? `${r.load.start} / ${r.load.end}` : ""} | ${i === 0 ? r.date.slice(0, 16).replace("T", " ") : ""} |`,
    ),
  );
  const machines = [...new Set(all.map((r) => describe(r.machine)))];
  return [
    "",
    "## Latest figures (generated)",
    "",
    "Written by `node dist/bench/report.js` from `bench/results/*.json`, which each `bench/*.sh` writes; do not edit",
    "between the markers. Throughputs are medians of alternating rounds against the peer in the same script; the",
    "ratio is memimage's throughput over the peer's (above 1: faster). Load is the 1-minute load average at the",
    "bench's start and end (the machine is shared: a load above its core count means the figures are noisy).",
    "",
    "| bench | memimage | MiB/s | peer: MiB/s | ratio (goal) | peak RSS (goal) | load start / end | measured (UTC) |",
    "| ----- | -------- | ----- | ----------- | ------------ | --------------- | ---------------- | -------------- |",
    ...rows,
    "",
    ...all.map((r) => `- ${r.name}: ${r.setup}`),
    "",
    `Machine${machines.length > 1 ? "s" : ""}: ${machines.join("; ")}.`,
    "",
  ].join("\n");
}

function ratioCell(ratio: number, goal: number | undefined): string {
  const value = `${ratio.toFixed(2)}x`;
  if (goal === undefined) return value;
  return ratio >= goal ? `${value} (>= ${goal}x: met)` : `**${value} (>= ${goal}x: not met)**`;
}

function rssCell(mib: number | undefined, goal: number | undefined): string {
  if (mib === undefined) return "not measured";
  const value = `${mib.toFixed(1)} MiB`;
  if (goal === undefined) return value;
  return mib <= goal ? `${value} (<= ${goal}: met)` : `**${value} (<= ${goal}: not met)**`;
}

function describe(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`;
}
