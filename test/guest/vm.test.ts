// memimage vm against a real QEMU guest (Debian's kernel under TCG): the image taken from outside through QMP must
// hold exactly QEMU's own dump-guest-memory bytes, and the guest must run after every test, failures included.
// One boot per file (plus a small second guest that is killed mid-dump).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, constants, createReadStream, openSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Guest } from "../../src/lab/guest.js";
import type { Report } from "../../src/report/report.js";
import { openImage } from "../../src/sources/image.js";
import { guestSkipReason } from "./harness.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const skip = await guestSkipReason();
const MINUTES = 60_000;

let guest: Guest;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function memimage(args: string[], options: { holdStdout?: Promise<void> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    if (options.holdStdout) {
      child.stdout.pause();
      void options.holdStdout.then(() => child.stdout.resume());
    }
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

async function status(g: Guest = guest): Promise<string> {
  return (await g.qmp.execute<{ status: string }>("query-status")).status;
}

async function report(path: string): Promise<Report> {
  return JSON.parse(await readFile(`${path}.report.json`, "utf8")) as Report;
}

/** SHA-256 of each stored PT_LOAD of an ELF file, by address, read straight from the file. */
async function segmentHashes(path: string): Promise<{ start: bigint; length: number; sha256: string }[]> {
  const image = await openImage(path, { format: "elf" });
  await image.source.close();
  const out: { start: bigint; length: number; sha256: string }[] = [];
  // memimage cuts a range's PT_LOAD where the kernel image mapping begins and ends (each piece has its p_vaddr);
  // pieces that continue one another in memory and in the file are one range, as in QEMU's dump.
  const joined: { start: bigint; length: number; fileOffset: number }[] = [];
  for (const s of image.source.layout.segments.filter((x) => x.stored)) {
    const last = joined[joined.length - 1];
    if (
      last &&
      last.start + BigInt(last.length) === s.start &&
      last.fileOffset + last.length === s.fileOffset
    )
      last.length += s.length;
    else joined.push({ start: s.start, length: s.length, fileOffset: s.fileOffset });
  }
  for (const s of joined) {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path, {
      start: s.fileOffset,
      end: s.fileOffset + s.length - 1,
    }))
      hash.update(chunk as Buffer);
    out.push({ start: s.start, length: s.length, sha256: hash.digest("hex") });
  }
  return out;
}

async function qemuDump(g: Guest, path: string): Promise<void> {
  g.qmp.forget("DUMP_COMPLETED");
  await g.qmp.execute("dump-guest-memory", { paging: false, protocol: `file:${path}`, detach: true });
  const done = await g.qmp.waitEvent("DUMP_COMPLETED", 5 * MINUTES);
  assert.equal(done.data?.error, undefined, `QEMU's own dump failed: ${String(done.data?.error)}`);
}

describe("memimage vm: a QEMU guest imaged from outside", { skip, timeout: 30 * MINUTES }, () => {
  before(async () => {
    guest = await Guest.boot({ memoryMiB: 512 });
  });
  after(async () => {
    await guest?.shutdown();
  });

  test("--pause freezes the guest, resumes it, and the LiME conversion opens and verifies", async (t) => {
    const out = guest.path("paused.lime");
    const r = await memimage(["vm", "-q", "--qmp", guest.qmpSocket, "--pause", "-o", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await status(), "running");
    const rep = await report(out);
    assert.equal(rep.source.kind, "qmp");
    const d = rep.source.details as Record<string, unknown> & {
      freeze: { by: string; start: string; end: string; durationMs: number };
    };
    assert.equal(d.freeze.by, "memimage");
    assert.equal(d.guestRan, false);
    assert.equal(d.statusBefore, "running");
    assert.equal(d.statusAfter, "running");
    assert.equal(d.guestRamBytes, 512 << 20);
    assert.ok(d.freeze.durationMs > 0 && Date.parse(d.freeze.end) > Date.parse(d.freeze.start));
    // The freeze covers the reading of every block: it starts before the first and ends after the last.
    assert.ok(Date.parse(d.freeze.start) <= Date.parse(rep.time.start) + 1000);
    assert.match(rep.weaknesses?.memorySmear.mitigation ?? "", /M1088/);
    assert.match(rep.weaknesses?.toolChangesMemory.mitigation ?? "", /M1087/);
    assert.equal(rep.weaknesses?.incompleteAcquisition.fraction, 1);
    const info = await memimage(["info", out]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout.toString(), /lime/);
    const verify = await memimage(["verify", out]);
    assert.equal(verify.code, 0, verify.stderr + verify.stdout.toString());
    t.diagnostic(`freeze ${d.freeze.durationMs} ms for ${rep.summary.bytesRead} bytes`);
  });

  test("a guest already paused is imaged and left paused; its ELF holds QEMU's own dump byte for byte", async () => {
    await guest.qmp.execute("stop");
    try {
      const out = guest.path("ours.elf");
      const r = await memimage(["vm", "-q", "--qmp", guest.qmpSocket, "-f", "elf", "-o", out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /already paused/);
      assert.equal(await status(), "paused", "memimage must not resume a guest it did not pause");
      const truth = guest.path("truth.elf");
      await qemuDump(guest, truth);
      const [ours, theirs] = await Promise.all([segmentHashes(out), segmentHashes(truth)]);
      assert.deepEqual(ours, theirs, "the same ranges with the same bytes");
      const rep = await report(out);
      assert.deepEqual(
        rep.ranges.map((x) => [BigInt(x.start), x.length, x.sha256]),
        theirs.map((x) => [x.start, x.length, x.sha256]),
        "per-range hashes in the report are those of QEMU's dump",
      );
      // QEMU's notes (registers of each CPU) are carried over.
      const opened = await openImage(out);
      await opened.source.close();
      const notes = opened.source.layout.details.notes as { name: string }[];
      assert.ok(notes.some((n) => n.name === "CORE"));
    } finally {
      await guest.qmp.execute("cont");
    }
    assert.equal(await status(), "running");
  });

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    test(`${signal} mid-read resumes the guest: exit ${code}, the image kept as .partial, the report says aborted`, async () => {
      const out = guest.path(`interrupted-${signal}.lime`);
      const child = spawn(process.execPath, [CLI, "vm", "-q", "--qmp", guest.qmpSocket, "-o", out], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      let pausedWhenSignalled = "";
      const poll = setInterval(() => {
        void stat(`${out}.partial`).then(
          async (s) => {
            if (s.size < 32 << 20 || pausedWhenSignalled) return;
            pausedWhenSignalled = await status();
            child.kill(signal);
          },
          () => undefined,
        );
      }, 20);
      const exit = await new Promise<number | null>((resolve) => child.on("close", resolve));
      clearInterval(poll);
      // QEMU's dump ends on its own once its FIFO is closed (EPIPE); the next test needs it gone
      for (let i = 0; i < 600; i++) {
        const dump = await guest.qmp.execute<{ status: string }>("query-dump");
        if (dump.status !== "active") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(pausedWhenSignalled, "paused", `the guest was frozen when the signal came (${stderr})`);
      assert.equal(exit, code, stderr);
      assert.equal(await status(), "running");
      assert.equal(await stat(out).catch(() => undefined), undefined, "no complete-looking image");
      const rep = await report(`${out}.partial`);
      assert.equal(rep.status, "aborted");
      assert.equal(rep.exitCode, code);
      assert.equal(rep.output.complete, false);
      assert.match(rep.error ?? "", new RegExp(signal));
    });
  }

  test("--live leaves the guest running and has QEMU's full range list", async () => {
    const out = guest.path("live.lime");
    const r = await memimage(["vm", "-q", "--qmp", guest.qmpSocket, "--live", "-o", out]);
    assert.equal(r.code, 0, r.stderr);
    const rep = await report(out);
    const d = rep.source.details as { guestRan: boolean; freeze: { by: string } };
    assert.equal(d.guestRan, true);
    assert.match(d.freeze.by, /none/);
    assert.match(rep.weaknesses?.memorySmear.mitigation ?? "", /not avoided/);
    const truth = await segmentHashes(guest.path("truth.elf"));
    assert.deepEqual(
      rep.ranges.map((x) => [BigInt(x.start), x.length]),
      truth.map((x) => [x.start, x.length]),
    );
    assert.equal(rep.summary.bytesRead, rep.summary.bytesPlanned);
    assert.equal(await status(), "running");
  });

  test("bad input: one clear line, a documented exit status, and the guest still runs", async (t) => {
    const missing = await memimage(["vm", "--qmp", guest.path("no-such.sock"), "-o", guest.path("x.lime")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^memimage: cannot connect to QMP at .*no such socket/);

    const notQmpPath = guest.path("not-qmp.sock");
    const server = createServer((c) => c.end("220 hello, this is not QEMU\r\n"));
    await new Promise<void>((resolve) => server.listen(notQmpPath, resolve));
    try {
      const notQmp = await memimage(["vm", "--qmp", notQmpPath, "-o", guest.path("x.lime")]);
      assert.equal(notQmp.code, 1);
      assert.match(notQmp.stderr, /is not a QEMU QMP socket/);
    } finally {
      server.close();
    }

    // qemu-storage-daemon speaks QMP but has no guest and no dump-guest-memory.
    const daemonSocket = guest.path("storage-daemon.sock");
    const daemon = spawn("qemu-storage-daemon", [
      "--chardev",
      `socket,path=${daemonSocket},server=on,wait=off,id=m`,
      "--monitor",
      "chardev=m",
    ]);
    try {
      for (let i = 0; i < 100 && !(await stat(daemonSocket).catch(() => undefined)); i++)
        await new Promise((r) => setTimeout(r, 100));
      const noDump = await memimage(["vm", "--qmp", daemonSocket, "-o", guest.path("x.lime")]);
      assert.equal(noDump.code, 1);
      assert.match(noDump.stderr, /has no dump-guest-memory/);
    } finally {
      daemon.kill();
    }

    // A dump already running (into a FIFO no one reads): refused before the guest is touched.
    const fifo = guest.path("busy.fifo");
    await new Promise<void>((resolve, reject) =>
      spawn("mkfifo", [fifo]).on("close", (c) => (c === 0 ? resolve() : reject(new Error("mkfifo")))),
    );
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    guest.qmp.forget("DUMP_COMPLETED");
    await guest.qmp.execute("dump-guest-memory", { paging: false, protocol: `file:${fifo}`, detach: true });
    const busy = await memimage(["vm", "--qmp", guest.qmpSocket, "-o", guest.path("x.lime")]);
    closeSync(fd); // QEMU gets EPIPE: its dump fails and it resumes the guest it stopped
    await guest.qmp.waitEvent("DUMP_COMPLETED", MINUTES);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /a dump is already running/);
    assert.equal(await status(), "running");

    // Output disk full: exit 4, the partial image kept and marked, the guest resumed.
    const small = guest.path("small");
    await mkdir(small);
    await new Promise<void>((resolve, reject) =>
      spawn("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", small]).on("close", (c) =>
        c === 0 ? resolve() : reject(new Error("mount tmpfs")),
      ),
    );
    try {
      const full = await memimage(["vm", "-q", "--qmp", guest.qmpSocket, "-o", `${small}/full.lime`]);
      assert.equal(full.code, 4, full.stderr);
      assert.match(full.stderr, /ENOSPC|no space/i);
      assert.equal(await status(), "running");
      const rep = await report(`${small}/full.lime.partial`).catch(() => undefined);
      t.diagnostic(
        `disk full: ${full.stderr.trim().split("\n").pop()} (report ${rep ? "written" : "not written: disk full"})`,
      );
    } finally {
      await new Promise((resolve) => spawn("umount", [small]).on("close", resolve));
      await rm(small, { recursive: true, force: true });
    }
    assert.equal(await status(), "running");
  });

  test("QEMU killed mid-dump: a partial image, exit 3", { timeout: 10 * MINUTES }, async () => {
    const victim = await Guest.boot({ memoryMiB: 256, cpus: 1 });
    try {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      // The image goes to a pipe that is not read yet, so the dump stalls part-way.
      const running = memimage(
        ["vm", "-q", "--qmp", victim.qmpSocket, "-o", "-", "--report", victim.path("r.json")],
        {
          holdStdout: held,
        },
      );
      for (let i = 0; i < 300; i++) {
        const dump = await victim.qmp.execute<{ status: string }>("query-dump");
        if (dump.status === "active") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      process.kill(victim.pid as number, "SIGKILL");
      release();
      const r = await running;
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /closed \(QEMU quit or was killed\)/);
      const rep = JSON.parse(await readFile(victim.path("r.json"), "utf8")) as Report;
      assert.equal(rep.status, "aborted");
      assert.ok(rep.summary.bytesRead < rep.summary.bytesPlanned);
    } finally {
      await victim.shutdown();
    }
    assert.equal(await status(), "running");
  });
});
