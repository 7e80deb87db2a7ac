// The guest's write log: a QEMU TCG plugin (native/qemu-write-log.c) that records every guest-physical page the
// vCPUs store to between start and save. Two dumps can only show pages that differ between them; the log also
// shows a page changed and changed back meanwhile (a page table built and torn down), so validate can tell such a
// page from an imager's error. Built with gcc into the lab cache, keyed by the source's hash.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { embeddedText, inBinary } from "../core/embedded.js";
import { exists } from "../core/exists.js";
import { labPath } from "./cache.js";
import { exec, which } from "./exec.js";

/** The single executable carries it as a file asset (scripts/build-binary.mjs) under this path. */
export const SOURCE_IN_PACKAGE = "native/qemu-write-log.c";
const SOURCE = fileURLToPath(new URL(`../../../${SOURCE_IN_PACKAGE}`, import.meta.url));
const SOCKET = "write-log.sock";
const PAGE = 4096;
/**
 * The plugin reports QEMU's RAM offsets, which are guest-physical addresses only while all of RAM sits below the
 * PCI hole: on the pc machine, guests under 3.5 GiB.
 */
const MAX_MEMORY_MIB = 3584;

/**
 * The plugin's path for a guest of `memoryMiB`, built if needed; or why there is none (a guest too large, a QEMU
 * without plugin support, no compiler, no source, a failed build).
 */
export async function writeLogPlugin(
  qemu: string,
  memoryMiB: number,
): Promise<{ path: string } | { unavailable: string }> {
  if (memoryMiB > MAX_MEMORY_MIB) return { unavailable: `the guest has more than ${MAX_MEMORY_MIB} MiB` };
  const probe = await exec(
    qemu,
    ["-plugin", "/nonexistent/memimage-probe.so", "-M", "none", "-display", "none"],
    {
      allowFailure: true,
    },
  );
  if (/invalid option/.test(probe.stderr)) return { unavailable: `${qemu} was built without plugin support` };
  const source = inBinary()
    ? embeddedText(SOURCE_IN_PACKAGE)
    : await readFile(SOURCE, "utf8").catch(() => undefined);
  if (!source) return { unavailable: `its source ${SOURCE} is missing` };
  const gcc = await which("gcc");
  if (!gcc) return { unavailable: "no gcc to build the QEMU plugin" };
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 12);
  const path = labPath("plugin", `qemu-write-log-${hash}.so`);
  if (await exists(path)) return { path };
  const partial = `${path}.${process.pid}.tmp`;
  await mkdir(labPath("plugin"), { recursive: true });
  const copy = `${partial}.c`;
  await writeFile(copy, source);
  const built = await exec(
    gcc,
    ["-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-pthread", "-o", partial, copy],
    { allowFailure: true },
  );
  await rm(copy, { force: true });
  if (built.code !== 0) {
    await rm(partial, { force: true });
    return { unavailable: `gcc could not build the QEMU plugin: ${built.stderr.trim().split("\n").pop()}` };
  }
  await rename(partial, path);
  return { path };
}

/** The QEMU arguments that load the plugin for a guest of `memoryMiB`; {run} is the guest's run directory. */
export function writeLogArgs(plugin: string, memoryMiB: number): string[] {
  return ["-plugin", `${plugin},socket={run}/${SOCKET},pages=${(memoryMiB * 2 ** 20) / PAGE}`];
}

/** Talks to the plugin of a running guest. Send every command while the guest is paused. */
export class WriteLog {
  constructor(private readonly socketPath: string) {}

  static in(runDir: string): WriteLog {
    return new WriteLog(`${runDir}/${SOCKET}`);
  }

  /** Forgets what was recorded and records every store from now on. */
  async start(): Promise<void> {
    await this.command("start");
  }

  async stop(): Promise<void> {
    await this.command("stop");
  }

  /** The pages stored to since start, one byte per page frame (1: stored to), written at `path` and read back. */
  async save(path: string): Promise<{ written: Uint8Array; count: number }> {
    const reply = await this.command(`save ${path}`);
    const written = new Uint8Array(await readFile(path));
    await rm(path, { force: true });
    return { written, count: Number(reply.split(" ")[1]) };
  }

  private command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      let reply = "";
      socket.setEncoding("utf8");
      socket.on("data", (data: string) => {
        reply += data;
        if (!reply.endsWith("\n")) return;
        socket.end();
        const text = reply.trim();
        if (text.startsWith("ok")) resolve(text);
        else reject(new Error(`the write-log plugin refused "${line}": ${text}`));
      });
      socket.on("error", (error) => reject(new Error(`the write-log plugin: ${error.message}`)));
      socket.on("end", () => {
        if (!reply.endsWith("\n"))
          reject(new Error(`the write-log plugin closed without answering "${line}"`));
      });
      socket.write(`${line}\n`);
    });
  }
}
