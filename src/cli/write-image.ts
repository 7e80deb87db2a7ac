// Runs one acquisition or conversion end to end: sink, pipeline, report, exit status. Every command that writes
// an image goes through here, so partial images, reports and exit codes behave the same everywhere.
import { ExitCode, MemimageError } from "../core/errors.js";
import type { Region, Span } from "../core/map.js";
import type { WriteContext } from "../formats/format.js";
import { formatByName } from "../formats/registry.js";
import type { KernelWitness } from "../kernel/witness.js";
import type { HashName } from "../pipeline/hashing.js";
import { priorityWindow } from "../pipeline/priority.js";
import { type PipelineResult, runPipeline } from "../pipeline/run.js";
import { casePathFor } from "../report/case.js";
import { reportPathFor, writeReport } from "../report/files.js";
import { buildReport, type Report } from "../report/report.js";
import { assessWeaknesses } from "../report/weaknesses.js";
import { openSink } from "../sinks/open.js";
import type { Sink } from "../sinks/sink.js";
import type { Source } from "../sources/source.js";
import { deliverReport } from "./deliver-report.js";
import { type EventWriter, ndjsonEvents, noEvents } from "./events.js";
import {
  type AfterPass,
  afterPass,
  type EvidenceOptions,
  smearSampler,
  summary,
  writeCaseBeside,
} from "./evidence.js";
import { exitCodeOf } from "./exit.js";
import { progressReporter } from "./progress.js";
import { stopOnSignals } from "./signals.js";

export interface ImageOutputOptions extends EvidenceOptions {
  output: string;
  format: string;
  report?: string;
  json?: boolean;
  quiet?: boolean;
  blake3?: boolean;
  /** Serve the raw image to one TCP client ([HOST:]PORT), as LiME does. */
  listen?: string;
  /** File output: the most the output's filesystem may have in use (bytes, or percent). */
  maxDiskUsage?: string;
  /** S3-compatible endpoint for s3:// output. */
  endpoint?: string;
  /** With --priority: the regions read first, whose reading window the report gives. */
  priorityFirst?: readonly Region[];
  /** Runs after the last read and before the report is built (vm resumes its guest here, so the report says when). */
  beforeReport?: (result: PipelineResult) => Promise<void>;
  /** Physical and VM acquisitions: identifies the kernel for the report from the blocks as they pass. */
  kernel?: KernelWitness;
}

export interface WriteImageResult {
  result: PipelineResult;
  report: Report;
  reportPath: string | undefined;
  exitCode: number;
}

export async function writeImage(
  source: Source,
  map: readonly Region[],
  context: WriteContext,
  options: ImageOutputOptions,
): Promise<WriteImageResult> {
  const format = formatByName(options.format);
  const hashes: HashName[] = options.blake3 ? ["sha256", "blake3"] : ["sha256"];
  // Handlers first: a signal from the moment the output exists must leave a marked partial image and a report.
  const signals = stopOnSignals();
  const events = eventsFor(options);
  events.start({ output: options.output, format: format.name });
  try {
    const sink = await openSink(options.output, {
      format: format.name,
      ...(options.listen ? { listen: options.listen } : {}),
      ...(options.maxDiskUsage ? { maxDiskUsage: options.maxDiskUsage } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      expectedBytes: expectedImageBytes(map, format.name),
    });
    const sampler = smearSampler(map, options);
    const kernel = options.kernel;
    const observers = [sampler?.observe.bind(sampler), kernel?.observe.bind(kernel)].filter(
      (f) => f !== undefined,
    );
    const bar = await progressReporter(options);
    const result = await runPipeline({
      source,
      map,
      writer: format.createWriter(),
      ...(format.blockSize ? { blockSize: format.blockSize } : {}),
      context,
      sink,
      hashes,
      onEvent: (event) => {
        bar(event);
        events.pipeline(event);
      },
      signal: signals.signal,
      ...(observers.length > 0
        ? {
            observeBlock: (address: bigint, data: Uint8Array, holes: readonly Span[], readMs: number) => {
              for (const observe of observers) observe(address, data, holes, readMs);
            },
          }
        : {}),
    });
    await options.beforeReport?.(result);
    const after = await afterPass(result, source, sampler, options);
    const witnessed = await witness(result, sink, context, format.name, map, options, after, events);
    const delivered = await deliverReport(sink, witnessed, options);
    events.done(delivered);
    return delivered;
  } finally {
    signals.dispose();
  }
}

/** Writes the report and says on stderr what the user must know: why it stopped, what could not be read. */
async function witness(
  result: PipelineResult,
  sink: Sink,
  context: WriteContext,
  formatName: string,
  map: readonly Region[],
  options: ImageOutputOptions,
  after: AfterPass,
  events: EventWriter,
): Promise<WriteImageResult> {
  const exitCode = result.error
    ? exitCodeOf(result.error)
    : result.status === "partial"
      ? ExitCode.partial
      : ExitCode.complete;
  const reportPath = options.report ?? (sink.reportBeside ? reportPathFor(result.sink.location) : undefined);
  const written = reportPath && reportPath !== "-" ? [reportPath] : [];
  const weaknesses = await assessWeaknesses({
    result,
    source: context.source,
    map,
    smear: after.smear,
    swap: after.swap,
    ...(options.priorityFirst
      ? {
          priority:
            priorityWindow(options.priorityFirst, result.ranges) ??
            "unknown: none of the priority set was read",
        }
      : {}),
    otherFiles: [...written, ...(options.case && written[0] ? [casePathFor(written[0])] : [])],
  });
  const report = buildReport({
    result,
    source: context.source,
    map,
    format: formatName,
    exitCode,
    examiner: options.examiner,
    weaknesses,
    ...(options.kernel ? { kernel: options.kernel.identity() } : {}),
  });
  if (reportPath && reportPath !== "-") await writeReport(reportPath, report);
  const casePath = options.case ? await writeCaseBeside(report, reportPath) : undefined;
  // With the image on stdout and no report file named, the report goes to stderr so that it is never lost.
  // With --json the report travels in the "done" event instead.
  const onStdout = options.output !== "-" && !options.json && reportPath === "-";
  const reportOnStderr =
    !options.json && !onStdout && (!reportPath || reportPath === "-") && !sink.deliverReport;
  // Events on stderr (--json with the image on stdout) stay pure NDJSON: what the text says is in them.
  const text = !(options.json && imageOnStdout(options));
  if (onStdout) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (reportOnStderr) process.stderr.write(`${JSON.stringify(report, null, 2)}\n`);
  if (!options.quiet && !reportOnStderr && text) process.stderr.write(summary(report, reportPath, casePath));
  if (result.error) {
    if (text) process.stderr.write(`memimage: ${result.error.message}\n`);
    events.warning(result.error.message);
  }
  if (result.status === "partial") {
    const missing = result.unreadable.reduce((n, u) => n + u.length, 0);
    const message = `${result.unreadable.length} unreadable span(s), ${missing} bytes, listed in the report; exit 3`;
    if (!options.quiet && text) process.stderr.write(`memimage: ${message}\n`);
    events.warning(message);
  }
  return { result, report, reportPath, exitCode };
}

/** --json: events on standard output, or on standard error when the image itself is written to standard output. */
function eventsFor(options: ImageOutputOptions): EventWriter {
  if (!options.json) return noEvents;
  return ndjsonEvents(imageOnStdout(options) ? process.stderr : process.stdout);
}

function imageOnStdout(options: ImageOutputOptions): boolean {
  return options.output === "-" && !options.listen;
}

export function ensureFormatFitsSource(formatName: string, addressSpace: string): void {
  if (addressSpace === "virtual" && formatName === "padded") {
    throw new MemimageError(
      "usage",
      "padded output needs physical addresses; for a process use elf, lime or raw",
    );
  }
}

/** About how large the image will be: its bytes, or for padded output up to its highest address. */
function expectedImageBytes(map: readonly Region[], format: string): number {
  const bytes = map.reduce((n, r) => n + r.length, 0);
  if (format !== "padded") return bytes;
  return map.reduce((n, r) => Math.max(n, Number(r.start) + r.length), bytes);
}
