// memimage lab: boot the disposable guest (Debian's kernel under QEMU TCG, provisioned and cached by src/lab/),
// image it from outside (vm, frozen) and from inside (acquire), and compare the two. --shell leaves it up instead.
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { ExitCode, MemimageError } from "../core/errors.js";
import { type Span, totalLength } from "../core/map.js";
import { formatBytes, parseSize } from "../core/units.js";
import { diffPages } from "../lab/compare.js";
import { Guest } from "../lab/guest.js";
import { provisionLab } from "../lab/provision.js";
import { selfCommand } from "../lab/self-command.js";
import type { Report } from "../report/report.js";
import { openImage } from "../sources/image.js";
import { namedRange, parseIomem, systemRam } from "../sources/iomem.js";
import { imageVm } from "./vm.js";

interface LabOptions {
  memory: string;
  shell?: boolean;
  output?: string;
}

const SELF = selfCommand();

export function registerLab(program: Command): void {
  program
    .command("lab")
    .description(
      "boot a disposable QEMU guest, image it from outside (vm) and from inside (acquire), and compare",
    )
    .option("--memory <size>", "guest RAM", "512M")
    .option("--shell", "only boot the guest and leave it up with its QMP socket, until Ctrl-C")
    .option("-o, --output <dir>", "keep both images and their reports in this directory")
    .addHelpText(
      "after",
      "\nExamples:\n  memimage lab                              # boot, image from outside and inside, compare\n  memimage lab --memory 2G -o lab-images/   # keep both images and their reports\n  memimage lab --shell                      # leave the guest up for memimage vm; Ctrl-C stops it\n\nThe first run installs QEMU from apt and fetches Debian's kernel (cached in /var/cache/memimage-lab).\nExit: 0 both images made and kernel code identical in them, 5 it differs.\n",
    )
    .action(async (options: LabOptions) => {
      const memoryMiB = Math.floor(parseSize(options.memory) / (1 << 20));
      if (memoryMiB < 128) throw new MemimageError("usage", "--memory must be at least 128M");
      process.stderr.write("lab: provisioning (cached after the first run)...\n");
      const lab = await provisionLab();
      process.stderr.write(`lab: booting Debian ${lab.kernel.release}, ${memoryMiB} MiB, QEMU TCG...\n`);
      const guest = await Guest.boot({
        lab,
        memoryMiB,
        ...(options.shell ? { lifetimeSeconds: 24 * 3600 } : {}),
      });
      if (options.shell) {
        await shell(guest);
        return;
      }
      try {
        process.exitCode = await compare(guest, memoryMiB, options.output);
      } finally {
        await guest.shutdown();
      }
    });
}

async function shell(guest: Guest): Promise<void> {
  process.stdout.write(
    [
      `guest up; its QMP socket: ${guest.qmpSocket}`,
      `try:  ${SELF} vm --qmp ${guest.qmpSocket} -o guest.lime`,
      `      ${SELF} vm --qmp ${guest.qmpSocket} --live -f elf -o guest.elf`,
      "stop: Ctrl-C here (or kill this process); QEMU is killed with it, and the guest powers off after 24 h anyway",
      "",
    ].join("\n"),
  );
  await new Promise(() => {}); // the guest module's SIGINT/SIGTERM handler kills QEMU and exits
}

async function compare(guest: Guest, memoryMiB: number, keep: string | undefined): Promise<number> {
  const dir = keep ? resolve(keep) : guest.runDir;
  await mkdir(dir, { recursive: true });
  const outside = join(dir, "outside-vm.lime");
  const inside = join(dir, "inside-acquire.lime");
  process.stderr.write("lab: imaging from outside (memimage vm --pause)...\n");
  const vmExit = await imageVm(guest.qmpSocket, "pause", { output: outside, format: "lime", quiet: true });
  if (vmExit !== ExitCode.complete) throw new MemimageError("source", `memimage vm exited ${vmExit}`);
  process.stderr.write("lab: imaging from inside (memimage acquire, in the guest)...\n");
  // The guest writes through 9p into the run directory; a kept directory elsewhere is copied after.
  const insideInGuest = guest.path("inside-acquire.lime");
  const r = await guest.run(`${SELF} acquire -q -o ${insideInGuest}`, 30 * 60_000);
  if (r.code !== 0 && r.code !== 3)
    throw new MemimageError("source", `memimage acquire in the guest exited ${r.code}: ${r.stderr.trim()}`);
  if (insideInGuest !== inside) {
    const { copyFile } = await import("node:fs/promises");
    await copyFile(insideInGuest, inside);
    await copyFile(`${insideInGuest}.report.json`, `${inside}.report.json`);
  }
  const iomem = parseIomem(await guest.check("cat /proc/iomem"));
  const ram = systemRam(iomem);
  const code = namedRange(iomem, "Kernel code");
  const vmReport = await readReport(outside);
  const inReport = await readReport(inside);
  const a = await openImage(outside);
  const b = await openImage(inside);
  let same = "unknown: no Kernel code line in the guest's /proc/iomem";
  let identical = true;
  try {
    if (code) {
      const d = await diffPages(a.source, b.source, [code]);
      identical = d.differing === 0 && d.missing === 0;
      same = `${d.pages - d.differing - d.missing} of ${d.pages} pages identical`;
    }
  } finally {
    await a.source.close();
    await b.source.close();
  }
  const freeze = (vmReport.source.details?.freeze as { durationMs?: number } | undefined)?.durationMs;
  const rows: [string, string, string][] = [
    ["", "outside: memimage vm --pause", "inside: memimage acquire"],
    ["image", formatBytes(vmReport.output.bytes), formatBytes(inReport.output.bytes)],
    [
      "time",
      `${seconds(vmReport.time.durationMs)} (guest frozen ${freeze === undefined ? "?" : seconds(freeze)})`,
      `${seconds(inReport.time.durationMs)} (guest running)`,
    ],
    ["coverage", coverage(vmReport, ram), coverage(inReport, ram)],
    ["source", `QEMU ${hypervisorVersion(vmReport)} over QMP`, inReport.source.kind],
    ["kernel", kernelLine(vmReport), kernelLine(inReport)],
    ["kernel code", same, ""],
  ];
  const width = [12, 40];
  process.stdout.write(
    `lab: Debian ${guest.lab.kernel.release}, ${memoryMiB} MiB guest under QEMU TCG\n${rows
      .map(([x, y, z]) => `${x.padEnd(width[0] as number)}${y.padEnd(width[1] as number)}${z}`)
      .join(
        "\n",
      )}\n${keep ? `images and reports in ${dir}\n` : "the images are discarded with the guest; keep them with -o DIR\n"}`,
  );
  return identical ? ExitCode.complete : ExitCode.mismatch;
}

function coverage(report: Report, ram: Span[]): string {
  const total = totalLength(ram);
  const inRam = report.ranges.reduce((n, r) => {
    const start = BigInt(r.start);
    const end = start + BigInt(r.length);
    return (
      n +
      ram.reduce((m, s) => {
        const lo = s.start > start ? s.start : start;
        const sEnd = s.start + BigInt(s.length);
        const hi = sEnd < end ? sEnd : end;
        return hi > lo ? m + Number(hi - lo) : m;
      }, 0)
    );
  }, 0);
  const unreadable = report.summary.unreadableBytes;
  return `${((Math.max(0, inRam - unreadable) / total) * 100).toFixed(3)}% of System RAM, ${report.ranges.length} ranges`;
}

async function readReport(image: string): Promise<Report> {
  return JSON.parse(await readFile(`${image}.report.json`, "utf8")) as Report;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The release and KASLR offset each side found in memory: both must name the same kernel at the same place. */
function kernelLine(report: Report): string {
  const k = report.kernel;
  if (!k) return "unknown: no kernel section in the report";
  const offset = k.kernelOffset.startsWith("unknown") ? "KASLR unknown" : `KASLR ${k.kernelOffset}`;
  return `${k.osrelease.startsWith("unknown") ? "release unknown" : k.osrelease}, ${offset}`;
}

function hypervisorVersion(report: Report): string {
  return (report.source.details?.hypervisor as { version?: string } | undefined)?.version ?? "?";
}
