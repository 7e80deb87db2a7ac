// Errors are values with a code and an exit status; the CLI maps them to exit codes in one place (cli/exit.ts).

/** Exit statuses, as documented in the README. */
export const ExitCode = {
  complete: 0,
  error: 1,
  usage: 2,
  partial: 3,
  sink: 4,
  mismatch: 5,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorKind =
  | "usage" // the command line is wrong
  | "bad-image" // an input image is malformed or truncated
  | "source" // the source cannot be opened or mapped
  | "source-gone" // the source vanished while being read (process exited)
  | "output-exists" // refusing to overwrite
  | "output" // the output cannot be created (missing directory, permission): nothing was written
  | "sink" // the output failed while being written (disk full, broken pipe)
  | "mismatch" // verification found a difference
  | "interrupted" // SIGINT (Ctrl-C)
  | "terminated"; // SIGTERM

const exitByKind: Record<ErrorKind, ExitCode> = {
  usage: ExitCode.usage,
  "bad-image": ExitCode.error,
  source: ExitCode.error,
  "source-gone": ExitCode.partial,
  "output-exists": ExitCode.error,
  output: ExitCode.error,
  sink: ExitCode.sink,
  mismatch: ExitCode.mismatch,
  interrupted: ExitCode.sigint,
  terminated: ExitCode.sigterm,
};

export class MemimageError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = "MemimageError";
  }
  get exitCode(): ExitCode {
    return exitByKind[this.kind];
  }
}

/** A malformed image: the message names the file and the byte offset where the problem is. */
export function badImage(path: string, offset: number | bigint, what: string): MemimageError {
  return new MemimageError("bad-image", `${path}: ${what} (at offset ${offset})`);
}

/** A part of a source that could not be read; the pipeline records it and goes on. */
export class UnreadableError extends Error {
  readonly reason: string;
  /** How many bytes from the failed address are known to be unreadable, when the source knows. */
  readonly length: number | undefined;
  constructor(reason: string, length?: number) {
    super(reason);
    this.reason = reason;
    this.length = length;
    this.name = "UnreadableError";
  }
}

/** Node's system errors carry a string code such as ENOSPC. */
export function errnoCode(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}
