import type { Command } from "commander";
import { ExitCode, MemimageError } from "../core/errors.js";
import { readReport } from "../report/files.js";

interface CaseOptions {
  output: string;
}

export function registerCase(program: Command): void {
  program
    .command("case")
    .description("write a report as CASE/UCO JSON-LD (validated against the UCO 1.4 and CASE 1.4 shapes)")
    .argument("<report>", "a memimage report (IMAGE.report.json)")
    .option("-o, --output <path>", "where to write the JSON-LD (- for standard output)", "-")
    .addHelpText(
      "after",
      "\nExamples:\n  memimage case guest.lime.report.json -o guest.lime.case.jsonld\n  memimage case guest.lime.report.json | jq .           # to standard output\n\nExit: 0 valid, 1 no report, 5 the shapes found a violation (listed on stderr).\n",
    )
    .action(async (reportPath: string, options: CaseOptions) => {
      const report = await readReport(reportPath);
      if (!report) throw new MemimageError("usage", `no report at ${reportPath}`);
      const { caseFromReportFile, writeCase } = await import("../report/case-files.js");
      const { document, validation } = await caseFromReportFile(report, reportPath);
      await writeCase(options.output, document);
      for (const v of validation.violations)
        process.stderr.write(
          `memimage: CASE shape violation at ${v.focusNode} ${v.path ?? ""}: ${v.message}\n`,
        );
      process.exitCode = validation.conforms ? ExitCode.complete : ExitCode.mismatch;
    });
}
