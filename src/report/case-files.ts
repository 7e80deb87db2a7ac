// Writes the CASE/UCO file of a report: the report file is hashed (it is one of the action's results), the graph
// built, validated against the UCO/CASE shapes, and written 0600 without overwriting anything.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { caseDocument, type HashedFile } from "./case.js";
import { type CaseValidation, validateCase } from "./case-validate.js";
import { writeNewFile } from "./files.js";
import type { Report } from "./report.js";

export async function hashedFile(path: string): Promise<HashedFile> {
  const bytes = await readFile(path);
  return { path, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

export async function caseFromReportFile(
  report: Report,
  reportPath: string | undefined,
): Promise<{ document: Record<string, unknown>; validation: CaseValidation }> {
  const document = caseDocument(report, reportPath ? await hashedFile(reportPath) : undefined);
  return { document, validation: await validateCase(document) };
}

/** Writes `document` to `path` ("-" for stdout). */
export async function writeCase(path: string, document: unknown): Promise<void> {
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (path === "-") {
    process.stdout.write(text);
    return;
  }
  await writeNewFile(path, text, "the CASE file");
}
