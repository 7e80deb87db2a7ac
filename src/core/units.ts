const multipliers: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses "4096", "4K", "16M", "2GiB" into bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!match)
    throw new RangeError(`not a size: "${text}" (use a number with an optional K, M, G or T suffix)`);
  const unit = (match[2] ?? "").toLowerCase();
  const value = Number(match[1]) * (multipliers[unit] ?? 1);
  if (!Number.isSafeInteger(value)) throw new RangeError(`size too large: "${text}"`);
  return value;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
