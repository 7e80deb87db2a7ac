import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { cliCommand, memimage, scratchDir } from "../helpers/cli.js";
import {
  buildTarget,
  COW_AT,
  gdb,
  PATTERN_AT,
  patternBytes,
  procState,
  type RunningTarget,
  startTarget,
  tracerPid,
} from "../helpers/process-target.js";
import { assertValidEvent } from "../helpers/schema.js";

interface ProcessReport {
  status: string;
  exitCode: number;
  error?: string;
  output: { complete: boolean; location: string };
  ranges: { start: string; length: number; sha256: string }[];
  unreadable: unknown[];
  summary: { bytesRead: number };
  source: {
    kind: string;
    details: {
      pid: number;
      commandLine: string[];
      executable: { path: string; sha256: string };
      threads: { tid: number; name: string; registers: string }[];
      freeze: {
        requested: boolean;
        method: string;
        frozen: boolean;
        ranWhileRead: boolean;
        stoppedMs?: number;
      };
      mappings: {
        start: string;
        path: string;
        dumped: string;
        pages?: { present: number; swapped: number };
      }[];
      skipped: { start: string; path: string; reason: string }[];
      pagesSwappedOut: number;
    };
  };
}

const scratch = scratchDir("memimage-process-");
let binary: string;
const running: RunningTarget[] = [];
const readReport = (path: string) => JSON.parse(readFileSync(path, "utf8")) as ProcessReport;
const hex = (n: bigint) => `0x${n.toString(16)}`;

before(() => {
  binary = buildTarget(scratch.dir);
});
after(() => {
  for (const t of running) t.stop();
  scratch.cleanup();
});

async function target(mib: number): Promise<RunningTarget> {
  const t = await startTarget(binary, scratch.dir, mib);
  running.push(t);
  return t;
}

/** Runs memimage in the background and calls `during` once the partial core has grown past `bytes`. */
function acquireAndInterrupt(
  args: string[],
  partial: string,
  bytes: number,
  during: () => void,
): Promise<{ status: number | null; stderr: string; fired: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(...cliCommand(args), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let fired = false;
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const poll = setInterval(() => {
      if (!fired && existsSync(partial) && statSync(partial).size > bytes) {
        fired = true;
        during();
      }
    }, 1);
    child.on("exit", (status) => {
      clearInterval(poll);
      resolve({ status, stderr, fired });
    });
  });
}

describe("memimage process: a core gdb opens", () => {
  test("gdb reads the known pattern at its address, lists the mappings and shows every thread", async () => {
    const t = await target(4);
    const core = scratch.path("default.core");
    const run = memimage(["process", String(t.pid), "-o", core, "-q"]);
    assert.equal(run.status, 0, run.stderr);
    const last = PATTERN_AT + BigInt((4 << 20) - 8);
    const g = gdb(core, [
      `x/2gx ${hex(PATTERN_AT)}`,
      `x/1gx ${hex(last)}`,
      `x/s ${hex(COW_AT)}`,
      "info proc mappings",
      "info threads",
    ]);
    assert.equal(g.status, 0, g.output);
    assert.match(g.output, /0x10000000000:\s+0x4d454d494d414745\s+0x4d454d494d414744/);
    assert.match(
      g.output,
      new RegExp(`${hex(last)}:\\s+0x${(0x4d454d494d414745n ^ BigInt((4 << 20) / 8 - 1)).toString(16)}`),
    );
    assert.match(g.output, /0x30000000000:\s+"private copy"/, "a written private file page is kept");
    assert.ok(g.output.includes(t.mappedFile), "NT_FILE lists the mapped file");
    assert.ok(g.output.includes(binary), "NT_FILE lists the executable");
    const tids = listTasks(t.pid);
    assert.equal(tids.length, 3);
    for (const tid of tids) assert.match(g.output, new RegExp(`LWP ${tid}\\b`), `gdb shows thread ${tid}`);
    assert.doesNotMatch(g.output, /too small|Couldn't find general-purpose registers/);

    const report = readReport(`${core}.report.json`);
    const d = report.source.details;
    assert.equal(report.status, "complete");
    assert.equal(d.pid, t.pid);
    assert.deepEqual(d.commandLine, [binary, "4", t.mappedFile]);
    assert.equal(d.executable.path, binary);
    assert.equal(d.executable.sha256, createHash("sha256").update(readFileSync(binary)).digest("hex"));
    assert.deepEqual(d.threads.map((x) => x.tid).sort(), [...tids].sort());
    assert.deepEqual(d.threads.map((x) => x.name).sort(), ["target", "worker-1", "worker-2"]);
    for (const x of d.threads) assert.equal(x.registers, "captured");
    assert.equal(d.freeze.frozen, false);
    assert.equal(d.freeze.ranWhileRead, true);
    const fill = d.mappings.find((m) => m.start === hex(PATTERN_AT));
    assert.equal(fill?.pages?.present, 1024, "pagemap: every page of the fill is present");
    assert.equal(d.pagesSwappedOut, 0);
    const range = report.ranges.find((r) => r.start === hex(PATTERN_AT));
    assert.equal(
      range?.sha256,
      createHash("sha256").update(patternBytes(4)).digest("hex"),
      "per-mapping SHA-256",
    );
    const skipped = d.skipped.find((s) => s.path === t.mappedFile);
    assert.match(skipped?.reason ?? "", /file-shared not in the filter/);
    assert.ok(
      d.skipped.some((s) => s.path === "[vvar]"),
      "[vvar] is listed as left out",
    );
    assert.ok(report.summary.bytesRead >= 4 << 20);
  });

  test("--freeze stops the process for the read and lets it run again; gdb sees the same bytes", async () => {
    const t = await target(2);
    const core = scratch.path("frozen.core");
    const run = memimage(["process", String(t.pid), "--freeze", "-o", core, "-q"]);
    assert.equal(run.status, 0, run.stderr);
    const d = readReport(`${core}.report.json`).source.details;
    assert.equal(d.freeze.frozen, true);
    assert.equal(d.freeze.method, "ptrace");
    assert.equal(d.freeze.ranWhileRead, false);
    assert.ok((d.freeze.stoppedMs ?? 0) > 0);
    assert.equal(tracerPid(t.pid), 0, "no longer traced");
    for (const tid of listTasks(t.pid)) assert.notEqual(procState(t.pid, tid), "t");
    const g = gdb(core, [`x/2gx ${hex(PATTERN_AT)}`, "info threads"]);
    assert.match(g.output, /0x10000000000:\s+0x4d454d494d414745\s+0x4d454d494d414744/);
    assert.match(g.output, /3 +LWP/);
  });

  test("--filter all keeps shared file pages; LiME output holds the same bytes", async () => {
    const t = await target(1);
    const core = scratch.path("all.lime");
    const run = memimage(["process", String(t.pid), "--filter", "all", "--format", "lime", "-o", core, "-q"]);
    assert.equal(run.status, 0, run.stderr);
    const report = readReport(`${core}.report.json`);
    assert.ok(
      report.ranges.some((r) => r.start === "0x20000000000"),
      "the shared file mapping is read",
    );
    assert.equal(
      report.source.details.skipped.find((s) => s.path === t.mappedFile),
      undefined,
    );
    const info = memimage(["info", core, "--json"]);
    assert.equal(info.status, 0, info.stderr);
  });

  test("with ptrace refused (another tracer attached) the core has no registers but gdb reads memory", async () => {
    const t = await target(1);
    const tracer = spawn(
      process.execPath,
      [
        "-e",
        `const b=require(${JSON.stringify(`${process.cwd()}/build/Release/memimage_ptrace.node`)});` +
          `if(b.seize(${t.pid})) process.exit(9); b.waitStop(${t.pid},2000); b.detach(${t.pid},0); b.seize(${t.pid});` +
          "require('node:readline').createInterface({input:process.stdin}).on('line',()=>{});process.stdout.write('attached\\n')",
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    await new Promise((resolve) => tracer.stdout.once("data", resolve));
    try {
      const core = scratch.path("noregs.core");
      const run = memimage(["process", String(t.pid), "-o", core, "-q"]);
      assert.equal(run.status, 0, run.stderr);
      const d = readReport(`${core}.report.json`).source.details;
      for (const x of d.threads) assert.match(x.registers, /^unavailable: ptrace refused \(EPERM\)/);
      const g = gdb(core, [`x/2gx ${hex(PATTERN_AT)}`]);
      assert.match(g.output, /0x10000000000:\s+0x4d454d494d414745\s+0x4d454d494d414744/);
    } finally {
      tracer.kill("SIGKILL");
    }
  });
});

describe("memimage process: a process that exits while it is read", () => {
  test("partial core, exit 3, the report says where it stopped", async () => {
    const t = await target(768);
    const core = scratch.path("exiting.core");
    const run = await acquireAndInterrupt(
      ["process", String(t.pid), "-o", core, "-q"],
      `${core}.partial`,
      64 << 20,
      () => t.child.kill("SIGKILL"),
    );
    assert.equal(run.fired, true, "the process was killed during the read");
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /^memimage: process \d+ exited while being read: stopped at 0x[0-9a-f]+/m);
    assert.equal(existsSync(core), false, "no complete-looking core");
    const report = readReport(`${core}.partial.report.json`);
    assert.equal(report.status, "aborted");
    assert.equal(report.output.complete, false);
    assert.match(report.error ?? "", /stopped at 0x1[0-9a-f]{10} \(\[anon\]\) after \d+ bytes/);
  });

  for (const [signal, status] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    test(`${signal} during a --freeze read resumes the process, keeps the partial core marked, exit ${status}`, async () => {
      const t = await target(768);
      const core = scratch.path(`interrupted-${signal}.core`);
      let child: ReturnType<typeof spawn> | undefined;
      let stdout = "";
      const run = await new Promise<{ status: number | null }>((resolve) => {
        child = spawn(...cliCommand(["process", String(t.pid), "--freeze", "-o", core, "--json"]), {
          stdio: ["ignore", "pipe", "ignore"],
        });
        child.stdout?.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
        });
        const poll = setInterval(() => {
          if (existsSync(`${core}.partial`) && statSync(`${core}.partial`).size > 64 << 20) {
            clearInterval(poll);
            assert.match(procState(t.pid) ?? "", /^[tT]$/, "frozen while read");
            child?.kill(signal);
          }
        }, 1);
        child.on("exit", (status) => {
          clearInterval(poll);
          resolve({ status });
        });
      });
      assert.equal(run.status, status);
      assert.equal(tracerPid(t.pid), 0, "released");
      for (const tid of listTasks(t.pid))
        assert.doesNotMatch(procState(t.pid, tid) ?? "", /^[tT]$/, `thread ${tid} runs again`);
      assert.equal(existsSync(core), false, "no complete-looking core");
      assert.ok(statSync(`${core}.partial`).size > 64 << 20);
      const report = readReport(`${core}.partial.report.json`);
      assert.equal(report.status, "aborted");
      assert.equal(report.exitCode, status);
      assert.equal(report.output.complete, false);
      assert.equal(report.source.details.freeze.frozen, true);
      // --json: the events say the same, and the run's last line carries the report
      const events = stdout
        .trimEnd()
        .split("\n")
        .map(
          (line) =>
            JSON.parse(line) as { type: string; status?: string; exitCode?: number; message?: string },
        );
      for (const event of events) assertValidEvent(event);
      assert.equal(events[0]?.type, "start");
      assert.ok(events.some((e) => e.type === "warning" && e.message?.includes(signal)));
      const done = events.at(-1);
      assert.equal(done?.type, "done");
      assert.equal(done?.status, "aborted");
      assert.equal(done?.exitCode, status);
    });
  }
});

describe("memimage process: bad input, one clear line and a documented exit status", () => {
  const oneLine = (stderr: string) => {
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    return lines[0] as string;
  };

  test("a PID that does not exist: exit 1", () => {
    const run = memimage(["process", "4194000", "-o", scratch.path("none.core")]);
    assert.equal(run.status, 1);
    assert.equal(oneLine(run.stderr), "memimage: no process with PID 4194000");
    assert.equal(existsSync(scratch.path("none.core.partial")), false);
  });

  test("not a PID: exit 2", () => {
    const run = memimage(["process", "12ab"]);
    assert.equal(run.status, 2);
    assert.match(oneLine(run.stderr), /not a process id: "12ab"/);
  });

  test("a zombie: exit 1", async () => {
    // The shell's background child is never reaped by the sleep that replaces the shell.
    const parent = spawn("sh", ["-c", "sleep 0 & exec sleep 30"], { stdio: "ignore" });
    try {
      let zombie: number | undefined;
      for (let i = 0; i < 200 && zombie === undefined; i++) {
        await new Promise((r) => setTimeout(r, 10));
        zombie = listChildren(parent.pid as number).find((c) => procState(c) === "Z");
      }
      assert.ok(zombie, "a zombie child appeared");
      const run = memimage(["process", String(zombie), "-o", scratch.path("zombie.core")]);
      assert.equal(run.status, 1);
      assert.match(oneLine(run.stderr), /is a zombie: it has exited and has no memory left to read$/);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  test("a kernel thread: exit 1", (t) => {
    const kthread = findKernelThread();
    if (kthread === undefined) return t.skip("no kernel thread is visible in this PID namespace");
    const run = memimage(["process", String(kthread), "-o", scratch.path("kthread.core")]);
    assert.equal(run.status, 1);
    assert.match(oneLine(run.stderr), /is a kernel thread: it has no user memory$/);
  });

  test("permission denied (not root, not the owner): exit 1", async (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root to start a process as another user");
    const victim = await target(1);
    const run = spawnAs(65534, ["process", String(victim.pid), "-o", "/tmp/never-written.core"]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      oneLine(run.stderr),
      /permission denied reading the memory of process \d+ \(target\): run as root/,
    );
  });

  test("output disk full: exit 4, the report says the output is incomplete", async () => {
    const t = await target(1);
    const full = openSync("/dev/full", "w");
    const reportPath = scratch.path("full.report.json");
    const run = spawnSync(
      ...cliCommand(["process", String(t.pid), "-o", "-", "--report", reportPath, "-q"]),
      {
        stdio: ["ignore", full, "pipe"],
        encoding: "utf8",
      },
    );
    assert.equal(run.status, 4, run.stderr);
    assert.match(oneLine(run.stderr), /standard output failed after \d+ bytes: .*ENOSPC/);
    const report = readReport(reportPath);
    assert.equal(report.output.complete, false);
    assert.equal(report.exitCode, 4);
  });
});

function listTasks(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}

function listChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function findKernelThread(): number | undefined {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const flags = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[6]);
      if (flags & 0x00200000) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function spawnAs(uid: number, args: string[]) {
  return spawnSync(
    "setpriv",
    [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", ...cliCommand(args).flat()],
    {
      encoding: "utf8",
    },
  );
}
