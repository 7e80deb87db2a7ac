import type { Command } from "commander";
import { ExitCode, MemimageError } from "../core/errors.js";
import { type Check, verifyImage } from "../report/verify-image.js";
import { openImage } from "../sources/image.js";
import { progressReporter } from "./progress.js";

interface VerifyOptions {
  format?: string;
  report?: string;
  sha256?: string;
  json?: boolean;
  quiet?: boolean;
}

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description(
      "check an image against its report (size, range list, every hash; the CASE file beside it) or a given hash",
    )
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
      let checks: Check[];
      try {
        if (!options.sha256 && !opened.report) {
          throw new MemimageError(
            "usage",
            `nothing to compare ${image} with: no report at ${image}.report.json; give --report or --sha256`,
          );
        }
        checks = await verifyImage(image, opened, options.sha256, await progressReporter(options));
      } finally {
        await opened.source.close();
      }
      const failed = checks.filter((c) => !c.ok);
      if (options.json)
        process.stdout.write(
          `${JSON.stringify({ image, report: opened.reportPath, ok: failed.length === 0, checks }, null, 2)}\n`,
        );
      else if (!options.quiet) {
        const rangeHashes = checks.filter((c) => /^ranges\[\d+\]/.test(c.field));
        for (const c of checks.filter((c) => !c.ok || !rangeHashes.includes(c))) {
          process.stdout.write(
            `${c.ok ? "OK      " : "MISMATCH"} ${c.field} ${c.actual}${c.ok ? "" : ` (expected ${c.expected})`}\n`,
          );
        }
        if (rangeHashes.length > 0) {
          const ranges = new Set(rangeHashes.map((c) => c.field.replace(/\..*/, "")));
          const bad = new Set(rangeHashes.filter((c) => !c.ok).map((c) => c.field.replace(/\..*/, "")));
          process.stdout.write(`${ranges.size - bad.size} of ${ranges.size} ranges match\n`);
        }
        process.stdout.write(
          failed.length === 0 ? `verified: ${image}\n` : `FAILED: ${failed.length} check(s) differ\n`,
        );
      }
      process.exitCode = failed.length === 0 ? ExitCode.complete : ExitCode.mismatch;
    });
}
