// Real processes to acquire: test/fixtures/process/target.c, built with gcc, started and waited for.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("../../../test/fixtures/process/target.c", import.meta.url));

/** Where target.c puts its bytes, and what they are: word i of the fill is PATTERN ^ i. */
export const PATTERN_AT = 0x10000000000n;
export const FILE_AT = 0x20000000000n;
export const COW_AT = 0x30000000000n;
export const PATTERN = 0x4d454d494d414745n;

export function patternBytes(mib: number): Buffer {
  const b = Buffer.alloc(mib << 20);
  for (let i = 0; i < b.length / 8; i++) b.writeBigUInt64LE(PATTERN ^ BigInt(i), i * 8);
  return b;
}

/** Compiles the target into `dir`; returns the binary's path. */
export function buildTarget(dir: string): string {
  const binary = join(dir, "target");
  const gcc = spawnSync("gcc", ["-O2", "-g", "-pthread", "-o", binary, SOURCE], { encoding: "utf8" });
  if (gcc.status !== 0) throw new Error(`gcc failed: ${gcc.stderr}`);
  return binary;
}

export interface RunningTarget {
  child: ChildProcess;
  pid: number;
  mappedFile: string;
  stop(): void;
}

/** Starts the target with `mib` MiB of pattern and a mapped file, and waits until it says it is ready. */
export async function startTarget(binary: string, dir: string, mib: number): Promise<RunningTarget> {
  const mappedFile = join(dir, `mapped-${Date.now()}-${Math.random().toString(16).slice(2)}.bin`);
  writeFileSync(mappedFile, Buffer.alloc(4096));
  const child = spawn(binary, [String(mib), mappedFile], { stdio: ["ignore", "pipe", "inherit"] });
  const pid = await new Promise<number>((resolve, reject) => {
    let text = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const m = /ready (\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`target exited (${code}) before it was ready`)));
  });
  return {
    child,
    pid,
    mappedFile,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Runs gdb on a core alone ("gdb -batch -c CORE"), with the given commands. */
export function gdb(core: string, commands: string[]): { status: number | null; output: string } {
  const run = spawnSync("gdb", ["-batch", "-nx", "-c", core, ...commands.flatMap((c) => ["-ex", c])], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** The state letter of a process or thread from /proc. */
export function procState(pid: number, tid = pid): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

export function tracerPid(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  return Number(/^TracerPid:\s*(\d+)/m.exec(status)?.[1] ?? -1);
}
