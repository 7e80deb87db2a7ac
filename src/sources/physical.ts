// Chooses the physical memory source: /dev/crash, then /proc/kcore, then /dev/mem (AVML's order). The report
// says which one was used and why each one before it was not.
import { MemimageError } from "../core/errors.js";
import { openCrash } from "./crash.js";
import { inContainer, lockdownMode } from "./denial.js";
import { openDevmem } from "./devmem.js";
import { KcoreSource } from "./kcore.js";
import type { PhysicalFileSource } from "./physical-file.js";

export const physicalSourceNames = ["crash", "kcore", "devmem"] as const;
export type PhysicalSourceName = (typeof physicalSourceNames)[number];

export interface SourceAttempt {
  source: PhysicalSourceName;
  used: boolean;
  reason: string;
}

export interface PhysicalPaths {
  crash: string;
  kcore: string;
  devmem: string;
  iomem: string;
}

export const defaultPaths: PhysicalPaths = {
  crash: "/dev/crash",
  kcore: "/proc/kcore",
  devmem: "/dev/mem",
  iomem: "/proc/iomem",
};

function openOne(name: PhysicalSourceName, paths: PhysicalPaths): Promise<PhysicalFileSource> {
  switch (name) {
    case "crash":
      return openCrash(paths.crash, paths.iomem);
    case "kcore":
      return KcoreSource.open(paths.kcore, paths.iomem);
    case "devmem":
      return openDevmem(paths.devmem, paths.iomem);
  }
}

/**
 * Opens the named source, or with "auto" the first that works. The returned source's description carries the
 * attempts under details.selection. When none works, one error names every obstacle and the alternatives.
 */
export async function openPhysical(
  choice: PhysicalSourceName | "auto",
  paths: PhysicalPaths = defaultPaths,
): Promise<PhysicalFileSource> {
  const order = choice === "auto" ? physicalSourceNames : [choice];
  const attempts: SourceAttempt[] = [];
  for (const name of order) {
    try {
      const source = await openOne(name, paths);
      attempts.push({
        source: name,
        used: true,
        reason: choice === "auto" ? "first source that works" : "chosen with --source",
      });
      source.description.details = { ...source.description.details, selection: attempts };
      return source;
    } catch (error) {
      if (!(error instanceof MemimageError)) throw error;
      attempts.push({ source: name, used: false, reason: error.message });
    }
  }
  throw new MemimageError("source", await noSourceMessage(attempts));
}

async function noSourceMessage(attempts: SourceAttempt[]): Promise<string> {
  const lines = ["no physical memory source works here:"];
  for (const a of attempts) lines.push(`  ${a.source}: ${a.reason}`);
  const hints: string[] = [];
  if (process.getuid?.() !== 0) hints.push("run as root");
  const lockdown = await lockdownMode();
  if (lockdown && lockdown !== "none") hints.push(`kernel lockdown is "${lockdown}"`);
  if (await inContainer()) hints.push("this looks like a container: image the host, or the VM from outside");
  if (hints.length) lines.push(`  (${hints.join("; ")})`);
  lines.push(
    "alternatives: memimage process PID (one process's memory, no kernel device needed), " +
      "memimage vm --qmp SOCKET (a QEMU guest from the hypervisor)",
  );
  return lines.join("\n");
}
