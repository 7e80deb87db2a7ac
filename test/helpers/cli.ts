import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI, run as a user runs it. */
export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** The memimage under test: the single executable named by MEMIMAGE_BIN (test/integration/binary.test.ts runs
 * the CLI suites against it), else node running the built CLI. */
export function cliCommand(args: readonly string[]): [command: string, args: string[]] {
  const binary = process.env.MEMIMAGE_BIN;
  return binary ? [binary, [...args]] : [process.execPath, [CLI, ...args]];
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function memimage(
  args: string[],
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const result = spawnSync(...cliCommand(args), {
    cwd: options.cwd,
    input: options.input,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A fresh directory for one test, removed afterwards by the returned cleanup. */
export function scratchDir(prefix = "memimage-test-"): {
  dir: string;
  cleanup: () => void;
  path: (name: string) => string;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    path: (name) => join(dir, name),
  };
}
