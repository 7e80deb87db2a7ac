import { ExitCode, MemimageError } from "../core/errors.js";

export function exitCodeOf(error: unknown): number {
  return error instanceof MemimageError ? error.exitCode : ExitCode.error;
}

/** The one place an error becomes a line on stderr and an exit status. */
export function reportFailure(error: unknown): number {
  if (error instanceof MemimageError) {
    process.stderr.write(`memimage: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`memimage: internal error: ${message}\n`);
  return ExitCode.error;
}
