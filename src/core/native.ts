// memimage's native addons (native/*.c, built by node-gyp on npm install into build/Release at the package root,
// three levels above this file in dist/src/core). Each is optional: without it memimage falls back to plain Node.
import { createRequire } from "node:module";

export interface Loaded<T> {
  binding?: T;
  problem?: string;
}

const cache = new Map<string, Loaded<unknown>>();

export function loadAddon<T>(name: string): Loaded<T> {
  const known = cache.get(name);
  if (known) return known as Loaded<T>;
  let loaded: Loaded<T>;
  if (process.platform !== "linux") loaded = { problem: "the native addons are built for Linux only" };
  else if (process.env.MEMIMAGE_NO_NATIVE)
    loaded = { problem: "native addons disabled by MEMIMAGE_NO_NATIVE" };
  else {
    try {
      loaded = { binding: createRequire(import.meta.url)(`../../../build/Release/${name}.node`) as T };
    } catch (error) {
      const first = (error as Error).message.split("\n")[0];
      loaded = {
        problem: `the native addon ${name} is not built (${first}); run npm install with python3, make and a C compiler present`,
      };
    }
  }
  cache.set(name, loaded);
  return loaded;
}
