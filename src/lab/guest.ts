// The disposable guest: Debian's kernel under QEMU TCG (no KVM, no network), the host's root shared read-only
// over 9p and one run directory shared writable at the same path, a QMP socket for the host's view of its RAM.
// Commands run in the guest through a tiny agent that polls the run directory. Every QEMU started here is
// killed on shutdown(), on process exit and on SIGINT/SIGTERM; the guest also powers itself off after its lifetime.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { exists } from "../core/exists.js";
import { QmpClient } from "../sources/qmp-client.js";
import { labPath } from "./cache.js";
import { type Lab, provisionLab } from "./provision.js";

export interface GuestOptions {
  memoryMiB?: number;
  /** Virtual CPUs (multi-threaded TCG spreads them over host cores). */
  cpus?: number;
  /** QEMU CPU model; "max" lets TCG offer the SIMD instructions it emulates, as real hardware would have. */
  cpuModel?: string;
  /** The guest powers itself off after this many seconds whatever happens. */
  lifetimeSeconds?: number;
  bootTimeoutMs?: number;
  /** Keep the run directory after shutdown (for debugging). */
  keep?: boolean;
  /** More QEMU arguments, e.g. a TCG plugin; {run} stands for the run directory. */
  qemuArgs?: string[];
  lab?: Lab;
}

export interface GuestResult {
  code: number;
  stdout: string;
  stderr: string;
}

const AGENT = `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/dev/shm TMPDIR=/dev/shm
out=$1
cd "$out/cmd" || exit 1
echo ready > "$out/ready"
n=0
while [ ! -f "$out/stop" ]; do
  if [ -f "$n.sh" ]; then
    sh "$n.sh" > "$n.out" 2> "$n.err"
    echo $? > "$n.rc.tmp" && mv "$n.rc.tmp" "$n.rc"
    n=$((n+1))
  else
    sleep 0.1
  fi
done
`;

/** The QMP socket left free for other clients, in the run directory. */
export const EXTERNAL_QMP = "vm-qmp.sock";

const live = new Set<ChildProcess>();
let hooked = false;
function killAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill("SIGKILL");
      process.exit(code);
    });
  }
}

export class Guest {
  private next = 0;
  private exited: Promise<number | null>;

  private constructor(
    readonly lab: Lab,
    /** Shared writable with the guest, at the same path on both sides. */
    readonly runDir: string,
    private readonly child: ChildProcess,
    readonly qmp: QmpClient,
    private readonly keep: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once("exit", (code) => resolve(code));
    });
  }

  static async boot(options: GuestOptions = {}): Promise<Guest> {
    const lab = options.lab ?? (await provisionLab());
    const runDir = labPath("runs", `${Date.now()}-${process.pid}`);
    await mkdir(join(runDir, "cmd"), { recursive: true });
    await writeFile(join(runDir, "agent.sh"), AGENT);
    const socket = join(runDir, "qmp.sock");
    const append = [
      "console=ttyS0",
      "panic=-1",
      "quiet",
      `memimage.out=${runDir}`,
      `memimage.lifetime=${options.lifetimeSeconds ?? 1500}`,
    ].join(" ");
    const fsdev = (id: string, path: string, extra: string) => [
      "-fsdev",
      `local,id=${id},path=${path},security_model=none,multidevs=remap${extra}`,
    ];
    const args = [
      "-accel",
      "tcg",
      "-m",
      String(options.memoryMiB ?? 512),
      "-smp",
      String(options.cpus ?? 2),
      "-cpu",
      options.cpuModel ?? "max",
      "-display",
      "none",
      "-monitor",
      "none",
      "-no-reboot",
      "-nic",
      "none",
      "-serial",
      `file:${join(runDir, "console.log")}`,
      "-kernel",
      lab.kernel.vmlinuz,
      "-initrd",
      lab.initrd,
      "-append",
      append,
      // The guest kernel tells this device where its VMCOREINFO note is, so QEMU's dump carries the note.
      "-device",
      "vmcoreinfo",
      "-qmp",
      `unix:${socket},server=on,wait=off`,
      // A second QMP socket for other clients (memimage vm): QEMU serves one client per socket.
      "-qmp",
      `unix:${join(runDir, EXTERNAL_QMP)},server=on,wait=off`,
      ...fsdev("host", "/", ",readonly=on"),
      "-device",
      "virtio-9p-pci,fsdev=host,mount_tag=host",
      ...fsdev("out", runDir, ""),
      "-device",
      "virtio-9p-pci,fsdev=out,mount_tag=out",
      ...(options.qemuArgs ?? []).map((arg) => arg.replaceAll("{run}", runDir)),
    ];
    killAllOnExit();
    const child = spawn(lab.qemu, args, { stdio: ["ignore", "ignore", "pipe"] });
    live.add(child);
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("exit", () => live.delete(child));
    const deadline = Date.now() + (options.bootTimeoutMs ?? 180_000);
    try {
      while (!(await exists(join(runDir, "ready")))) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`QEMU exited during boot: ${stderr.trim()}\n${await consoleTail(runDir)}`);
        if (Date.now() > deadline)
          throw new Error(`the guest did not boot in time\n${await consoleTail(runDir)}`);
        await sleep(200);
      }
      const qmp = await QmpClient.connect(socket);
      return new Guest(lab, runDir, child, qmp, options.keep ?? false);
    } catch (error) {
      child.kill("SIGKILL");
      if (!options.keep) await rm(runDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Runs a shell script in the guest (as root, in the host's root) and returns what it printed. */
  async run(script: string, timeoutMs = 600_000): Promise<GuestResult> {
    const n = this.next++;
    const base = join(this.runDir, "cmd", String(n));
    await writeFile(`${base}.sh.tmp`, script);
    await rename(`${base}.sh.tmp`, `${base}.sh`);
    const deadline = Date.now() + timeoutMs;
    while (!(await exists(`${base}.rc`))) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`the guest stopped while running: ${script}\n${await consoleTail(this.runDir)}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms in the guest: ${script}`);
      await sleep(100);
    }
    const [rc, stdout, stderr] = await Promise.all(
      [".rc", ".out", ".err"].map((suffix) => readFile(`${base}${suffix}`, "utf8")),
    );
    return { code: Number(rc?.trim()), stdout: stdout ?? "", stderr: stderr ?? "" };
  }

  /** Like run(), but throws when the script fails. */
  async check(script: string, timeoutMs?: number): Promise<string> {
    const r = await this.run(script, timeoutMs);
    if (r.code !== 0) throw new Error(`guest command failed (${r.code}): ${script}\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** A QMP socket no one is connected to, for memimage vm and the user. */
  get qmpSocket(): string {
    return join(this.runDir, EXTERNAL_QMP);
  }

  /** QEMU's process id (tests kill it to see a dump fail midway). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Where a file of the run directory is, on both sides. */
  path(name: string): string {
    return join(this.runDir, name);
  }

  async shutdown(): Promise<void> {
    await writeFile(join(this.runDir, "stop"), "").catch(() => undefined);
    await this.qmp.execute("quit").catch(() => undefined);
    this.qmp.close();
    const code = await Promise.race([this.exited, sleep(10_000).then(() => "timeout" as const)]);
    if (code === "timeout") {
      this.child.kill("SIGKILL");
      await this.exited;
    }
    if (!this.keep) await rm(this.runDir, { recursive: true, force: true });
  }
}

async function consoleTail(runDir: string): Promise<string> {
  const text = await readFile(join(runDir, "console.log"), "utf8").catch(() => "");
  return `console:\n${text.split("\n").slice(-30).join("\n")}`;
}
