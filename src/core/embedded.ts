// The single executable (npm run binary, scripts/build-binary.mjs) carries as SEA assets the files the package
// reads at run time: the native addons, the napi-rs codecs (snappy, CRC-32C) and the UCO/CASE ontology, with a
// manifest naming them. This module finds them; run from the package, it finds none and inBinary() is false.
//
// A native addon must be a file for dlopen. It is written into an unnamed file (O_TMPFILE) in a RAM-backed
// filesystem and loaded through /proc/self/fd: writing a temporary file to the suspect's disk would change the
// evidence (blocks, inode, journal), while an unnamed tmpfs file has no directory entry, costs only the addon's
// pages of RAM (loading it from any file puts those pages in memory too) and is gone when memimage exits.
// memfd_create would not need a tmpfs that allows exec, but Node has no call for it. Where no such directory takes
// it (all mounted noexec), the addon is reported as not loaded and the plain-Node fallback runs.
import { closeSync, constants, openSync, statfsSync, writeSync } from "node:fs";
import { createRequire } from "node:module";

export const MANIFEST_ASSET = "memimage/manifest.json";

/** What the build put in the binary: native modules by the name code loads them by, other files by path. */
export interface EmbeddedManifest {
  /** Name (an addon's target name or an npm package's) -> asset key of its .node file. */
  natives: Record<string, string>;
  /** Package-relative paths of embedded files; each is also its asset key. */
  files: string[];
}

interface SeaApi {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}

let sea: SeaApi | null | undefined;

function seaApi(): SeaApi | null {
  if (sea === undefined) {
    try {
      const api = createRequire(import.meta.url)("node:sea") as SeaApi;
      sea = api.isSea() ? api : null;
    } catch {
      sea = null; // Node before 20.12 has no node:sea; no memimage binary is built on one
    }
  }
  return sea;
}

/** True when running as the single executable. */
export function inBinary(): boolean {
  return seaApi() !== null;
}

let manifest: EmbeddedManifest | undefined;

function embeddedManifest(): EmbeddedManifest {
  const api = seaApi();
  if (!api) throw new Error("not running as the memimage binary");
  manifest ??= JSON.parse(Buffer.from(api.getAsset(MANIFEST_ASSET)).toString("utf8")) as EmbeddedManifest;
  return manifest;
}

/** Paths of the embedded files that start with `prefix`, sorted. */
export function embeddedFiles(prefix: string): string[] {
  return embeddedManifest()
    .files.filter((path) => path.startsWith(prefix))
    .sort();
}

export function embeddedText(path: string): string {
  const api = seaApi();
  if (!api || !embeddedManifest().files.includes(path)) throw new Error(`the binary carries no ${path}`);
  return Buffer.from(api.getAsset(path)).toString("utf8");
}

// statfs f_type of tmpfs and ramfs (linux/magic.h).
const RAM_BACKED_MAGIC = new Set([0x01021994, 0x858458f6]);
// O_TMPFILE is __O_TMPFILE | O_DIRECTORY on x86-64 and arm64 (asm-generic/fcntl.h); Node does not export it.
const O_TMPFILE = 0o20000000 | 0o200000;
// dlopen knows a loaded library by its path: were an fd closed and its number reused for the next addon, the
// same /proc/self/fd/N would hand back the first library. The fds stay open for the life of the process.
const heldOpen: number[] = [];

function ramBackedDirectories(): string[] {
  const uid = process.getuid?.() ?? 0;
  return ["/dev/shm", `/run/user/${uid}`, "/run", "/tmp"].filter((dir) => {
    try {
      return RAM_BACKED_MAGIC.has(statfsSync(dir).type);
    } catch {
      return false;
    }
  });
}

/** Loads an embedded native module (see the top of this file); throws saying why it could not. */
export function loadEmbeddedNative(name: string): unknown {
  const api = seaApi();
  const key = api ? embeddedManifest().natives[name] : undefined;
  if (!api || !key) throw new Error(`the binary carries no native module ${name}`);
  const bytes = new Uint8Array(api.getAsset(key));
  const failures: string[] = [];
  const directories = ramBackedDirectories();
  for (const directory of directories) {
    let fd: number;
    try {
      fd = openSync(directory, O_TMPFILE | constants.O_RDWR, 0o700);
    } catch (error) {
      failures.push(`${directory}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      continue;
    }
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
      const module = { exports: {} };
      process.dlopen(module, `/proc/self/fd/${fd}`);
      heldOpen.push(fd);
      return module.exports;
    } catch (error) {
      closeSync(fd);
      failures.push(`${directory}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(
    directories.length === 0
      ? "no RAM-backed directory (tmpfs) to load it from without writing to disk"
      : `no RAM-backed directory let it be loaded (${failures.join("; ")})`,
  );
}
