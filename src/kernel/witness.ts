// Identifies the kernel of a physical or VM acquisition for its report: the VMCOREINFO note known before the
// read (through sysfs inside, or in the hypervisor's dump), plus what the KernelScan finds as the blocks pass.
import type { Note } from "../formats/elf.js";
import { type KernelIdentity, kernelIdentity } from "./identity.js";
import { KernelScan } from "./scan.js";
import { parseVmcoreinfo, VMCOREINFO_NOTE_NAME } from "./vmcoreinfo.js";

export interface KnownNote {
  text: string;
  /** Physical address of the note, when known. */
  address?: bigint;
  bytes: number;
  /** How it was found: "/sys/kernel/vmcoreinfo", "QEMU's dump (vmcoreinfo device)". */
  from: string;
}

export class KernelWitness {
  readonly scan: KernelScan;

  constructor(
    private readonly known: { note?: KnownNote; machine?: number; architecture?: string; noNote?: string },
  ) {
    this.scan = new KernelScan(known.note?.text, known.architecture);
  }

  observe(address: bigint, data: Uint8Array): void {
    this.scan.observe(address, data);
  }

  identity(): KernelIdentity {
    const { note: scanned, banner, utsname } = this.scan.result();
    const note: KnownNote | undefined =
      this.known.note ??
      (scanned ? { ...scanned, from: "found by scanning the image's memory for the note" } : undefined);
    return kernelIdentity({
      ...(note
        ? {
            vmcoreinfo: {
              text: parseVmcoreinfo(note.text),
              from: note.from,
              ...(note.address !== undefined ? { address: note.address } : {}),
              bytes: note.bytes,
            },
          }
        : {}),
      ...(banner ? { banner: { text: banner.text, address: banner.address } } : {}),
      ...(utsname ? { utsname } : {}),
      ...(this.known.machine !== undefined ? { machine: this.known.machine } : {}),
      ...(this.known.noNote ? { noVmcoreinfo: this.known.noNote } : {}),
    });
  }
}

/** The note as an ELF core carries it (name VMCOREINFO, type 0, the text). */
export function vmcoreinfoNote(text: string): Note {
  return { name: VMCOREINFO_NOTE_NAME, type: 0, desc: Buffer.from(text, "latin1") };
}
