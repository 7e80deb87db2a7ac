import type { Command } from "commander";
import { formatNames } from "../formats/registry.js";
import { imageKernelContext } from "../kernel/image-identity.js";
import { openImage } from "../sources/image.js";
import { addOutputOptions } from "./output-options.js";
import { ensureFormatFitsSource, writeImage } from "./write-image.js";

interface ConvertOptions {
  format: string;
  from?: string;
  report?: string;
  inputReport?: string;
  json?: boolean;
  quiet?: boolean;
  blake3?: boolean;
}

export function registerConvert(program: Command): void {
  addOutputOptions(program.command("convert"))
    .description("convert an image to another format, hashing as it streams, with a report for the new image")
    .argument("<input>", "image to read (lime, elf, raw, padded)")
    .argument("<output>", "file to write, or - for standard output")
    .requiredOption("-f, --format <name>", `output format: ${formatNames.join(", ")}`)
    .option("--from <name>", "format of a headerless input (raw, padded)")
    .option(
      "--input-report <path>",
      "the input's report (default: INPUT.report.json): restores addresses of raw/padded input",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  memimage convert guest.lime guest.padded --format padded\n  memimage convert guest.elf guest.lime -f lime\n  memimage convert dump.raw dump.lime -f lime --input-report dump.raw.report.json\n",
    )
    .action(async (input: string, output: string, options: ConvertOptions) => {
      const opened = await openImage(input, {
        ...(options.from ? { format: options.from } : {}),
        ...(options.inputReport ? { reportPath: options.inputReport } : {}),
      });
      try {
        ensureFormatFitsSource(options.format, opened.source.description.addressSpace);
        const map = await opened.map();
        const description = {
          ...opened.source.description,
          details: {
            ...opened.source.description.details,
            ...(opened.reportPath ? { report: opened.reportPath } : {}),
          },
        };
        // A physical image stays a vmcore (note and kernel addresses carried over) and its report names the kernel.
        const kernel =
          description.addressSpace === "physical" ? imageKernelContext(opened.source) : undefined;
        const { exitCode } = await writeImage(
          opened.source,
          map,
          {
            source: description,
            ...(kernel ? { notes: kernel.notes, virtualMappings: kernel.virtualMappings } : {}),
          },
          { output, ...options, ...(kernel ? { kernel: kernel.witness } : {}) },
        );
        process.exitCode = exitCode;
      } finally {
        await opened.source.close();
      }
    });
}
