import type { SingleBar } from "cli-progress";
import { hex } from "../core/map.js";
import { formatBytes } from "../core/units.js";
import type { PipelineEvent } from "../pipeline/run.js";

export interface ProgressOptions {
  quiet?: boolean;
  json?: boolean;
}

/** A progress bar on stderr when it is a terminal; nothing otherwise (or with --quiet). */
export async function progressReporter(options: ProgressOptions): Promise<(event: PipelineEvent) => void> {
  if (options.quiet || options.json || !process.stderr.isTTY) return () => {};
  // Loaded only for a terminal: every module loaded is memory taken from the machine being imaged.
  const { SingleBar } = await import("cli-progress");
  let bar: SingleBar | undefined;
  let lastUpdate = 0;
  let started = 0;
  let ranges = 0;
  let range = "";
  return (event) => {
    if (event.type === "range") {
      range = `${event.index + 1}/${ranges} ${event.kind}`;
    } else if (event.type === "start") {
      started = performance.now();
      ranges = event.ranges;
      range = "";
      bar = new SingleBar({
        stream: process.stderr,
        format: "{bar} {percentage}% {done}/{all} {rate}/s ETA {eta_formatted} {range}",
        hideCursor: true,
        etaBuffer: 50,
        barsize: 12, // the line does not wrap: 80 columns hold the figures and, mostly, the range
      });
      bar.start(event.bytesPlanned, 0, {
        done: "0 B",
        all: formatBytes(event.bytesPlanned),
        rate: "-",
        range: "",
      });
    } else if (event.type === "progress" && bar) {
      const now = performance.now();
      if (now - lastUpdate < 100 && event.bytesRead < event.bytesPlanned) return;
      const seconds = (now - started) / 1000;
      lastUpdate = now;
      bar.update(event.bytesRead, {
        done: formatBytes(event.bytesRead),
        rate: seconds > 0 ? formatBytes(event.bytesRead / seconds) : "-",
        range: range ? `${hex(event.address)} in ${range}` : hex(event.address),
      });
    } else if (event.type === "done") {
      bar?.stop();
    }
  };
}
