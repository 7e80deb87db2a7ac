import type { Command } from "commander";
import { ExitCode, MemimageError } from "../core/errors.js";
import { hex } from "../core/map.js";
import { formatByName } from "../formats/registry.js";
import { hashFile } from "../pipeline/file-hash.js";
import { runPipeline } from "../pipeline/run.js";
import { NullSink } from "../sinks/null.js";
import { openImage } from "../sources/image.js";

interface VerifyOptions {
  format?: string;
  report?: string;
  sha256?: string;
  json?: boolean;
  quiet?: boolean;
}

interface Check {
  what: string;
  expected: string;
  actual: string;
  ok: boolean;
}

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("recompute an image's hashes and compare them with its report or with a given hash")
    .argument("<image>", "image file")
    .option("--format <name>", "format of a headerless image (raw, padded)")
    .option("--report <path>", "report to compare with (default: IMAGE.report.json)")
    .option("--sha256 <hex>", "expected SHA-256 of the whole file")
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "print nothing; the exit status says it all")
    .addHelpText(
      "after",
      "\nExamples:\n  memimage verify guest.lime\n  memimage verify --sha256 9f86d08... guest.elf\n\nExit status: 0 all match, 5 a hash differs, 1 the image is malformed or nothing to compare with.\n",
    )
    .action(async (image: string, options: VerifyOptions) => {
      const opened = await openImage(image, {
        ...(options.format ? { format: options.format } : {}),
        ...(options.report ? { reportPath: options.report } : {}),
      });
      const checks: Check[] = [];
      try {
        const expectedFile = options.sha256?.toLowerCase() ?? opened.report?.output.sha256;
        if (!expectedFile && !opened.report) {
          throw new MemimageError(
            "usage",
            `nothing to compare ${image} with: no report beside it; give --report or --sha256`,
          );
        }
        const file = await hashFile(image);
        if (expectedFile)
          checks.push({
            what: "file sha256",
            expected: expectedFile,
            actual: file.sha256,
            ok: expectedFile === file.sha256,
          });
        if (opened.report) {
          // Re-read every range through the same pipeline that wrote it, so holes and hashes mean the same thing.
          const map = await opened.map();
          const result = await runPipeline({
            source: opened.source,
            map,
            writer: formatByName("raw").createWriter(),
            context: { source: opened.source.description },
            sink: new NullSink(),
          });
          if (result.error) throw result.error;
          const actual = new Map(result.ranges.map((r) => [hex(r.start), r.sha256]));
          for (const r of opened.report.ranges) {
            const got = actual.get(r.start) ?? "(not in image)";
            checks.push({
              what: `range ${r.start}+${r.length}`,
              expected: r.sha256,
              actual: got,
              ok: got === r.sha256,
            });
          }
        }
      } finally {
        await opened.source.close();
      }
      const failed = checks.filter((c) => !c.ok);
      if (options.json)
        process.stdout.write(`${JSON.stringify({ image, ok: failed.length === 0, checks }, null, 2)}\n`);
      else if (!options.quiet) {
        for (const c of checks.filter((c) => !c.ok || c.what === "file sha256")) {
          process.stdout.write(
            `${c.ok ? "OK      " : "MISMATCH"} ${c.what} ${c.actual}${c.ok ? "" : ` (expected ${c.expected})`}\n`,
          );
        }
        const rangeChecks = checks.filter((c) => c.what.startsWith("range"));
        if (rangeChecks.length > 0)
          process.stdout.write(
            `${rangeChecks.filter((c) => c.ok).length} of ${rangeChecks.length} ranges match\n`,
          );
        process.stdout.write(
          failed.length === 0 ? `verified: ${image}\n` : `FAILED: ${failed.length} check(s) differ\n`,
        );
      }
      process.exitCode = failed.length === 0 ? ExitCode.complete : ExitCode.mismatch;
    });
}
