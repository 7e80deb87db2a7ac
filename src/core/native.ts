// memimage's native addons (native/*.c, built by node-gyp on npm install into build/Release at the package root,
// three levels above this file in dist/src/core), and the npm packages whose module is a napi-rs binary. The
// single executable carries both inside itself (core/embedded.ts). Each addon is optional: without it memimage
// falls back to plain Node.
import { createRequire } from "node:module";
import { inBinary, loadEmbeddedNative } from "./embedded.js";
import { MemimageError } from "./errors.js";

export interface Loaded<T> {
  binding?: T;
  problem?: string;
}

const cache = new Map<string, Loaded<unknown>>();

function firstLine(error: unknown): string {
  return (error as Error).message.split("\n")[0] ?? String(error);
}

export function loadAddon<T>(name: string): Loaded<T> {
  const known = cache.get(name);
  if (known) return known as Loaded<T>;
  let loaded: Loaded<T>;
  if (process.platform !== "linux") loaded = { problem: "the native addons are built for Linux only" };
  else if (process.env.MEMIMAGE_NO_NATIVE)
    loaded = { problem: "native addons disabled by MEMIMAGE_NO_NATIVE" };
  else if (inBinary()) {
    try {
      loaded = { binding: loadEmbeddedNative(name) as T };
    } catch (error) {
      loaded = { problem: `the binary's native addon ${name} did not load: ${firstLine(error)}` };
    }
  } else {
    try {
      loaded = { binding: createRequire(import.meta.url)(`../../../build/Release/${name}.node`) as T };
    } catch (error) {
      loaded = {
        problem: `the native addon ${name} is not built (${firstLine(error)}); run npm install with python3, make and a C compiler present`,
      };
    }
  }
  cache.set(name, loaded);
  return loaded;
}

/**
 * An npm package that is a native module with no fallback (snappy, @node-rs/crc32 for AVML): from node_modules, or
 * the binary's copy. Where the binary cannot load it (every tmpfs mounted noexec), the format needing it cannot
 * be written or read here: exit 1, one line.
 */
export function requireNativePackage<T>(name: string): T {
  if (!inBinary()) return createRequire(import.meta.url)(name) as T;
  try {
    return loadEmbeddedNative(name) as T;
  } catch (error) {
    throw new MemimageError("output", `the binary's copy of ${name} did not load: ${firstLine(error)}`, {
      cause: error,
    });
  }
}
