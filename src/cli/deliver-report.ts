// For outputs whose report travels with the image (tcp://, s3://): send it once it is written, and say where it
// went. If it cannot be sent, it goes to stderr (so it is never lost) and the exit status says the output failed.
import { ExitCode, MemimageError } from "../core/errors.js";
import type { Sink } from "../sinks/sink.js";

export async function deliverReport<T extends { report: object; exitCode: number }>(
  sink: Sink,
  witnessed: T,
  options: { quiet?: boolean },
): Promise<T> {
  if (!sink.deliverReport) return witnessed;
  try {
    const said = await sink.deliverReport(witnessed.report);
    if (!options.quiet) process.stderr.write(`memimage: ${said}\n`);
    return witnessed;
  } catch (error) {
    process.stderr.write(`${JSON.stringify(witnessed.report, null, 2)}\n`);
    const message = error instanceof MemimageError ? error.message : String(error);
    process.stderr.write(`memimage: ${message}\n`);
    return {
      ...witnessed,
      exitCode:
        witnessed.exitCode === ExitCode.complete
          ? ExitCode.sink
          : Math.max(witnessed.exitCode, ExitCode.sink),
    };
  }
}
