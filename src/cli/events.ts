// --json on image-writing commands: newline-delimited JSON events for scripts and fleet tooling, one object per
// line, in the versioned shape of schema/events.schema.json. The last line is "done" and carries the whole report.
import { hex } from "../core/map.js";
import type { PipelineEvent } from "../pipeline/run.js";
import type { Report } from "../report/report.js";

/** Bumped when an event loses or changes a field; adding a field keeps it. */
export const EVENTS_VERSION = 1;
/** The most progress lines per second: a 4 GiB image is 2048 blocks, and a script wants a pulse, not a flood. */
const PROGRESS_INTERVAL_MS = 500;

export interface StartFacts {
  output: string;
  format: string;
}

export interface DoneFacts {
  exitCode: number;
  reportPath: string | undefined;
  report: Report;
}

export interface EventWriter {
  start(facts: StartFacts): void;
  /** Feeds the pipeline's events through (its own "start" and "done" are folded into ours). */
  pipeline(event: PipelineEvent): void;
  warning(message: string): void;
  done(facts: DoneFacts): void;
}

/** Writes nothing: what commands get without --json. */
export const noEvents: EventWriter = { start() {}, pipeline() {}, warning() {}, done() {} };

/** Events as NDJSON on `stream`: standard output, or standard error when the image itself goes to standard output. */
export function ndjsonEvents(stream: NodeJS.WritableStream): EventWriter {
  const t0 = performance.now();
  let facts: StartFacts | undefined;
  let lastProgress = Number.NEGATIVE_INFINITY;
  const write = (type: string, fields: Record<string, unknown>) =>
    stream.write(
      `${JSON.stringify({ v: EVENTS_VERSION, type, time: new Date().toISOString(), ...fields })}\n`,
    );
  const elapsedMs = () => Math.round(performance.now() - t0);
  return {
    start(given) {
      facts = given;
    },
    pipeline(event) {
      switch (event.type) {
        case "start":
          write("start", {
            command: ["memimage", ...process.argv.slice(2)],
            ...facts,
            bytesPlanned: event.bytesPlanned,
            ranges: event.ranges,
          });
          return;
        case "range":
          write("range", {
            index: event.index,
            start: hex(event.start),
            length: event.length,
            kind: event.kind,
          });
          return;
        case "progress": {
          const now = performance.now();
          const last = event.bytesRead >= event.bytesPlanned;
          if (!last && now - lastProgress < PROGRESS_INTERVAL_MS) return;
          lastProgress = now;
          const ms = elapsedMs();
          write("progress", {
            bytesRead: event.bytesRead,
            bytesPlanned: event.bytesPlanned,
            address: hex(event.address),
            elapsedMs: ms,
            bytesPerSecond: ms > 0 ? Math.round((event.bytesRead / ms) * 1000) : 0,
          });
          return;
        }
        case "warning":
          write("warning", { message: event.message });
          return;
        case "done":
          return; // the report is not written yet: done() says it with the exit status
      }
    },
    warning(message) {
      write("warning", { message });
    },
    done({ exitCode, reportPath, report }) {
      write("done", {
        status: report.status,
        exitCode,
        output: report.output.location,
        sha256: report.output.sha256,
        bytesRead: report.summary.bytesRead,
        elapsedMs: elapsedMs(),
        reportPath: reportPath && reportPath !== "-" ? reportPath : null,
        report,
      });
    },
  };
}
