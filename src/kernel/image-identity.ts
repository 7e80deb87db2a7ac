// Identifies the kernel in an image file (info, symbols): the VMCOREINFO note of an ELF vmcore when it has one,
// and otherwise the note and the Linux banner found by scanning the image's memory, block by block, until
// both are found (a large image without a kernel in it is read to its end).
import { UnreadableError } from "../core/errors.js";
import type { Region } from "../core/map.js";
import type { Note } from "../formats/elf.js";
import type { ImageSource } from "../formats/segments.js";
import { architectureOf, type KernelIdentity, START_KERNEL_MAP } from "./identity.js";
import { mappingsFromVmcoreinfo, type VirtualMapping } from "./mapping.js";
import { parseVmcoreinfo } from "./vmcoreinfo.js";
import { KernelWitness, vmcoreinfoNote } from "./witness.js";

const BLOCK = 2 << 20;

export async function identifyImage(source: ImageSource, map: readonly Region[]): Promise<KernelIdentity> {
  const { witness } = imageKernelContext(source);
  const buffer = Buffer.alloc(BLOCK);
  for (const region of map) {
    if (!region.readable) continue;
    for (let done = 0; done < region.length && !witness.scan.done; ) {
      const address = region.start + BigInt(done);
      const want = Math.min(BLOCK, region.length - done);
      const got = await readFully(source, address, buffer.subarray(0, want));
      if (got > 0) witness.observe(address, buffer.subarray(0, got));
      done += Math.max(got, Math.min(want, 4096));
    }
    if (witness.scan.done) break;
  }
  return witness.identity();
}

/** Reads what it can from `address`; stops at a hole the image does not store. */
async function readFully(source: ImageSource, address: bigint, into: Buffer): Promise<number> {
  let got = 0;
  try {
    while (got < into.length) {
      const n = await source.read(address + BigInt(got), into.subarray(got));
      if (n <= 0) break;
      got += n;
    }
  } catch (error) {
    if (!(error instanceof UnreadableError)) throw error;
  }
  return got;
}

/**
 * What a conversion of a physical image needs to keep it a vmcore and to identify its kernel: the input's
 * VMCOREINFO note and kernel virtual addresses (an ELF vmcore's), or, for other formats, what a scan finds.
 */
export function imageKernelContext(source: ImageSource): {
  witness: KernelWitness;
  notes: Note[];
  virtualMappings: VirtualMapping[];
} {
  const details = source.layout.details;
  const text = typeof details.vmcoreinfo === "string" ? details.vmcoreinfo.replace(/\0+$/, "") : undefined;
  const machine = typeof details.machine === "number" ? details.machine : undefined;
  const mappings = Array.isArray(details.kernelMappings)
    ? (details.kernelMappings as { physical: string; virtual: string; length: number }[]).map((m) => ({
        physical: BigInt(m.physical),
        virtual: BigInt(m.virtual),
        length: m.length,
        kind: BigInt(m.virtual) >= START_KERNEL_MAP ? ("kernel image" as const) : ("direct map" as const),
      }))
    : text
      ? mappingsFromVmcoreinfo(parseVmcoreinfo(text), architectureOf(parseVmcoreinfo(text), machine))
      : [];
  return {
    witness: new KernelWitness({
      ...(machine !== undefined ? { machine } : {}),
      ...(text
        ? {
            note: {
              text,
              bytes: 24 + Math.ceil(Buffer.byteLength(text, "latin1") / 4) * 4,
              from: "the image's ELF note",
            },
          }
        : { noNote: "the input image carries no VMCOREINFO note and none was found in its memory" }),
    }),
    notes: text ? [vmcoreinfoNote(text)] : [],
    virtualMappings: mappings,
  };
}
