import { join } from "node:path";

/** Everything the lab downloads or builds lives here, so a second run starts in seconds. */
export function labCacheDir(): string {
  return process.env.MEMIMAGE_LAB_CACHE ?? "/var/cache/memimage-lab";
}

export function labPath(...parts: string[]): string {
  return join(labCacheDir(), ...parts);
}
