import { FileSink } from "./file.js";
import type { Sink } from "./sink.js";
import { StdoutSink } from "./stdout.js";

/** Builds the sink an `-o` value names: `-` for standard output, otherwise a file path. */
export async function openSink(output: string): Promise<Sink> {
  if (output === "-") return new StdoutSink();
  return FileSink.create(output);
}
