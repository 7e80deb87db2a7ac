// The kernel virtual addresses an ELF vmcore gives its PT_LOADs (p_vaddr), so that crash and drgn can read the
// kernel's page tables and symbols without page tables to find them. From /proc/kcore's own program headers when
// acquiring from inside; from VMCOREINFO otherwise (the kernel image mapping only: the note does not say where
// the direct map starts).
import type { KcoreSegment } from "../sources/kcore.js";
import { kernelImagePhysical, START_KERNEL_MAP } from "./identity.js";
import { numberValue, physBase, symbol, type Vmcoreinfo } from "./vmcoreinfo.js";

export interface VirtualMapping {
  physical: bigint;
  virtual: bigint;
  length: number;
  kind: "kernel image" | "direct map";
}

const TWO_MIB = 0x20_0000n;

/** kcore's text segment first (it takes precedence where it overlaps RAM), then the direct map of RAM. */
export function mappingsFromKcore(segments: readonly KcoreSegment[]): VirtualMapping[] {
  const text = segments.filter((s) => s.vaddr >= START_KERNEL_MAP);
  const direct = segments.filter((s) => s.vaddr < START_KERNEL_MAP);
  return [
    ...text.map((s) => ({
      physical: s.paddr,
      virtual: s.vaddr,
      length: s.length,
      kind: "kernel image" as const,
    })),
    ...direct.map((s) => ({
      physical: s.paddr,
      virtual: s.vaddr,
      length: s.length,
      kind: "direct map" as const,
    })),
  ];
}

/**
 * x86-64: the kernel image mapping (virtual = physical + __START_KERNEL_map - phys_base) from the 2 MiB boundary
 * below _stext to the 2 MiB boundary above the highest kernel-image symbol the note names (init_top_pgt and the
 * kernel's data among them). The note does not give _end; what lies beyond is reached through the page tables.
 */
export function mappingsFromVmcoreinfo(info: Vmcoreinfo, architecture: string | undefined): VirtualMapping[] {
  if (architecture !== "x86_64") return [];
  const base = physBase(info);
  const stext = symbol(info, "_stext");
  if (base === undefined || stext === undefined) return [];
  const imageSize = numberValue(info, "KERNEL_IMAGE_SIZE") ?? 0x4000_0000n;
  const imageEnd = START_KERNEL_MAP + imageSize;
  let highest = stext;
  for (const key of info.keys()) {
    if (!key.startsWith("SYMBOL(")) continue;
    const address = symbol(info, key.slice(7, -1));
    if (address !== undefined && address >= stext && address < imageEnd && address > highest)
      highest = address;
  }
  const start = stext - (stext % TWO_MIB);
  const end = highest + 1n + ((TWO_MIB - ((highest + 1n) % TWO_MIB)) % TWO_MIB);
  const physical = kernelImagePhysical(info, architecture, start);
  if (physical === undefined) return [];
  return [{ physical, virtual: start, length: Number(end - start), kind: "kernel image" }];
}

export interface VirtualPiece {
  start: bigint;
  length: number;
  /** The kernel virtual address of `start`, or 0 where no mapping is known (as QEMU writes it). */
  vaddr: bigint;
}

/**
 * Cuts the physical range [start, start+length) where the mappings begin and end, and gives each piece the
 * virtual address of the first mapping that covers it (the order of `mappings` is their precedence).
 */
export function virtualPieces(
  start: bigint,
  length: number,
  mappings: readonly VirtualMapping[],
): VirtualPiece[] {
  const end = start + BigInt(length);
  const cuts = new Set<bigint>([start, end]);
  for (const m of mappings) {
    const mEnd = m.physical + BigInt(m.length);
    if (m.physical > start && m.physical < end) cuts.add(m.physical);
    if (mEnd > start && mEnd < end) cuts.add(mEnd);
  }
  const points = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const pieces: VirtualPiece[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const from = points[i] as bigint;
    const to = points[i + 1] as bigint;
    const m = mappings.find((x) => from >= x.physical && from < x.physical + BigInt(x.length));
    const vaddr = m ? m.virtual + (from - m.physical) : 0n;
    const previous = pieces[pieces.length - 1];
    // Neighbours that continue one another (or both unmapped) stay one program header.
    if (
      previous &&
      ((previous.vaddr === 0n && vaddr === 0n) ||
        (previous.vaddr !== 0n && previous.vaddr + BigInt(previous.length) === vaddr))
    )
      previous.length += Number(to - from);
    else pieces.push({ start: from, length: Number(to - from), vaddr });
  }
  return pieces;
}
