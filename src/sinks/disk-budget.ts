// --max-disk-usage: the most the output's filesystem may have in use, in bytes or as a percentage of its size.
// The suspect's own disk is evidence: an image written to it must stop before it fills it past the budget.
import { statfs } from "node:fs/promises";
import { MemimageError } from "../core/errors.js";
import { parseSize } from "../core/units.js";

export type DiskBudgetLimit = { bytes: number } | { percent: number };

/** Parses "200G", "1073741824" or "90%". */
export function parseDiskBudget(text: string): DiskBudgetLimit {
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text.trim());
  if (percent) {
    const value = Number(percent[1]);
    if (value <= 0 || value > 100)
      throw new MemimageError(
        "usage",
        `--max-disk-usage ${text}: a percentage must be above 0 and at most 100`,
      );
    return { percent: value };
  }
  try {
    return { bytes: parseSize(text) };
  } catch (error) {
    throw new MemimageError(
      "usage",
      `--max-disk-usage ${text}: ${(error as Error).message}, or a percentage such as 90%`,
    );
  }
}

export interface DiskUsage {
  used: number;
  total: number;
  limit: number;
}

/** Checks, before each write, that the filesystem holding `directory` stays within the budget. */
export class DiskBudget {
  constructor(
    private readonly directory: string,
    private readonly limit: DiskBudgetLimit,
    readonly text: string,
  ) {}

  async usage(): Promise<DiskUsage> {
    const fs = await statfs(this.directory);
    const total = fs.blocks * fs.bsize;
    const used = (fs.blocks - fs.bfree) * fs.bsize;
    const limit = "bytes" in this.limit ? this.limit.bytes : Math.floor((total * this.limit.percent) / 100);
    return { used, total, limit };
  }

  /** Undefined if `bytes` more fit; else the usage that forbids them. */
  async refuses(bytes: number): Promise<DiskUsage | undefined> {
    const usage = await this.usage();
    return usage.used + bytes > usage.limit ? usage : undefined;
  }
}
