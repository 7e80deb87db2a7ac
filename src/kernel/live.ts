// The running kernel's VMCOREINFO, for an acquisition from inside: /sys/kernel/vmcoreinfo gives the physical
// address and buffer size of the note, which is then read through the same physical source as the image.
import { readFile } from "node:fs/promises";
import { arch } from "node:os";
import { errnoCode } from "../core/errors.js";
import { hex } from "../core/map.js";
import type { Note } from "../formats/elf.js";
import type { KcoreSource } from "../sources/kcore.js";
import { readFully, type Source } from "../sources/source.js";
import { mappingsFromKcore, mappingsFromVmcoreinfo, type VirtualMapping } from "./mapping.js";
import { decodeMemoryNote, parseVmcoreinfo } from "./vmcoreinfo.js";
import { KernelWitness, type KnownNote, vmcoreinfoNote } from "./witness.js";

export const SYSFS_VMCOREINFO = "/sys/kernel/vmcoreinfo";

/** The note, or why it could not be had (the acquisition goes on without it). */
export async function readLiveVmcoreinfo(
  source: Source,
  sysfs = SYSFS_VMCOREINFO,
): Promise<{ note: KnownNote } | { why: string }> {
  let text: string;
  try {
    text = await readFile(sysfs, "utf8");
  } catch (error) {
    return { why: `${sysfs}: ${errnoCode(error) ?? String(error)} (kernel without CONFIG_CRASH_CORE?)` };
  }
  // "%pa %x": the address with 0x, the size in hex without.
  const match = /^(?:0x)?([0-9a-f]+)\s+([0-9a-f]+)$/i.exec(text.trim());
  if (!match) return { why: `${sysfs} does not read "ADDRESS SIZE": ${JSON.stringify(text.slice(0, 40))}` };
  const address = BigInt(`0x${match[1]}`);
  const size = Number.parseInt(match[2] as string, 16);
  if (size <= 0 || size > 1 << 20) return { why: `${sysfs} gives an implausible size ${size}` };
  const bytes = new Uint8Array(size);
  try {
    await readFully(source, address, bytes);
  } catch (error) {
    return { why: `the note at ${hex(address)} could not be read: ${(error as Error).message}` };
  }
  const note = decodeMemoryNote(bytes);
  if (!note) return { why: `no VMCOREINFO note at ${hex(address)}, where ${sysfs} says it is` };
  const noteBytes = 24 + Math.ceil(note.length / 4) * 4;
  return { note: { text: note, address, bytes: noteBytes, from: `${sysfs} (physical ${hex(address)})` } };
}

export interface PhysicalKernel {
  witness: KernelWitness;
  /** The VMCOREINFO note for an ELF image, when found. */
  notes: Note[];
  virtualMappings: VirtualMapping[];
}

/** What an acquisition from inside needs to identify the kernel and write an ELF image as a vmcore. */
export async function physicalKernel(source: Source, kcore?: KcoreSource): Promise<PhysicalKernel> {
  const live = await readLiveVmcoreinfo(source);
  const architecture = hostArchitecture();
  if (!("note" in live))
    return {
      witness: new KernelWitness({ architecture, noNote: live.why }),
      notes: [],
      virtualMappings: kcore ? mappingsFromKcore(kcore.physicalSegments()) : [],
    };
  const info = parseVmcoreinfo(live.note.text);
  return {
    witness: new KernelWitness({ note: live.note, architecture }),
    notes: [vmcoreinfoNote(live.note.text)],
    virtualMappings: kcore
      ? mappingsFromKcore(kcore.physicalSegments())
      : mappingsFromVmcoreinfo(info, architecture),
  };
}

function hostArchitecture(): string | undefined {
  return arch() === "x64" ? "x86_64" : arch() === "arm64" ? "aarch64" : undefined;
}
