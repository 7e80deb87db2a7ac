import { hostname } from "node:os";
import type { Command } from "commander";
import { MemimageError } from "../core/errors.js";
import { formatNames } from "../formats/registry.js";
import { checkOutputFilesystem } from "../sinks/filesystem.js";
import { openPhysical, type PhysicalSourceName, physicalSourceNames } from "../sources/physical.js";
import { addOutputOptions } from "./output-options.js";
import { writeImage } from "./write-image.js";

interface AcquireOptions {
  output?: string;
  format: string;
  source: string;
  allowRamBackedOutput?: boolean;
  report?: string;
  json?: boolean;
  quiet?: boolean;
  blake3?: boolean;
  listen?: string;
}

export function registerAcquire(program: Command): void {
  addOutputOptions(program.command("acquire"))
    .description("image this machine's physical memory (System RAM) from /dev/crash, /proc/kcore or /dev/mem")
    .option(
      "-o, --output <path>",
      "file to write, or - for standard output (default: memimage-HOST-TIME.FORMAT)",
    )
    .option("-f, --format <name>", `output format: ${formatNames.join(", ")}`, "lime")
    .option("--source <name>", `where to read: auto, ${physicalSourceNames.join(", ")}`, "auto")
    .option(
      "--allow-ram-backed-output",
      "write into tmpfs/ramfs even though that overwrites memory being imaged (recorded in the report)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  sudo memimage acquire -o /mnt/usb/host.lime\n  sudo memimage acquire -o host.elf --format elf --source kcore\n  sudo memimage acquire -o - --format padded | ssh collector 'cat > host.padded'\n",
    )
    .action(async (options: AcquireOptions) => {
      const choice = sourceChoice(options.source);
      const output = options.output ?? (options.listen ? "-" : defaultOutput(options.format));
      const filesystem =
        output === "-"
          ? undefined
          : await checkOutputFilesystem(output, Boolean(options.allowRamBackedOutput));
      const source = await openPhysical(choice);
      try {
        const map = await source.map();
        const description = {
          ...source.description,
          details: {
            ...source.description.details,
            ...(filesystem
              ? {
                  outputFilesystem: {
                    directory: filesystem.directory,
                    magic: filesystem.magic,
                    ramBacked: filesystem.ramBacked ?? false,
                    allowRamBackedOutput: filesystem.allowedRamBacked,
                  },
                }
              : { outputFilesystem: "standard output" }),
          },
        };
        const { exitCode } = await writeImage(source, map, { source: description }, { ...options, output });
        process.exitCode = exitCode;
      } finally {
        await source.close();
      }
    });
}

function sourceChoice(name: string): PhysicalSourceName | "auto" {
  if (name === "auto" || (physicalSourceNames as readonly string[]).includes(name))
    return name as PhysicalSourceName | "auto";
  throw new MemimageError(
    "usage",
    `unknown source "${name}"; choose auto, ${physicalSourceNames.join(", ")}`,
  );
}

function defaultOutput(format: string): string {
  const time = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `memimage-${hostname()}-${time}.${format}`;
}
