import { readFileSync } from "node:fs";

/** What `memimage --version` states: the package version, the git commit it was built from, and when. */
export interface BuildInfo {
  version: string;
  /** Full git commit, or "unknown" where no build step wrote it down. */
  commit: string;
  /** ISO 8601 time of the build, or "unknown". */
  date: string;
}

// Set by the single-executable build (scripts/build-binary.mjs, esbuild `define`); absent in the package.
declare const MEMIMAGE_BUILD: BuildInfo | undefined;

/** The package's files beside dist/src/core: package.json (version) and dist/build-info.json (written by
 * `npm pack` through the prepack script). Either may be missing; then that field is "unknown", never guessed. */
function fromPackage(): BuildInfo {
  const read = (relative: string): Record<string, unknown> => {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  const pkg = read("../../../package.json");
  const built = read("../../build-info.json");
  const text = (value: unknown): string => (typeof value === "string" && value ? value : "unknown");
  return { version: text(pkg.version), commit: text(built.commit), date: text(built.date) };
}

export const BUILD: BuildInfo = typeof MEMIMAGE_BUILD === "undefined" ? fromPackage() : MEMIMAGE_BUILD;

/** The package's version. */
export const VERSION: string = BUILD.version;

/** The lines `memimage --version` prints. */
export function versionText(build: BuildInfo = BUILD): string {
  return `memimage ${build.version}\ncommit ${build.commit}\nbuilt ${build.date}`;
}
