import { open } from "node:fs/promises";
import { errnoCode, MemimageError } from "../core/errors.js";
import type { Region, Span } from "../core/map.js";
import type { Format } from "../formats/format.js";
import { detectFormat, formatByName } from "../formats/registry.js";
import { ImageSource } from "../formats/segments.js";
import { readReport, reportPathFor } from "../report/files.js";
import { fromReportRegion, type Report } from "../report/report.js";

export interface OpenImageOptions {
  /** The format, when the file has no magic to tell it (raw, padded). */
  format?: string;
  /** The acquisition's report; by default IMAGE.report.json is used when it exists. */
  reportPath?: string;
}

export interface OpenedImage {
  source: ImageSource;
  format: Format;
  report: Report | undefined;
  reportPath: string | undefined;
  /** The acquisition's own map when its report is known (region boundaries and unreadable regions as acquired), else the image's. */
  map(): Promise<Region[]>;
}

/** Opens an image file in any format as a source: the reader that convert, verify and info share. */
export async function openImage(path: string, options: OpenImageOptions = {}): Promise<OpenedImage> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, "r");
  } catch (error) {
    const code = errnoCode(error);
    const why =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (code ?? String(error));
    throw new MemimageError("source", `cannot open ${path}: ${why}`, { cause: error });
  }
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(64, size));
    await file.read(head, 0, head.length, 0);
    const reportPath = options.reportPath ?? reportPathFor(path);
    const report = await readReport(reportPath);
    if (options.reportPath && !report) throw new MemimageError("usage", `no report at ${options.reportPath}`);
    const format = options.format
      ? formatByName(options.format)
      : (detectFormat(head) ?? (report ? formatByName(report.output.format) : undefined));
    if (!format) {
      throw new MemimageError(
        "bad-image",
        `${path}: no LiME or ELF header and no report beside it; if it is a headerless image, say which with --format raw or --format padded`,
      );
    }
    const usable = report && report.output.format === format.name ? report : undefined;
    const holes: Span[] = (usable?.unreadable ?? []).map((u) => ({
      start: BigInt(u.start),
      length: u.length,
    }));
    const layout = await format.readLayout(
      file,
      path,
      size,
      usable ? { map: usable.map.map(fromReportRegion), holes } : {},
    );
    const source = new ImageSource(file, path, layout, holes);
    return {
      source,
      format,
      report: usable,
      reportPath: usable ? reportPath : undefined,
      map: async () => (usable ? usable.map.map(fromReportRegion) : source.map()),
    };
  } catch (error) {
    await file.close();
    throw error;
  }
}
