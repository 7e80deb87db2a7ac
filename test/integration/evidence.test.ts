// The weaknesses section, smear sampling and CASE/UCO output of real acquisitions and conversions, checked
// against the report schema and the UCO 1.4 / CASE 1.4 SHACL shapes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import { caseDocument } from "../../src/report/case.js";
import { validateCase } from "../../src/report/case-validate.js";
import type { Report } from "../../src/report/report.js";
import { memimage, scratchDir } from "../helpers/cli.js";
import { assertValidReport } from "../helpers/schema.js";

const scratch = scratchDir("memimage-evidence-");
after(scratch.cleanup);
const readJson = <T>(path: string) => JSON.parse(readFileSync(path, "utf8")) as T;

async function assertCaseValid(path: string): Promise<Record<string, unknown>> {
  const document = readJson<Record<string, unknown>>(path);
  const result = await validateCase(document);
  assert.deepEqual(result.violations, [], "CASE output conforms to the UCO and CASE shapes");
  return document;
}

const graph = (doc: Record<string, unknown>) => doc["@graph"] as Record<string, unknown>[];
const ofType = (doc: Record<string, unknown>, type: string) => graph(doc).find((n) => n["@type"] === type);

describe("convert: weaknesses and CASE of an unchanging source", () => {
  const lime = scratch.path("still.lime");
  writeFileSync(lime, Buffer.concat([encodeRecordHeader(0x100000n, 4 << 20), Buffer.alloc(4 << 20, 0x5a)]));
  const out = scratch.path("still.raw");
  const run = memimage([
    "convert",
    lime,
    out,
    "-f",
    "raw",
    "-q",
    "--smear-sample",
    "200",
    "--case",
    "--examiner",
    "A. Examiner",
  ]);

  test("the report validates and every weakness is there, measured", () => {
    assert.equal(run.status, 0, run.stderr);
    const report = readJson<Report>(`${out}.report.json`);
    assertValidReport(report);
    const w = report.weaknesses;
    assert.ok(w);
    assert.equal(report.examiner, "A. Examiner");
    assert.ok(typeof w.memorySmear.window === "object" && w.memorySmear.window.durationMs >= 0);
    const sample = w.memorySmear.sample;
    assert.ok(typeof sample === "object");
    assert.equal(sample.sampled, 200);
    assert.equal(sample.compared, 200);
    assert.equal(sample.changed, 0, "an image file does not change between the pass and the re-read");
    assert.ok(w.toolChangesMemory.peakRssBytes > 0);
    assert.ok(w.toolChangesMemory.filesWritten.some((f) => f.endsWith("still.raw.case.jsonld")));
    assert.equal(w.toolOverwritesData.sink, "file");
    assert.match(w.toolOverwritesData.device, /^\d+:\d+$/);
    assert.equal(w.incompleteAcquisition.totalBytes, 4 << 20);
    assert.equal(w.incompleteAcquisition.bytesRead, 4 << 20);
    assert.deepEqual(w.incompleteAcquisition.missing, []);
    assert.ok(Array.isArray(w.swapNotCollected.active));
  });

  test("the CASE file conforms, names the image's SHA-256, the tool and the examiner", async () => {
    const report = readJson<Report>(`${out}.report.json`);
    const doc = await assertCaseValid(`${out}.case.jsonld`);
    const ids = graph(doc).map((n) => n["@id"]);
    assert.equal(new Set(ids).size, ids.length, "every node has its own @id");
    assert.match(JSON.stringify(doc), new RegExp(report.output.sha256));
    assert.equal(ofType(doc, "uco-identity:Person")?.["uco-core:name"], "A. Examiner");
    assert.equal(ofType(doc, "uco-tool:Tool")?.["uco-tool:version"], report.tool.version);
    assert.equal(
      ofType(doc, "case-investigation:InvestigativeAction")?.["uco-action:actionStatus"],
      "Success",
    );
  });

  test("memimage case REPORT gives the same graph later", () => {
    const later = memimage(["case", `${out}.report.json`]);
    assert.equal(later.status, 0, later.stderr);
    assert.deepEqual(JSON.parse(later.stdout), readJson(`${out}.case.jsonld`));
  });

  test("the summary on stderr names size, time, coverage, smear window and hashes", () => {
    const again = memimage(["convert", lime, scratch.path("still2.raw"), "-f", "raw"]);
    assert.equal(again.status, 0, again.stderr);
    for (const field of ["size", "time", "coverage", "smear", "sha256", "report"])
      assert.match(again.stderr, new RegExp(`^  ${field} `, "m"));
    assert.match(again.stderr, /^memimage: complete \(exit 0\)/m);
  });

  test("CASE of a partial and of an aborted acquisition is marked so and still conforms", async () => {
    const report = readJson<Report>(`${out}.report.json`);
    for (const status of ["partial", "aborted"] as const) {
      const marked: Report = {
        ...report,
        status,
        exitCode: status === "partial" ? 3 : 4,
        ...(status === "aborted" ? { error: "disk full" } : {}),
      };
      const doc = caseDocument(marked, undefined);
      const result = await validateCase(doc);
      assert.deepEqual(result.violations, []);
      assert.equal(ofType(doc, "uco-observable:Image")?.["uco-core:tag"], status);
      assert.match(String(ofType(doc, "uco-observable:Image")?.["uco-core:description"]), /PARTIAL|ABORTED/);
    }
  });

  test("the validator does find violations (a hash that is not hex, two end times)", async () => {
    const doc = readJson<Record<string, unknown>>(`${out}.case.jsonld`);
    const action = ofType(doc, "case-investigation:InvestigativeAction") as Record<string, unknown>;
    action["uco-action:endTime"] = [
      action["uco-action:endTime"],
      { "@type": "xsd:dateTime", "@value": "2020-01-01T00:00:00Z" },
    ];
    const text = JSON.stringify(doc).replace(
      /"@type":"xsd:hexBinary","@value":"[0-9a-f]+"/,
      '"@type":"xsd:hexBinary","@value":"not hex"',
    );
    const result = await validateCase(JSON.parse(text));
    assert.equal(result.conforms, false);
    assert.ok(result.violations.some((v) => v.path?.endsWith("/endTime")));
    assert.ok(result.violations.some((v) => v.path?.endsWith("/hashValue")));
  });
});

describe("process: smear sampling on a process that keeps writing", () => {
  test("the re-read finds pages that changed, and the CASE file conforms", async () => {
    // 16 MiB that a Python loop keeps rewriting, one byte a page, as fast as it can.
    const writer = spawn(
      "python3",
      [
        "-c",
        "b = bytearray(16 << 20)\nprint('ready', flush=True)\nwhile True:\n    for o in range(0, len(b), 4096): b[o] = (b[o] + 1) & 255\n",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        writer.stdout.once("data", () => resolve());
        writer.once("exit", () => reject(new Error("python3 exited")));
      });
      const core = scratch.path("busy.core");
      const run = memimage([
        "process",
        String(writer.pid),
        "-o",
        core,
        "-q",
        "--smear-sample",
        "4000",
        "--case",
      ]);
      assert.ok(run.status === 0 || run.status === 3, run.stderr);
      const base = `${core}${run.status === 0 ? "" : ".partial"}`;
      const report = readJson<Report>(`${base}.report.json`);
      assertValidReport(report);
      const sample = report.weaknesses?.memorySmear.sample;
      assert.ok(typeof sample === "object", JSON.stringify(sample));
      assert.ok(sample.compared > 0);
      assert.ok(
        sample.changed > 0,
        `some of ${sample.compared} sampled pages changed: ${JSON.stringify(sample)}`,
      );
      assert.equal(
        report.weaknesses?.incompleteAcquisition.against,
        "the process's mappings in /proc/PID/maps",
      );
      await assertCaseValid(`${base}.case.jsonld`);
    } finally {
      writer.kill("SIGKILL");
    }
  });
});
