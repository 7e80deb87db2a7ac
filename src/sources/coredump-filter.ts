// Which mappings a core keeps, decided as the kernel decides with /proc/PID/coredump_filter (see core(5)):
// one bit per kind of memory. gdb's gcore honours the same filter, so the default follows the process's own.
import { isFileBacked, type Mapping, mappingLength } from "./proc-maps.js";

export const FILTER_BITS = {
  "anon-private": 0,
  "anon-shared": 1,
  "file-private": 2,
  "file-shared": 3,
  "elf-headers": 4,
  "huge-private": 5,
  "huge-shared": 6,
} as const;
export type FilterName = keyof typeof FILTER_BITS;
export const FILTER_NAMES = Object.keys(FILTER_BITS) as FilterName[];

/** The kernel's default coredump_filter: anonymous private and shared, ELF headers, private huge pages. */
export const KERNEL_DEFAULT_FILTER = 0x33;

export type MappingClass = FilterName | "special" | "io" | "dont-dump";

export interface FilterDecision {
  class: MappingClass;
  /** "all" bytes, only the "first-page" (an ELF header), or "none". */
  dump: "all" | "first-page" | "none";
  /** Why a mapping is left out, for the report. */
  reason?: string;
}

/** Parses "0x33", "33" (hex, as in /proc/PID/coredump_filter), "all", or names joined by commas. */
export function parseFilter(text: string): number {
  const value = text.trim().toLowerCase();
  if (value === "all") return FILTER_NAMES.reduce((bits, name) => bits | (1 << FILTER_BITS[name]), 0);
  if (/^(0x)?[0-9a-f]+$/.test(value)) return Number.parseInt(value.replace(/^0x/, ""), 16);
  let bits = 0;
  for (const name of value.split(",").map((n) => n.trim())) {
    if (!(name in FILTER_BITS))
      throw new RangeError(
        `unknown mapping kind "${name}": use a hex mask as in /proc/PID/coredump_filter, "all", or some of ${FILTER_NAMES.join(", ")}`,
      );
    bits |= 1 << FILTER_BITS[name as FilterName];
  }
  return bits;
}

export function describeFilter(bits: number): FilterName[] {
  return FILTER_NAMES.filter((name) => bits & (1 << FILTER_BITS[name]));
}

/** Shared memory without a file name of its own: MAP_SHARED|MAP_ANONYMOUS, System V segments, memfd. */
function isAnonymousShared(m: Mapping): boolean {
  if (m.perms[3] !== "s") return false;
  if (m.inode === 0) return true;
  return /^\/(dev\/zero|SYSV[0-9a-f]+|memfd:)/.test(m.path) && m.path.endsWith("(deleted)");
}

/** Decides, as the kernel's vma_dump_size() does, what of one mapping goes into the core. */
export function classify(m: Mapping, bits: number, startsWithElfMagic: boolean): FilterDecision {
  const wants = (name: FilterName) => (bits & (1 << FILTER_BITS[name])) !== 0;
  const skip = (cls: MappingClass, reason: string): FilterDecision => ({ class: cls, dump: "none", reason });
  if (m.path === "[vdso]" || m.path === "[vsyscall]") return { class: "special", dump: "all" };
  if (m.vmFlags.includes("dd")) return skip("dont-dump", "marked MADV_DONTDUMP (VmFlags dd)");
  if (m.vmFlags.includes("io") || m.vmFlags.includes("pf") || m.path.startsWith("[vvar"))
    return skip("io", "I/O or PFN mapping: the kernel never dumps it and /proc/PID/mem cannot read it");
  const shared = m.perms[3] === "s";
  if (m.vmFlags.includes("ht")) {
    const cls: FilterName = shared ? "huge-shared" : "huge-private";
    return wants(cls) ? { class: cls, dump: "all" } : skip(cls, `${cls} not in the filter`);
  }
  if (isAnonymousShared(m))
    return wants("anon-shared")
      ? { class: "anon-shared", dump: "all" }
      : skip("anon-shared", "anon-shared not in the filter");
  if (!isFileBacked(m))
    return wants("anon-private")
      ? { class: "anon-private", dump: "all" }
      : skip("anon-private", "anon-private not in the filter");
  const cls: FilterName = shared ? "file-shared" : "file-private";
  // A private file mapping with pages copied on write holds data found nowhere else: the kernel (and gdb) dump
  // it as anonymous memory.
  if (!shared && (m.anonymousBytes ?? 0) > 0 && wants("anon-private")) return { class: cls, dump: "all" };
  if (wants(cls)) return { class: cls, dump: "all" };
  if (wants("elf-headers") && m.offset === 0n && startsWithElfMagic && mappingLength(m) > 0)
    return {
      class: cls,
      dump: "first-page",
      reason: `${cls} not in the filter; only the ELF header page is kept`,
    };
  return skip(cls, `${cls} not in the filter (the bytes are in ${m.path})`);
}
