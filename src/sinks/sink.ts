/** What a sink says it produced. */
export interface SinkResult {
  kind: "file" | "stdout" | "null" | "tcp" | "tcp-listen" | "s3";
  /** Where the image is now: the final path, or the `.partial` path when the image is not complete. */
  location: string;
  bytes: number;
}

/**
 * Where the bytes go. write() resolves when the sink has taken the bytes (this is the pipeline's back-pressure);
 * the caller may reuse the buffer after that. finish() makes a complete image; abort() leaves a partial one, marked.
 */
export interface Sink {
  readonly kind: SinkResult["kind"];
  write(bytes: Uint8Array): Promise<void>;
  writeZeros(length: number): Promise<void>;
  finish(): Promise<SinkResult>;
  abort(): Promise<SinkResult>;
  /** The path or name a report should be written beside, when there is one. */
  readonly reportBeside: string | undefined;
  /** For sinks whose report travels with the image (tcp, s3): sends it, and says where it is now. */
  deliverReport?(report: object): Promise<string>;
}

export const ZEROS = Buffer.alloc(1 << 20);

/** Writes `length` zeros through `write`, a shared block at a time. */
export async function writeZerosBy(
  write: (bytes: Uint8Array) => Promise<void>,
  length: number,
): Promise<void> {
  for (let left = length; left > 0; left -= ZEROS.length)
    await write(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
}
