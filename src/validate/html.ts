// The validation report as one self-contained XHTML file (no scripts, no external files): the command, the guest,
// the summary table, and for every run its figures and the picture of the guest's address space. Written as
// XHTML so that the whole file, pictures included, parses as XML.
import type { GuestFacts, RunResult } from "./measure.js";
import { escapeXml, renderPicture } from "./picture.js";
import type { Summary } from "./summary.js";
import { tableRows } from "./summary.js";

export interface HtmlInput {
  command: string;
  startedAt: string;
  /** Why validate stopped before its last run, if it did. */
  stopped?: string;
  facts: GuestFacts;
  summaries: Summary[];
  results: RunResult[];
}

export function renderHtml(input: HtmlInput): string {
  const { facts } = input;
  const rows = tableRows(input.summaries);
  const table = (cells: string[][]) =>
    `<table>\n${cells
      .map(
        (r, i) =>
          `<tr>${r.map((c) => (i === 0 ? `<th>${escapeXml(c)}</th>` : `<td>${escapeXml(c)}</td>`)).join("")}</tr>`,
      )
      .join("\n")}\n</table>`;
  const runs = input.results.map((r) => {
    const figures: string[][] = [
      ["figure", "value"],
      ["command in the guest", r.command],
      ["imager exit status", String(r.toolExit)],
      ["verdict", r.passed ? "passed" : `FAILED: ${r.failures.join("; ")}`],
      ["image format (layout from)", r.format ? `${r.format} (${r.layoutFrom})` : "no image read"],
      [
        "coverage of System RAM",
        r.coverage === undefined
          ? "unknown"
          : `${(r.coverage * 100).toFixed(4)}% (${r.bytesInImage} of ${r.systemRamBytes} bytes)`,
      ],
      ...(r.pages ? Object.entries(r.pages).map(([k, v]) => [`pages: ${k}`, String(v)]) : []),
      [
        "kernel code and rodata identical",
        `${r.kernelIdentical ?? "unknown"}${typeof r.kernelPagesDiffering === "number" ? ` (${r.kernelPagesDiffering} pages differ)` : ""}`,
      ],
      ["tool time (GNU time in the guest)", seconds(r.time.toolSeconds)],
      ["window between the dumps (host clock)", seconds(r.time.windowSeconds)],
      [
        "throughput",
        typeof r.time.throughputMBps === "number"
          ? `${r.time.throughputMBps} MB/s`
          : String(r.time.throughputMBps ?? "unknown"),
      ],
      [
        "peak RSS of the command",
        typeof r.footprint.peakRssBytes === "number"
          ? `${(r.footprint.peakRssBytes / 2 ** 20).toFixed(1)} MiB`
          : r.footprint.peakRssBytes,
      ],
      [
        "pages changed during the window",
        r.footprint.changedPages === undefined ? "unknown" : String(r.footprint.changedPages),
      ],
      ["changes seen by", r.changesSeenBy],
      [
        "dumps taken while the imager ran",
        r.samples.everySeconds > 0 ? `${r.samples.count}, one every ${r.samples.everySeconds} s` : "none",
      ],
      ["read times", r.readTimes],
    ];
    const picture = r.classes
      ? renderPicture({
          title: `${r.tool}, ${r.workload} guest, run ${r.run}`,
          classes: r.classes,
          ...(r.readMs ? { readMs: r.readMs } : {}),
          readTimes: r.readTimes,
        })
      : "<p>No picture: the image could not be compared.</p>";
    return `<section>\n<h2>${escapeXml(`${r.tool}, ${r.workload} guest, run ${r.run}`)}</h2>\n${table(figures)}\n<div class="picture">\n${picture}\n</div>\n</section>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="UTF-8"/>
<title>memimage validate</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #212121; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bdbdbd; padding: 3px 8px; text-align: left; font-size: 13px; vertical-align: top; }
th { background: #eeeeee; }
.picture { overflow-x: auto; }
</style>
</head>
<body>
<h1>memimage validate</h1>
<p>${escapeXml(`Command: ${input.command}`)}<br/>${escapeXml(`Started ${input.startedAt}. Guest: Debian ${facts.release}, ${facts.memoryMiB} MiB, ${facts.cpus} vCPUs, QEMU ${facts.qemu} (TCG). System RAM: ${facts.ram.reduce((n, s) => n + s.length, 0)} bytes.`)}</p>
<p>Ground truth: the hypervisor's dump of the paused guest (QMP dump-guest-memory, paging off) just before and just after the imager ran, and the guest's write log (a QEMU plugin that records every page the guest's vCPUs store to in between) or, without it, dumps taken every few seconds meanwhile. A page identical to both dumps is correct; identical to one of them, or different from both where the dumps or the log saw the page change, is smear (the page changed during the window); different from both where nothing saw it change is an error. Each run says what saw changes; see docs/validation.md. Figures over several runs read min/median/max.</p>
${input.stopped ? `<p><strong>${escapeXml(`Stopped early: ${input.stopped}. The figures below are of the runs that finished.`)}</strong></p>\n` : ""}${table(rows)}
${runs.join("\n")}
</body>
</html>
`;
}

function seconds(value: number | string): string {
  return typeof value === "number" ? `${value.toFixed(2)} s` : value;
}
