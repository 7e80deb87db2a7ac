// The report as CASE/UCO JSON-LD (CASE 1.4, UCO 1.4): the image as an observable:Image with file, content-data
// (size, SHA-256) and image facets; the acquisition as a case-investigation:InvestigativeAction with start and end,
// instrument (memimage and its version), object (the host, process or input image), result (the image and the
// report) and performer (--examiner). Every node has an @id: a UUIDv5 of the report's own identity (start time
// and output hash), so `memimage case REPORT` later gives the same identifiers as `--case` did at the time.
import { createHash } from "node:crypto";
import { basename, resolve } from "node:path";
import { REPORT_SUFFIX, type Report } from "./report.js";

export const CASE_SUFFIX = ".case.jsonld";

/** IMAGE.report.json -> IMAGE.case.jsonld; any other report name gets the suffix added. */
export function casePathFor(reportPath: string): string {
  return (
    (reportPath.endsWith(REPORT_SUFFIX) ? reportPath.slice(0, -REPORT_SUFFIX.length) : reportPath) +
    CASE_SUFFIX
  );
}

const CONTEXT = {
  kb: "urn:uuid:",
  "case-investigation": "https://ontology.caseontology.org/case/investigation/",
  "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
  "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
  "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
  "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
  "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
  "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
  xsd: "http://www.w3.org/2001/XMLSchema#",
};

/** A file the graph names as a result: the report file, whose hash is taken when the graph is made. */
export interface HashedFile {
  path: string;
  bytes: number;
  sha256: string;
}

type Node = Record<string, unknown> & { "@id": string; "@type": string | string[] };

const integer = (n: number) => ({ "@type": "xsd:integer", "@value": String(n) });
const dateTime = (iso: string) => ({ "@type": "xsd:dateTime", "@value": iso });
const ref = (node: Node) => ({ "@id": node["@id"] });

/** UCO's ActionStatusTypeVocab: complete -> Success, partial (finished, some memory unread) -> Complete/Finish. */
const ACTION_STATUS: Record<Report["status"], string> = {
  complete: "Success",
  partial: "Complete/Finish",
  aborted: "Fail",
};

export function caseDocument(report: Report, reportFile: HashedFile | undefined): Record<string, unknown> {
  const id = idMaker(`${report.time.start} ${report.output.sha256} ${report.output.location}`);
  const hash = (role: string, sha256: string): Node => ({
    "@id": id(`${role}-hash`),
    "@type": "uco-types:Hash",
    "uco-types:hashMethod": "SHA256",
    "uco-types:hashValue": { "@type": "xsd:hexBinary", "@value": sha256 },
  });
  const fileFacets = (role: string, path: string, bytes: number, sha256: string): Node[] => [
    {
      "@id": id(`${role}-file-facet`),
      "@type": "uco-observable:FileFacet",
      "uco-observable:fileName": basename(path),
      "uco-observable:filePath": path === "-" ? "-" : resolve(path),
      "uco-observable:sizeInBytes": integer(bytes),
    },
    {
      "@id": id(`${role}-content-facet`),
      "@type": "uco-observable:ContentDataFacet",
      "uco-observable:sizeInBytes": integer(bytes),
      "uco-observable:hash": hash(role, sha256),
    },
  ];

  const partial = report.status !== "complete";
  const image: Node = {
    "@id": id("image"),
    "@type": "uco-observable:Image",
    "uco-core:name": basename(report.output.location),
    "uco-core:description": imageDescription(report),
    ...(partial ? { "uco-core:tag": report.status } : {}),
    "uco-core:hasFacet": [
      ...(report.output.sink === "file"
        ? fileFacets("image", report.output.location, report.output.bytes, report.output.sha256)
        : [
            {
              "@id": id("image-content-facet"),
              "@type": "uco-observable:ContentDataFacet",
              "uco-observable:sizeInBytes": integer(report.output.bytes),
              "uco-observable:hash": hash("image", report.output.sha256),
            },
          ]),
      {
        "@id": id("image-facet"),
        "@type": "uco-observable:ImageFacet",
        "uco-observable:imageType": report.output.format,
      },
    ],
  };
  const results: Node[] = [image];
  if (reportFile) {
    results.push({
      "@id": id("report"),
      "@type": "uco-observable:File",
      "uco-core:name": basename(reportFile.path),
      "uco-core:description":
        "memimage JSON report (schema memimage-report/1): map, hashes, timing, weaknesses",
      "uco-core:hasFacet": fileFacets("report", reportFile.path, reportFile.bytes, reportFile.sha256),
    });
  }
  const tool: Node = {
    "@id": id("tool"),
    "@type": "uco-tool:Tool",
    "uco-core:name": "memimage",
    "uco-tool:version": report.tool.version,
    "uco-tool:toolType": "memory acquisition",
  };
  const object = sourceObject(report, id);
  const performer: Node | undefined = report.examiner
    ? { "@id": id("examiner"), "@type": "uco-identity:Person", "uco-core:name": report.examiner }
    : undefined;
  const action: Node = {
    "@id": id("action"),
    "@type": "case-investigation:InvestigativeAction",
    "uco-core:name": actionName(report),
    "uco-core:description": `${report.command.join(" ")} (status ${report.status}, exit ${report.exitCode})`,
    "uco-action:startTime": dateTime(report.time.start),
    "uco-action:endTime": dateTime(report.time.end),
    "uco-action:actionStatus": ACTION_STATUS[report.status],
    "uco-action:instrument": ref(tool),
    "uco-action:object": ref(object),
    "uco-action:result": results.map(ref),
    ...(performer ? { "uco-action:performer": ref(performer) } : {}),
  };
  return {
    "@context": CONTEXT,
    "@graph": [action, tool, object, ...results, ...(performer ? [performer] : [])],
  };
}

function actionName(report: Report): string {
  if (report.source.kind === "image") return "memory image conversion";
  if (report.source.kind === "process") return "process memory acquisition";
  return "physical memory acquisition";
}

function imageDescription(report: Report): string {
  const what = `${report.output.format} image of ${report.source.kind} ${report.source.path}`;
  if (report.status === "complete") return `${what}; complete`;
  const missing = `${report.summary.unreadableBytes} of ${report.summary.bytesPlanned} planned bytes unreadable`;
  if (report.status === "partial") return `${what}; PARTIAL: ${missing} (listed in the report)`;
  return `${what}; ABORTED before the end (${report.error ?? "no reason recorded"}); ${report.summary.bytesRead} bytes read`;
}

/** The thing imaged: this host's memory (a Computer), a process, or the input image of a conversion. */
function sourceObject(report: Report, id: (role: string) => string): Node {
  const details = report.source.details ?? {};
  if (report.source.kind === "process") {
    const args = details.commandLine;
    return {
      "@id": id("source"),
      "@type": "uco-observable:Process",
      "uco-core:name": String(details.command ?? report.source.path),
      "uco-core:hasFacet": [
        {
          "@id": id("source-process-facet"),
          "@type": "uco-observable:ProcessFacet",
          "uco-observable:pid": integer(Number(details.pid)),
          ...(Array.isArray(args) && args.length > 0 ? { "uco-observable:arguments": args.map(String) } : {}),
        },
      ],
    };
  }
  if (report.source.kind === "image") {
    return {
      "@id": id("source"),
      "@type": "uco-observable:File",
      "uco-core:name": basename(report.source.path),
      "uco-core:hasFacet": [
        {
          "@id": id("source-file-facet"),
          "@type": "uco-observable:FileFacet",
          "uco-observable:fileName": basename(report.source.path),
          "uco-observable:filePath": resolve(report.source.path),
        },
      ],
    };
  }
  return {
    "@id": id("source"),
    "@type": "uco-observable:Computer",
    "uco-core:name": report.host.hostname,
    "uco-core:description": `physical memory read through ${report.source.path}`,
    "uco-core:hasFacet": [
      {
        "@id": id("source-computer-facet"),
        "@type": "uco-observable:ComputerSpecificationFacet",
        "uco-observable:hostname": report.host.hostname,
        "uco-observable:processorArchitecture": report.host.arch,
      },
    ],
  };
}

/** Names for one graph: kb:UUIDv5(seed, role). */
function idMaker(seed: string): (role: string) => string {
  const namespace = createHash("sha1").update(`memimage ${seed}`).digest().subarray(0, 16);
  return (role) => `kb:${uuidV5(namespace, role)}`;
}

/** RFC 9562 UUID version 5: SHA-1 of namespace and name, version and variant bits set. */
function uuidV5(namespace: Uint8Array, name: string): string {
  const b = createHash("sha1").update(namespace).update(name).digest().subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
