// Swap: pages the kernel moved out of RAM are in no memory image. /proc/swaps lists the active swap areas
// ("Filename Type Size Used Priority", sizes in KiB, a path's spaces and tabs escaped as \040 and \011);
// /sys/block/zram* are compressed RAM disks, usually used as swap, whose pages live in RAM but compressed.
import { readdir, readFile } from "node:fs/promises";

export interface SwapArea {
  path: string;
  /** "partition" or "file". */
  type: string;
  sizeBytes: number;
  usedBytes: number;
  priority: number;
}

export interface ZramDevice {
  device: string;
  diskSizeBytes: number;
  /** Bytes of compressed data it holds in RAM (mm_stat's compr_data_size), when readable. */
  comprDataBytes: number | undefined;
  usedAsSwap: boolean;
}

export function parseSwaps(text: string): SwapArea[] {
  const areas: SwapArea[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const [path = "", type = "", size = "0", used = "0", priority = "0"] = fields;
    areas.push({
      path: path.replace(/\\0(\d\d)/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
      type,
      sizeBytes: Number(size) * 1024,
      usedBytes: Number(used) * 1024,
      priority: Number(priority),
    });
  }
  return areas;
}

/** Active swap areas, or a reason why they could not be listed. */
export async function activeSwaps(path = "/proc/swaps"): Promise<SwapArea[] | { unknown: string }> {
  try {
    return parseSwaps(await readFile(path, "latin1"));
  } catch (error) {
    return { unknown: `cannot read ${path}: ${(error as Error).message}` };
  }
}

export async function zramDevices(swaps: readonly SwapArea[]): Promise<ZramDevice[]> {
  const names = (await readdir("/sys/block").catch(() => [] as string[])).filter((n) => n.startsWith("zram"));
  const devices: ZramDevice[] = [];
  for (const device of names.sort()) {
    const disksize = await readFile(`/sys/block/${device}/disksize`, "latin1").catch(() => "0");
    const mmStat = await readFile(`/sys/block/${device}/mm_stat`, "latin1").catch(() => undefined);
    const compr = mmStat?.trim().split(/\s+/)[1];
    devices.push({
      device: `/dev/${device}`,
      diskSizeBytes: Number(disksize.trim()),
      comprDataBytes: compr === undefined ? undefined : Number(compr),
      usedAsSwap: swaps.some((s) => s.path === `/dev/${device}`),
    });
  }
  return devices;
}
