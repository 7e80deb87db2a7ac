// Checks an image against what its report (and CASE file) say of it: the file's size and SHA-256, the list of
// ranges, and every range's bytes and SHA-256, re-read through the same pipeline that wrote them. Each check is
// named by the report field it compares, so an edited report or a damaged image says which field disagrees.
import { access, readFile } from "node:fs/promises";
import { hex } from "../core/map.js";
import { formatByName } from "../formats/registry.js";
import { hashFileShowingProgress } from "../pipeline/file-hash.js";
import { type PipelineEvent, runPipeline } from "../pipeline/run.js";
import { NullSink } from "../sinks/null.js";
import type { OpenedImage } from "../sources/image.js";
import { casePathFor } from "./case.js";

export interface Check {
  /** The report field compared, e.g. "output.sha256", "ranges[2].sha256", "case". */
  field: string;
  expected: string;
  actual: string;
  ok: boolean;
}

export async function verifyImage(
  path: string,
  opened: OpenedImage,
  expectedSha256?: string,
  onEvent?: (event: PipelineEvent) => void,
): Promise<Check[]> {
  const checks: Check[] = [];
  const check = (field: string, expected: string | number, actual: string | number) =>
    checks.push({
      field,
      expected: String(expected),
      actual: String(actual),
      ok: String(expected) === String(actual),
    });
  const file = await hashFileShowingProgress(path, onEvent); // a first pass: the bar fills twice
  if (expectedSha256) check("--sha256", expectedSha256.toLowerCase(), file.sha256);
  const report = opened.report;
  if (!report) return checks;
  check("output.bytes", report.output.bytes, file.bytes);
  check("output.sha256", report.output.sha256, file.sha256);
  const result = await runPipeline({
    source: opened.source,
    map: await opened.map(),
    writer: formatByName("raw").createWriter(),
    context: { source: opened.source.description },
    sink: new NullSink(),
    ...(onEvent ? { onEvent } : {}),
  });
  if (result.error) throw result.error;
  const listed = (ranges: readonly { start: string | bigint; length: number }[]) =>
    ranges.map((r) => `${typeof r.start === "bigint" ? hex(r.start) : r.start}+${r.length}`).join(",");
  check("ranges", listed(report.ranges), listed(result.ranges));
  const actual = new Map(result.ranges.map((r) => [hex(r.start), r]));
  for (const [i, r] of report.ranges.entries()) {
    const got = actual.get(r.start);
    check(`ranges[${i}].bytesRead`, r.bytesRead, got?.bytesRead ?? "(not in image)");
    check(`ranges[${i}].sha256`, r.sha256, got?.sha256 ?? "(not in image)");
  }
  if (opened.reportPath) await checkCase(casePathFor(opened.reportPath), file.sha256, check);
  return checks;
}

/** A CASE file beside the report must conform to the ontologies' shapes and name the image's SHA-256. */
async function checkCase(
  casePath: string,
  sha256: string,
  check: (field: string, expected: string, actual: string) => void,
): Promise<void> {
  const exists = await access(casePath).then(
    () => true,
    () => false,
  );
  if (!exists) return;
  const document = JSON.parse(await readFile(casePath, "utf8")) as unknown;
  const { validateCase } = await import("./case-validate.js"); // the RDF libraries load only when needed
  const validation = await validateCase(document);
  check(
    "case (SHACL)",
    "conforms",
    validation.conforms
      ? "conforms"
      : `${validation.violations.length} violation(s): ${validation.violations[0]?.message ?? ""}`,
  );
  check(
    "case (image SHA-256)",
    sha256,
    JSON.stringify(document).includes(sha256) ? sha256 : "(not named in the CASE file)",
  );
}
