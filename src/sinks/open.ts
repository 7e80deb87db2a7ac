import { dirname, resolve } from "node:path";
import { MemimageError } from "../core/errors.js";
import { DiskBudget, parseDiskBudget } from "./disk-budget.js";
import { FileSink } from "./file.js";
import { ListenSink } from "./listen.js";
import type { Sink } from "./sink.js";
import { StdoutSink } from "./stdout.js";

export interface SinkOptions {
  /** The image's format (the TCP receiver is told it). */
  format?: string;
  /** Serve the raw image to one TCP client, as LiME does ([HOST:]PORT). */
  listen?: string;
  /** File output: the most the filesystem may have in use (bytes or percent). */
  maxDiskUsage?: string;
  /** S3-compatible endpoint URL for s3:// outputs. */
  endpoint?: string;
  /** About how large the image will be: S3 output chooses its part size from it. */
  expectedBytes?: number;
  /** Where to say things the user must see (waiting for a connection). */
  say?: (line: string) => void;
}

/** Builds the sink an `-o` value names: `-`, tcp://HOST:PORT, s3://BUCKET/KEY, otherwise a file path. */
export async function openSink(output: string, options: SinkOptions = {}): Promise<Sink> {
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.listen) {
    if (output !== "-")
      throw new MemimageError(
        "usage",
        "--listen sends the image to the client that connects: give no -o (or -o -)",
      );
    return ListenSink.create(options.listen, say);
  }
  if (options.maxDiskUsage && (output === "-" || /^[a-z0-9]+:\/\//.test(output)))
    throw new MemimageError("usage", "--max-disk-usage applies to file output only");
  if (output === "-") return new StdoutSink();
  if (output.startsWith("tcp://")) {
    const { TcpSink } = await import("./tcp.js");
    return TcpSink.create(output, options.format ?? "unknown");
  }
  if (output.startsWith("s3://")) {
    const { S3Sink } = await import("./s3.js"); // the AWS SDK is large: load it only for S3
    return S3Sink.create(output, {
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.expectedBytes !== undefined ? { expectedBytes: options.expectedBytes } : {}),
      say,
    });
  }
  const budget = options.maxDiskUsage
    ? new DiskBudget(dirname(resolve(output)), parseDiskBudget(options.maxDiskUsage), options.maxDiskUsage)
    : undefined;
  return FileSink.create(output, budget ? { budget } : {});
}
