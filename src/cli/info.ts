import type { Command } from "commander";
import { hex, regionEnd } from "../core/map.js";
import { formatBytes } from "../core/units.js";
import type { KernelIdentity } from "../kernel/identity.js";
import { identifyImage } from "../kernel/image-identity.js";
import { hashFileShowingProgress } from "../pipeline/file-hash.js";
import { openImage } from "../sources/image.js";
import { jsonReplacer } from "./json.js";
import { progressReporter } from "./progress.js";

interface InfoOptions {
  format?: string;
  report?: string;
  json?: boolean;
  hash?: boolean;
}

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show an image's format, ranges, sizes and hashes")
    .argument("<image>", "image file (lime, elf, raw, padded)")
    .option("--format <name>", "format of a headerless image (raw, padded)")
    .option("--report <path>", "the acquisition's report (default: IMAGE.report.json if present)")
    .option("--hash", "compute the file's SHA-256 now (reads the whole file)")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  memimage info guest.lime\n  memimage info --json --hash guest.elf\n  memimage info --format padded --report guest.lime.report.json guest.padded\n",
    )
    .action(async (image: string, options: InfoOptions) => {
      const opened = await openImage(image, {
        ...(options.format ? { format: options.format } : {}),
        ...(options.report ? { reportPath: options.report } : {}),
      });
      try {
        const map = await opened.source.map();
        const layout = opened.source.layout;
        const stored = map.filter((r) => r.readable).reduce((n, r) => n + r.length, 0);
        const computed = options.hash
          ? await hashFileShowingProgress(image, await progressReporter(options))
          : undefined;
        // The acquisition's identification when its report has one; else what the image itself says.
        const kernel =
          layout.addressSpace !== "physical"
            ? undefined
            : (opened.report?.kernel ?? (await identifyImage(opened.source, await opened.map())));
        const info = {
          image,
          format: opened.format.name,
          fileSize: layout.fileSize,
          addressSpace: layout.addressSpace,
          ranges: map.map((r) => ({
            start: hex(r.start),
            end: hex(regionEnd(r)),
            length: r.length,
            stored: r.readable,
            kind: r.kind,
            ...(r.perms ? { perms: r.perms } : {}),
          })),
          bytesStored: stored,
          details: layout.details,
          ...(kernel ? { kernel } : {}),
          ...(computed ? { sha256: computed.sha256 } : {}),
          ...(opened.report
            ? {
                report: {
                  path: opened.reportPath,
                  status: opened.report.status,
                  sha256: opened.report.output.sha256,
                  source: opened.report.source,
                  start: opened.report.time.start,
                  unreadable: opened.report.unreadable,
                },
              }
            : {}),
        };
        if (options.json) {
          process.stdout.write(`${JSON.stringify(info, jsonReplacer, 2)}\n`);
          return;
        }
        const lines = [
          `image      ${image}`,
          `format     ${opened.format.name}`,
          `file size  ${layout.fileSize} bytes (${formatBytes(layout.fileSize)})`,
          `addresses  ${layout.addressSpace}`,
          `ranges     ${map.length}, ${stored} bytes stored (${formatBytes(stored)})`,
          ...map.map(
            (r) =>
              `  ${hex(r.start).padStart(18)} - ${hex(regionEnd(r)).padEnd(18)} ${String(r.length).padStart(14)} bytes${r.readable ? "" : "  (not stored)"}${r.perms ? `  ${r.perms}` : ""}`,
          ),
        ];
        if (computed) lines.push(`sha256     ${computed.sha256}`);
        if (kernel) lines.push(...kernelLines(kernel));
        if (opened.report) {
          lines.push(`report     ${opened.reportPath}`);
          lines.push(
            `  status   ${opened.report.status}; acquired ${opened.report.time.start} from ${opened.report.source.kind} ${opened.report.source.path}`,
          );
          lines.push(
            `  sha256   ${opened.report.output.sha256}${computed ? (computed.sha256 === opened.report.output.sha256 ? "  (matches)" : "  (DIFFERS from the file)") : ""}`,
          );
          if (opened.report.unreadable.length > 0)
            lines.push(`  unreadable spans: ${opened.report.unreadable.length}`);
        } else {
          lines.push("report     none found (hashes unknown; use --hash to compute the file's)");
        }
        process.stdout.write(`${lines.join("\n")}\n`);
      } finally {
        await opened.source.close();
      }
    });
}

function kernelLines(k: KernelIdentity): string[] {
  const root = k.pageTableRoot;
  const debug = k.debugSymbols;
  return [
    "kernel",
    `  banner       ${k.banner}`,
    `  release      ${k.osrelease}`,
    `  build id     ${k.buildId}`,
    `  kaslr offset ${k.kernelOffset}${k.physBase ? `  (phys_base ${k.physBase})` : ""}`,
    `  page tables  ${typeof root === "string" ? root : `${root.symbol} ${root.virtual}${root.physical ? ` = physical ${root.physical}` : ""}`}`,
    `  arch         ${k.architecture}`,
    `  debug        ${typeof debug === "string" ? debug : `${debug.package}${debug.version ? ` (${debug.version})` : ""}, ${debug.distribution}`}`,
    `  vmcoreinfo   ${typeof k.vmcoreinfo === "string" ? k.vmcoreinfo : `${k.vmcoreinfo.from}${k.vmcoreinfo.address ? ` at ${k.vmcoreinfo.address}` : ""}`}`,
  ];
}
