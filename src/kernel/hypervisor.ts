// The guest's kernel, for an acquisition from outside (memimage vm): QEMU's dump carries the guest's VMCOREINFO
// note when the guest has a vmcoreinfo device (-device vmcoreinfo); otherwise the note and the banner are looked
// for in the guest's memory as it streams, for the report only (the ELF header is written before that memory).
import { EM_AARCH64, EM_X86_64 } from "../formats/elf.js";
import type { StreamedElfHead } from "../sources/elf-stream.js";
import { mappingsFromVmcoreinfo, type VirtualMapping } from "./mapping.js";
import { parseVmcoreinfo, vmcoreinfoFromNotes } from "./vmcoreinfo.js";
import { KernelWitness } from "./witness.js";

export const NO_DEVICE =
  "QEMU's dump carries no VMCOREINFO note (give the guest -device vmcoreinfo to have it in the ELF header)";

export function vmKernel(head: StreamedElfHead | undefined): {
  witness: KernelWitness;
  virtualMappings: VirtualMapping[];
} {
  const architecture =
    head?.machine === EM_X86_64 ? "x86_64" : head?.machine === EM_AARCH64 ? "aarch64" : undefined;
  const machine = head ? { machine: head.machine } : {};
  const arch = architecture ? { architecture } : {};
  const text = head ? vmcoreinfoFromNotes(head.notes) : undefined;
  if (!text) {
    const noNote = head
      ? NO_DEVICE
      : "--live reads the guest's RAM with no dump header to carry a VMCOREINFO note";
    return { witness: new KernelWitness({ ...machine, ...arch, noNote }), virtualMappings: [] };
  }
  const descBytes = Buffer.byteLength(text, "latin1");
  return {
    witness: new KernelWitness({
      ...machine,
      ...arch,
      note: {
        text,
        bytes: 24 + Math.ceil(descBytes / 4) * 4,
        from: "QEMU's dump (the guest's vmcoreinfo device)",
      },
    }),
    virtualMappings: mappingsFromVmcoreinfo(parseVmcoreinfo(text), architecture),
  };
}
