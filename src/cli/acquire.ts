import { hostname } from "node:os";
import type { Command } from "commander";
import { MemimageError } from "../core/errors.js";
import type { Region } from "../core/map.js";
import { formatNames } from "../formats/registry.js";
import { physicalKernel } from "../kernel/live.js";
import { checkPriorityFormat, KERNEL_IMAGE_NAMES, prioritize } from "../pipeline/priority.js";
import { checkOutputFilesystem } from "../sinks/filesystem.js";
import { namedRange, readSystemRam } from "../sources/iomem.js";
import { KcoreSource } from "../sources/kcore.js";
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
  priority?: boolean;
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
      "--priority",
      "read the kernel image (Kernel code, rodata, data, bss in /proc/iomem) first, then the rest: a short smear window for what analysis needs most (elf or raw)",
    )
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
      if (options.priority) checkPriorityFormat(options.format);
      const output = options.output ?? (options.listen ? "-" : defaultOutput(options.format));
      const filesystem =
        output === "-"
          ? undefined
          : await checkOutputFilesystem(output, Boolean(options.allowRamBackedOutput));
      const source = await openPhysical(choice);
      try {
        const planned = await source.map();
        const kernel = await source.coverage.aside(() =>
          physicalKernel(source, source instanceof KcoreSource ? source : undefined),
        );
        const priority = options.priority ? await kernelFirst(planned) : undefined;
        const map = priority?.ordered ?? planned;
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
        const { exitCode } = await writeImage(
          source,
          map,
          { source: description, notes: kernel.notes, virtualMappings: kernel.virtualMappings },
          {
            ...options,
            output,
            kernel: kernel.witness,
            beforeReport: async () => source.coverage.stop(),
            ...(priority ? { priorityFirst: priority.first } : {}),
          },
        );
        process.exitCode = exitCode;
      } finally {
        await source.close();
      }
    });
}

/** The map reordered so the kernel image's pages come first; fails if /proc/iomem does not name them. */
async function kernelFirst(map: Region[]): Promise<ReturnType<typeof prioritize>> {
  const { entries } = await readSystemRam();
  const spans = KERNEL_IMAGE_NAMES.flatMap((name) => {
    const span = namedRange(entries, name);
    return span ? [{ ...span, name }] : [];
  });
  if (spans.length === 0) {
    throw new MemimageError(
      "source",
      '--priority: /proc/iomem names no kernel image (no "Kernel code" line); run without --priority',
    );
  }
  return prioritize(map, spans);
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
