// The guest's physical memory layout as QEMU sees it: the flat view of the "memory" address space
// (HMP `info mtree -f`), keeping RAM and ROM and joining neighbours. This is the set of ranges that
// dump-guest-memory writes as PT_LOADs (device I/O such as the VGA window at 0xa0000 is left out).
import type { Span } from "../core/map.js";

export interface GuestRange extends Span {
  /** The memory regions QEMU names there: pc.ram, vga.vram, pc.bios... */
  names: string[];
}

const ENTRY = /^\s*([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, (ram|rom|romd|i\/o|nv-ram|ramd)\): ([^\s@]+)/;

export function parseFlatView(text: string): GuestRange[] {
  const ranges: GuestRange[] = [];
  let inMemory = false;
  for (const line of text.split("\n")) {
    if (/^FlatView #/.test(line)) inMemory = false;
    if (/^\s*AS "memory"/.test(line)) inMemory = true;
    if (!inMemory) continue;
    const m = ENTRY.exec(line);
    if (!m || (m[3] !== "ram" && m[3] !== "rom")) continue;
    const start = BigInt(`0x${m[1]}`);
    const length = Number(BigInt(`0x${m[2]}`) - start + 1n); // the view prints inclusive last addresses
    const name = m[4] as string;
    const last = ranges[ranges.length - 1];
    if (last && last.start + BigInt(last.length) === start) {
      last.length += length;
      if (!last.names.includes(name)) last.names.push(name);
    } else ranges.push({ start, length, names: [name] });
  }
  return ranges;
}
