import { constants } from "node:fs";
import { access, open, readFile } from "node:fs/promises";
import { errnoCode, MemimageError } from "../core/errors.js";
import { REPORT_SCHEMA, REPORT_SUFFIX, type Report } from "./report.js";

export function reportPathFor(imagePath: string): string {
  return imagePath + REPORT_SUFFIX;
}

/** Writes the report (0600, never over an existing file). Returns the path. */
export async function writeReport(path: string, report: Report): Promise<string> {
  await writeNewFile(path, `${JSON.stringify(report, null, 2)}\n`, "the report");
  return path;
}

/** Creates `path` (0600, O_EXCL: never over an existing file), writes `text` and fsyncs it. */
export async function writeNewFile(path: string, text: string, what: string): Promise<void> {
  try {
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new MemimageError("sink", `cannot write ${what} ${path}: ${errnoCode(error) ?? String(error)}`, {
      cause: error,
    });
  }
}

/** Reads a report, or returns undefined if there is none at that path. */
export async function readReport(path: string): Promise<Report | undefined> {
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (!exists) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new MemimageError("bad-image", `${path}: not a JSON report (${(error as Error).message})`);
  }
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    (parsed as { schema?: unknown }).schema !== REPORT_SCHEMA
  ) {
    throw new MemimageError(
      "bad-image",
      `${path}: not a memimage report (expected "schema": "${REPORT_SCHEMA}")`,
    );
  }
  return parsed as Report;
}
