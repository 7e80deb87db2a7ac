// VMCOREINFO: the note the kernel publishes for crash dump tools (ELF note name "VMCOREINFO", type 0), text lines
// KEY=VALUE such as OSRELEASE=, BUILD-ID=, SYMBOL(_stext)=, NUMBER(phys_base)=, KERNELOFFSET=. In memory it is a
// whole ELF note (header, name, text); /sys/kernel/vmcoreinfo gives its physical address and buffer size.
import { decodeNotes } from "../formats/elf.js";

export const VMCOREINFO_NOTE_NAME = "VMCOREINFO";

export type Vmcoreinfo = ReadonlyMap<string, string>;

/** The KEY=VALUE lines; the last value wins, as in the kernel's own readers. */
export function parseVmcoreinfo(text: string): Vmcoreinfo {
  const entries = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) entries.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return entries;
}

/** SYMBOL(...) values and KERNELOFFSET are hex without 0x; NUMBER(...) values are signed decimal. */
export function symbol(info: Vmcoreinfo, name: string): bigint | undefined {
  return hexValue(info.get(`SYMBOL(${name})`));
}

export function numberValue(info: Vmcoreinfo, name: string): bigint | undefined {
  const text = info.get(`NUMBER(${name})`);
  return text !== undefined && /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

export function hexValue(text: string | undefined): bigint | undefined {
  return text !== undefined && /^[0-9a-fA-F]+$/.test(text) ? BigInt(`0x${text}`) : undefined;
}

/** NUMBER(phys_base) is printed as a signed long: a negative one is the two's complement of a 64-bit value. */
export function physBase(info: Vmcoreinfo): bigint | undefined {
  const value = numberValue(info, "phys_base");
  return value === undefined ? undefined : BigInt.asUintN(64, value);
}

/** The text of the first VMCOREINFO note among ELF notes, if any. */
export function vmcoreinfoFromNotes(
  notes: readonly { name: string; desc: Uint8Array }[],
): string | undefined {
  const note = notes.find((n) => n.name === VMCOREINFO_NOTE_NAME);
  return note ? Buffer.from(note.desc).toString("latin1").replace(/\0+$/, "") : undefined;
}

/** Decodes the note the kernel keeps in memory (read at the address /sys/kernel/vmcoreinfo gives). */
export function decodeMemoryNote(bytes: Uint8Array): string | undefined {
  const text = vmcoreinfoFromNotes(decodeNotes(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)));
  return text && looksLikeVmcoreinfo(text) ? text : undefined;
}

export function looksLikeVmcoreinfo(text: string): boolean {
  return text.startsWith("OSRELEASE=") && text.includes("\n");
}

const NAME_BYTES = Buffer.from(`${VMCOREINFO_NOTE_NAME}\0`, "latin1");
const MAX_TEXT = 64 << 10;

/**
 * Finds a whole VMCOREINFO note in a buffer: its 12-byte header (namesz 11, type 0), the name, then text that
 * starts with OSRELEASE=. Returns the note's offset and text, or undefined. `from` is where to start looking.
 */
export function findMemoryNote(bytes: Buffer, from = 0): { offset: number; text: string } | undefined {
  for (let at = bytes.indexOf(NAME_BYTES, from + 12); at >= 0; at = bytes.indexOf(NAME_BYTES, at + 1)) {
    const header = at - 12;
    if (bytes.readUInt32LE(header) !== NAME_BYTES.length || bytes.readUInt32LE(header + 8) !== 0) continue;
    const size = bytes.readUInt32LE(header + 4);
    const descAt = at + 12; // 11 name bytes padded to 12
    if (size < 10 || size > MAX_TEXT || descAt + size > bytes.length) continue;
    const text = bytes.toString("latin1", descAt, descAt + size).replace(/\0+$/, "");
    if (looksLikeVmcoreinfo(text)) return { offset: header, text };
  }
  return undefined;
}
