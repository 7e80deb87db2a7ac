import { readFileSync } from "node:fs";
import type { Region } from "../../src/core/map.js";
import type { WriteContext } from "../../src/formats/format.js";
import { formatByName } from "../../src/formats/registry.js";
import { type PipelineResult, runPipeline } from "../../src/pipeline/run.js";
import { writeReport } from "../../src/report/files.js";
import { buildReport } from "../../src/report/report.js";
import { FileSink } from "../../src/sinks/file.js";
import type { Source } from "../../src/sources/source.js";

/** Writes `source` as `format` to `path` through the real pipeline and file sink, with its report beside it. */
export async function writeImageFile(
  source: Source,
  format: string,
  path: string,
  options: { blockSize?: number; map?: Region[]; context?: WriteContext } = {},
): Promise<{ result: PipelineResult; bytes: Buffer }> {
  const map = options.map ?? (await source.map());
  const result = await runPipeline({
    source,
    map,
    writer: formatByName(format).createWriter(),
    context: options.context ?? { source: source.description },
    sink: await FileSink.create(path),
    ...(options.blockSize ? { blockSize: options.blockSize } : {}),
  });
  const report = buildReport({
    result,
    source: source.description,
    map,
    format,
    exitCode: result.status === "complete" ? 0 : 3,
  });
  await writeReport(`${result.sink.location}.report.json`, report);
  return { result, bytes: result.status === "aborted" ? Buffer.alloc(0) : readFileSync(path) };
}

/** Parses "45 4d 69 4c ..." (spaces and newlines ignored) into bytes: golden vectors are written this way. */
export function hexBytes(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ""), "hex");
}
