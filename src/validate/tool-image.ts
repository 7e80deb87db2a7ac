// Opens what the imager under test wrote, in any format memimage reads. LiME, ELF and AVML say where their bytes
// belong; raw and padded images say nothing, so without a memimage report beside them they are read the way
// LiME writes them: System RAM's ranges back to back (raw) or each at its own offset (padded).
import { open } from "node:fs/promises";
import { MemimageError } from "../core/errors.js";
import { exists } from "../core/exists.js";
import { type Span, subtractSpans } from "../core/map.js";
import { detectFormat, formatByName } from "../formats/registry.js";
import { ImageSource } from "../formats/segments.js";
import { reportPathFor } from "../report/files.js";
import type { Report } from "../report/report.js";
import { openImage } from "../sources/image.js";
import type { ImageUnderTest } from "./classify.js";

export interface OpenedToolImage extends ImageUnderTest {
  source: ImageSource;
  format: string;
  /** The memimage report beside the image, when the imager wrote one. */
  report: Report | undefined;
  /** Where the layout came from, for the reader of the results. */
  layoutFrom: string;
}

/** `format` is needed only for raw and padded images without a report beside them. */
export async function openToolImage(
  path: string,
  systemRam: readonly Span[],
  format?: string,
): Promise<OpenedToolImage> {
  const head = Buffer.alloc(64);
  const file = await open(path, "r").catch((error: unknown) => {
    throw new MemimageError("source", `the imager wrote no image at ${path}`, { cause: error });
  });
  try {
    await file.read(head, 0, head.length, 0);
  } finally {
    await file.close();
  }
  const hasReport = await exists(reportPathFor(path));
  const magic = detectFormat(head);
  if (magic || hasReport) {
    const opened = await openImage(path, format && !magic ? { format } : {});
    const declared = (opened.report?.unreadable ?? []).map((u) => ({
      start: BigInt(u.start),
      length: u.length,
    }));
    return {
      source: opened.source,
      format: opened.format.name,
      report: opened.report,
      stored: await storedSpans(opened.source, declared),
      declared,
      layoutFrom: magic ? `the image's ${magic.name} headers` : "the memimage report beside it",
    };
  }
  if (format !== "raw" && format !== "padded")
    throw new MemimageError(
      "usage",
      `${path} has no LiME, ELF or AVML header and no report beside it: say --tool-format raw or padded`,
    );
  const map = systemRam.map((s) => ({ ...s, readable: true, kind: "System RAM" }));
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const layout = await formatByName(format).readLayout(handle, path, size, { map });
    const source = new ImageSource(handle, path, layout);
    return {
      source,
      format,
      report: undefined,
      stored: await storedSpans(source, []),
      declared: [],
      layoutFrom: "the guest's System RAM, as LiME lays out raw and padded images",
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function storedSpans(source: ImageSource, holes: readonly Span[]): Promise<Span[]> {
  const regions = (await source.map()).filter((r) => r.readable);
  return regions.flatMap((r) => subtractSpans(r.start, r.length, holes));
}
