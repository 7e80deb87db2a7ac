// What every image-writing command adds around the pass so that the image is evidence: the smear sample and the
// swap copy (after memory), the weakness assessment, the CASE/UCO file, and the closing summary on stderr.
// The RDF libraries behind --case are loaded only after the image and the report are written.
import type { Command } from "commander";
import { MemimageError } from "../core/errors.js";
import type { Region } from "../core/map.js";
import type { PipelineResult } from "../pipeline/run.js";
import { MAX_SMEAR_SAMPLE, type SmearSampleResult, SmearSampler } from "../pipeline/smear.js";
import { casePathFor } from "../report/case.js";
import type { Report } from "../report/report.js";
import type { Weaknesses } from "../report/weaknesses.js";
import type { Source } from "../sources/source.js";
import { activeSwaps } from "../sources/swaps.js";

export interface EvidenceOptions {
  smearSample?: number;
  swap?: boolean;
  case?: boolean;
  examiner?: string;
}

/** The flags, the same on every command that writes an image. */
export function addEvidenceOptions(command: Command): Command {
  return command
    .option(
      "--smear-sample <n>",
      `after the pass, re-read N random pages and count those that changed (max ${MAX_SMEAR_SAMPLE})`,
      parseSample,
    )
    .option("--swap", "after memory, copy the active swap areas (/proc/swaps) into OUTPUT.swap, hashed")
    .option("--case", "also write the report as CASE/UCO JSON-LD (OUTPUT.case.jsonld), validated")
    .option("--examiner <name>", "who performs the acquisition (the CASE performer)");
}

function parseSample(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_SMEAR_SAMPLE)
    throw new MemimageError("usage", `--smear-sample takes a number of pages from 1 to ${MAX_SMEAR_SAMPLE}`);
  return n;
}

export function smearSampler(map: readonly Region[], options: EvidenceOptions): SmearSampler | undefined {
  return options.smearSample ? new SmearSampler(map, options.smearSample) : undefined;
}

export interface AfterPass {
  smear?: SmearSampleResult | `unknown: ${string}`;
  swap?: Weaknesses["swapNotCollected"]["collected"];
}

/** The work after the pass: re-read the sample, then copy swap. Neither changes the image or its status. */
export async function afterPass(
  result: PipelineResult,
  source: Source,
  sampler: SmearSampler | undefined,
  options: EvidenceOptions,
): Promise<AfterPass> {
  const out: AfterPass = {};
  if (sampler) {
    if (result.error?.kind === "source-gone" || result.error?.kind === "interrupted")
      out.smear = `unknown: not re-read (${result.error.message})`;
    else {
      const elapsed = () => Date.now() - result.startedAt.getTime();
      out.smear = await sampler
        .reread(source, elapsed)
        .catch((error: Error) => `unknown: the re-read failed (${error.message})` as const);
    }
  }
  if (options.swap) {
    const swaps = await activeSwaps();
    if (!Array.isArray(swaps)) out.swap = `unknown: ${swaps.unknown}`;
    else if (swaps.length === 0) out.swap = "not applicable: no active swap";
    else if (result.sink.kind !== "file")
      out.swap = "unknown: --swap needs a file output (-o PATH) to write beside";
    else {
      const { copySwap } = await import("../pipeline/swap-copy.js");
      const base = result.sink.location.replace(/\.partial$/, "");
      out.swap = await copySwap(swaps, `${base}.swap${result.status === "aborted" ? ".partial" : ""}`).catch(
        (error: Error) => `unknown: swap not collected (${error.message})` as const,
      );
    }
  }
  return out;
}

/** Writes OUT.case.jsonld (or beside a named report); says on stderr if the shapes found a violation. */
export async function writeCaseBeside(
  report: Report,
  reportPath: string | undefined,
): Promise<string | undefined> {
  if (!reportPath || reportPath === "-") {
    process.stderr.write("memimage: --case needs a report file (give --report PATH); no CASE file written\n");
    return undefined;
  }
  const { caseFromReportFile, writeCase } = await import("../report/case-files.js");
  const { document, validation } = await caseFromReportFile(report, reportPath);
  const path = casePathFor(reportPath);
  await writeCase(path, document);
  for (const v of validation.violations)
    process.stderr.write(`memimage: CASE shape violation at ${v.focusNode} ${v.path ?? ""}: ${v.message}\n`);
  return path;
}

/** The closing summary: what a responder reads before unplugging the disk. */
export function summary(
  report: Report,
  reportPath: string | undefined,
  casePath: string | undefined,
): string {
  const w = report.weaknesses;
  const seconds = report.time.durationMs / 1000;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const lines = [
    `memimage: ${report.status} (exit ${report.exitCode}): ${report.output.location}`,
    `  size      ${report.output.bytes} bytes (${mib(report.output.bytes)}), ${report.output.format}`,
    `  time      ${seconds.toFixed(2)} s, ${seconds > 0 ? mib(report.summary.bytesRead / seconds) : "-"}/s read`,
  ];
  if (w) {
    const c = w.incompleteAcquisition;
    const fraction = typeof c.fraction === "number" ? `${(c.fraction * 100).toFixed(2)}%` : c.fraction;
    lines.push(
      `  coverage  ${c.bytesRead} of ${c.totalBytes} bytes (${fraction}) of ${c.against}; ${c.missing.length} missing range(s)`,
    );
    const win = w.memorySmear.window;
    lines.push(`  smear     ${typeof win === "string" ? win : `window ${win.durationMs.toFixed(1)} ms`}`);
    const s = w.memorySmear.sample;
    if (typeof s !== "string") lines.push(`  sample    ${s.changed} of ${s.compared} re-read pages changed`);
    const swap = w.swapNotCollected.collected;
    if (typeof swap !== "string")
      lines.push(`  swap      ${swap.image} (${swap.bytes} bytes) sha256 ${swap.sha256}`);
  }
  const k = report.kernel;
  if (k)
    lines.push(
      `  kernel    ${k.osrelease}; build ID ${k.buildId}; KASLR offset ${k.kernelOffset}; debug symbols ${typeof k.debugSymbols === "string" ? k.debugSymbols : k.debugSymbols.package}`,
    );
  lines.push(`  sha256    ${report.output.sha256}`);
  if (report.output.blake3) lines.push(`  blake3    ${report.output.blake3}`);
  if (reportPath && reportPath !== "-") lines.push(`  report    ${reportPath}`);
  if (casePath) lines.push(`  case      ${casePath}`);
  return `${lines.join("\n")}\n`;
}
