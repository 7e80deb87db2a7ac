// memimage symbols IMAGE --vmlinux FILE: says whether a debug vmlinux is the build of the kernel in the image
// (their build IDs are equal). A mismatch is the most common reason crash and drgn fail on an image.
import type { Command } from "commander";
import { ExitCode, MemimageError } from "../core/errors.js";
import { readBuildId } from "../kernel/build-id.js";
import type { KernelIdentity } from "../kernel/identity.js";
import { identifyImage } from "../kernel/image-identity.js";
import { openImage } from "../sources/image.js";

interface SymbolsOptions {
  vmlinux: string;
  format?: string;
  report?: string;
  json?: boolean;
}

export function registerSymbols(program: Command): void {
  program
    .command("symbols")
    .description("check that a debug vmlinux matches the kernel in an image (same build ID)")
    .argument("<image>", "image file (elf, lime, raw, padded, avml)")
    .requiredOption("--vmlinux <file>", "the debug vmlinux (Debian: /usr/lib/debug/boot/vmlinux-RELEASE)")
    .option("--format <name>", "format of a headerless image (raw, padded)")
    .option("--report <path>", "the acquisition's report (default: IMAGE.report.json if present)")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExit status: 0 when the build IDs are equal, 5 when they differ, 1 when either is unknown.\n\nExample:\n  memimage symbols guest.elf --vmlinux /usr/lib/debug/boot/vmlinux-6.1.0-56-amd64\n",
    )
    .action(async (image: string, options: SymbolsOptions) => {
      const kernel = await imageKernel(image, options);
      const vmlinux = await readBuildId(options.vmlinux);
      const imageId = kernel.buildId.startsWith("unknown") ? undefined : kernel.buildId;
      const match = imageId !== undefined && vmlinux.buildId !== undefined && imageId === vmlinux.buildId;
      const verdict = match
        ? `MATCH: ${options.vmlinux} is the build of the kernel in ${image}`
        : !imageId
          ? `UNKNOWN: the image's build ID is ${kernel.buildId}`
          : !vmlinux.buildId
            ? `UNKNOWN: ${options.vmlinux} has no GNU build ID note`
            : `MISMATCH: ${options.vmlinux} is another build than the kernel in ${image}; crash and drgn would misread it. Get ${debugHint(kernel)}`;
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ image, vmlinux: options.vmlinux, imageBuildId: kernel.buildId, vmlinuxBuildId: vmlinux.buildId ?? "unknown: no GNU build ID note", match, kernel }, null, 2)}\n`,
        );
      } else {
        process.stdout.write(
          [
            `image     ${image}: ${kernel.osrelease}, build ID ${kernel.buildId}`,
            `vmlinux   ${options.vmlinux}: build ID ${vmlinux.buildId ?? "none"}`,
            verdict,
            "",
          ].join("\n"),
        );
      }
      process.exitCode = match
        ? ExitCode.complete
        : imageId && vmlinux.buildId
          ? ExitCode.mismatch
          : ExitCode.error;
    });
}

/** The report's identification when the acquisition wrote one, else what the image itself says. */
async function imageKernel(image: string, options: SymbolsOptions): Promise<KernelIdentity> {
  const opened = await openImage(image, {
    ...(options.format ? { format: options.format } : {}),
    ...(options.report ? { reportPath: options.report } : {}),
  });
  try {
    if (opened.report?.kernel && !opened.report.kernel.buildId.startsWith("unknown"))
      return opened.report.kernel;
    if (opened.source.layout.addressSpace !== "physical")
      throw new MemimageError("usage", `${image} is a process image: it holds no kernel`);
    return await identifyImage(opened.source, await opened.map());
  } finally {
    await opened.source.close();
  }
}

function debugHint(kernel: KernelIdentity): string {
  const d = kernel.debugSymbols;
  if (typeof d === "string") return `the debug vmlinux of ${kernel.osrelease} (build ID ${kernel.buildId})`;
  return `${d.package}${d.version ? ` version ${d.version}` : ""} (${d.distribution})`;
}
