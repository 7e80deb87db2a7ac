// Which kernel an image holds and where it sits in memory: what an analyst needs first (KASLR moves the kernel
// on every boot). Built from the VMCOREINFO note and the Linux banner; what neither gives is "unknown: why".

import { hex } from "../core/map.js";
import { EM_AARCH64, EM_X86_64 } from "../formats/elf.js";
import { bannerRelease } from "./banner.js";
import type { Utsname } from "./scan.js";
import { hexValue, numberValue, physBase, symbol, type Vmcoreinfo } from "./vmcoreinfo.js";

export type Unknown = `unknown: ${string}`;

export interface DebugSymbols {
  distribution: string;
  /** The package that holds the debug vmlinux for this build. */
  package: string;
  /** The package version to ask for, when the banner names it. */
  version?: string;
}

export interface KernelIdentity {
  /** "Linux version ..." as found in the image. */
  banner: string | Unknown;
  /** Physical address of the banner taken (the copy in kernel rodata when the kernel image is known). */
  bannerAddress?: string;
  osrelease: string | Unknown;
  buildId: string | Unknown;
  /** KASLR: how far the kernel was moved from its link address (VMCOREINFO KERNELOFFSET). */
  kernelOffset: string | Unknown;
  /** x86-64 NUMBER(phys_base), signed: physical address of the kernel image mapping's start (__START_KERNEL_map). */
  physBase?: string;
  /** The kernel's own uname (init_uts_ns), read from the image: what /proc/version and uname -a print. */
  utsname?: Utsname;
  pageTableRoot: { symbol: string; virtual: string; physical?: string } | Unknown;
  architecture: string | Unknown;
  debugSymbols: DebugSymbols | Unknown;
  /** Where the VMCOREINFO note came from. */
  vmcoreinfo: { from: string; address?: string; bytes: number } | Unknown;
}

export interface IdentityInput {
  vmcoreinfo?: { text: Vmcoreinfo; from: string; address?: bigint | undefined; bytes: number };
  banner?: { text: string; address: bigint };
  utsname?: Utsname;
  /** ELF e_machine of the image or of the hypervisor's dump, when known. */
  machine?: number;
  /** Why no note was found, when none was. */
  noVmcoreinfo?: string;
}

/** x86-64's __START_KERNEL_map: the kernel image mapping's virtual base. */
export const START_KERNEL_MAP = 0xffff_ffff_8000_0000n;

export function kernelIdentity(input: IdentityInput): KernelIdentity {
  const info = input.vmcoreinfo?.text;
  const why = input.noVmcoreinfo ?? "no VMCOREINFO note found in the image";
  const banner = input.banner?.text;
  const osrelease = info?.get("OSRELEASE") ?? (banner ? bannerRelease(banner) : undefined);
  const architecture = input.utsname?.machine ?? architectureOf(info, input.machine, osrelease);
  const offset = info ? hexValue(info.get("KERNELOFFSET")) : undefined;
  const base = info ? numberValue(info, "phys_base") : undefined;
  return {
    banner: banner ?? "unknown: no Linux banner found in the image",
    ...(input.banner ? { bannerAddress: hex(input.banner.address) } : {}),
    osrelease: osrelease ?? `unknown: ${why}, and no banner`,
    buildId: info?.get("BUILD-ID") ?? `unknown: ${why}`,
    kernelOffset:
      offset !== undefined ? hex(offset) : `unknown: ${info ? "the note has no KERNELOFFSET" : why}`,
    ...(base !== undefined ? { physBase: base < 0n ? `-${hex(-base)}` : hex(base) } : {}),
    ...(input.utsname ? { utsname: input.utsname } : {}),
    pageTableRoot: info ? pageTableRoot(info, architecture) : `unknown: ${why}`,
    architecture: architecture ?? "unknown: neither the note, the image nor the release says",
    debugSymbols: debugSymbols(banner, osrelease),
    vmcoreinfo: input.vmcoreinfo
      ? {
          from: input.vmcoreinfo.from,
          ...(input.vmcoreinfo.address !== undefined ? { address: hex(input.vmcoreinfo.address) } : {}),
          bytes: input.vmcoreinfo.bytes,
        }
      : `unknown: ${why}`,
  };
}

export function architectureOf(
  info: Vmcoreinfo | undefined,
  machine?: number,
  release?: string,
): string | undefined {
  if (info?.has("SYMBOL(init_top_pgt)") || info?.has("NUMBER(pgtable_l5_enabled)")) return "x86_64";
  if (info?.has("NUMBER(kimage_voffset)")) return "aarch64";
  if (machine === EM_X86_64) return "x86_64";
  if (machine === EM_AARCH64) return "aarch64";
  if (release?.endsWith("-amd64") || release?.endsWith(".x86_64")) return "x86_64";
  if (release?.endsWith("-arm64") || release?.endsWith(".aarch64")) return "aarch64";
  return undefined;
}

/** The top-level page table of the kernel (what Volatility calls the DTB), virtual and physical. */
function pageTableRoot(info: Vmcoreinfo, architecture: string | undefined): KernelIdentity["pageTableRoot"] {
  const name = info.has("SYMBOL(init_top_pgt)") ? "init_top_pgt" : "swapper_pg_dir";
  const virtual = symbol(info, name);
  if (virtual === undefined) return "unknown: the note names neither init_top_pgt nor swapper_pg_dir";
  const physical = kernelImagePhysical(info, architecture, virtual);
  return {
    symbol: name,
    virtual: hex(virtual),
    ...(physical !== undefined ? { physical: hex(physical) } : {}),
  };
}

/** The physical address of a kernel-image virtual address, from the note alone. */
export function kernelImagePhysical(
  info: Vmcoreinfo,
  architecture: string | undefined,
  virtual: bigint,
): bigint | undefined {
  if (architecture === "x86_64") {
    const base = physBase(info);
    return base === undefined ? undefined : BigInt.asUintN(64, virtual - START_KERNEL_MAP + base);
  }
  if (architecture === "aarch64") {
    const voffset = numberValue(info, "kimage_voffset");
    return voffset === undefined ? undefined : BigInt.asUintN(64, virtual - BigInt.asUintN(64, voffset));
  }
  return undefined;
}

/** Where a distribution ships the debug vmlinux of this kernel, inferred from the banner and release. */
export function debugSymbols(
  banner: string | undefined,
  release: string | undefined,
): DebugSymbols | Unknown {
  if (!release) return "unknown: the kernel release is unknown";
  const text = banner ?? "";
  // The package version follows "Debian" in the uname version part (after "#N"); the compiler's comes before.
  const debian = /#\d*.*\bDebian (\S+)/.exec(text);
  if (debian || text.includes("debian-kernel@lists.debian.org"))
    return {
      distribution: "Debian",
      package: `linux-image-${release}-dbg`,
      ...(debian?.[1] ? { version: debian[1] } : {}),
    };
  if (/\bUbuntu\b/.test(text))
    return { distribution: "Ubuntu", package: `linux-image-unsigned-${release}-dbgsym` };
  const redHat = /\.(fc|el)(\d+)/.exec(release);
  if (redHat)
    return {
      distribution: redHat[1] === "fc" ? "Fedora" : "Red Hat Enterprise Linux or a rebuild",
      package: `kernel-debuginfo-${release}`,
    };
  return banner
    ? "unknown: the banner names no distribution memimage knows"
    : "unknown: no banner to tell the distribution";
}
