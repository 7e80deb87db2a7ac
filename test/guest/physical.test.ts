// Physical acquisition inside a real guest (Debian's kernel under QEMU TCG), checked against the hypervisor's
// own view of the guest's RAM (QMP dump-guest-memory) and against LiME run in the same guest. One boot per file.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Span, totalLength } from "../../src/core/map.js";
import { diffPages, readableParts } from "../../src/lab/compare.js";
import { Guest } from "../../src/lab/guest.js";
import { buildLime } from "../../src/lab/lime.js";
import type { Report } from "../../src/report/report.js";
import { openImage } from "../../src/sources/image.js";
import { type IomemEntry, namedRange, parseIomem, systemRam } from "../../src/sources/iomem.js";
import { guestSkipReason } from "./harness.js";

const memimage = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const skip = await guestSkipReason();
const MINUTES = 60_000;

let guest: Guest;
let iomem: IomemEntry[];
let ram: Span[];
let kernelSpans: { name: string; span: Span }[];
const images: Record<string, { path: string; report: Report }> = {};

async function acquire(name: string, args: string): Promise<{ code: number; stderr: string; path: string }> {
  const path = guest.path(name);
  const r = await guest.run(`${process.execPath} ${memimage} acquire -q ${args} -o ${path}`, 10 * MINUTES);
  return { code: r.code, stderr: r.stderr, path };
}

async function readReport(path: string): Promise<Report> {
  return JSON.parse(await readFile(`${path}.report.json`, "utf8")) as Report;
}

describe("physical acquisition in a guest", { skip, timeout: 40 * MINUTES }, () => {
  before(async () => {
    guest = await Guest.boot({ memoryMiB: 512 });
    iomem = parseIomem(await guest.check("cat /proc/iomem"));
    ram = systemRam(iomem);
    kernelSpans = ["Kernel code", "Kernel rodata"].map((name) => {
      const span = namedRange(iomem, name);
      assert.ok(span, `the guest's /proc/iomem has no "${name}" line`);
      return { name, span };
    });
  });
  after(async () => {
    await guest?.shutdown();
  });

  test("kcore: LiME (auto), padded and ELF images, each complete but for listed pages", async (t) => {
    for (const [name, args] of [
      ["kcore.lime", "--format lime"],
      ["kcore.padded", "--format padded --source kcore"],
      ["kcore.elf", "--format elf --source kcore"],
      ["kcore-priority.elf", "--format elf --source kcore --priority"],
    ] as const) {
      const { code, stderr, path } = await acquire(name, args);
      assert.ok(code === 0 || code === 3, `exit ${code}: ${stderr}`);
      const report = await readReport(path);
      images[name] = { path, report };
      const coverage = report.source.details?.coverage as {
        bytesRead: number;
        systemRamBytes: number;
        fraction: number;
      };
      assert.equal(coverage.systemRamBytes, totalLength(ram), "System RAM as the guest's /proc/iomem says");
      const unreadable = report.unreadable.reduce((n, u) => n + u.length, 0);
      // Every byte of System RAM is read or listed, with a reason.
      assert.equal(coverage.bytesRead + unreadable, coverage.systemRamBytes);
      assert.equal(report.summary.bytesRead, coverage.bytesRead);
      for (const u of report.unreadable) assert.ok(u.reason.length > 0);
      // kcore offers whole pages: only a partial page at the end of a RAM range may be missing.
      for (const u of report.unreadable) assert.ok(u.length < 4096, `unexpected hole ${u.start}+${u.length}`);
      t.diagnostic(
        `${name}: coverage ${(coverage.fraction * 100).toFixed(4)}% (${coverage.bytesRead}/${coverage.systemRamBytes} bytes), exit ${code}, ${report.time.durationMs} ms`,
      );
    }
    const auto = images["kcore.lime"]?.report.source;
    assert.equal(auto?.kind, "kcore");
    const selection = auto?.details?.selection as { source: string; used: boolean; reason: string }[];
    assert.equal(selection[0]?.source, "crash");
    assert.equal(selection[0]?.used, false);
    assert.match(selection[0]?.reason ?? "", /\/dev\/crash is absent/);
    assert.deepEqual(selection[1], { source: "kcore", used: true, reason: "first source that works" });
  });

  test("--priority reads the kernel image first: its window is a fraction of the whole acquisition's", (t) => {
    const report = images["kcore-priority.elf"]?.report as Report & {
      weaknesses: {
        memorySmear: {
          priority: { set: { kind: string }[]; window: { firstReadMs: number; durationMs: number } };
          window: { durationMs: number };
        };
      };
    };
    const { priority, window } = report.weaknesses.memorySmear;
    assert.deepEqual(
      priority.set.map((p) => p.kind),
      [
        "System RAM (Kernel code)",
        "System RAM (Kernel rodata)",
        "System RAM (Kernel data)",
        "System RAM (Kernel bss)",
      ],
    );
    assert.ok(priority.window.firstReadMs <= (report.ranges[0]?.firstReadMs ?? 0) + 1, "read first");
    assert.ok(
      priority.window.durationMs < window.durationMs / 4,
      `${priority.window.durationMs} ms of ${window.durationMs} ms`,
    );
    t.diagnostic(
      `kernel image read in ${priority.window.durationMs} ms of a ${window.durationMs} ms acquisition`,
    );
  });

  test("a busy guest: the smear sample finds changed pages, none in kernel code; the CASE file conforms", async (t) => {
    // A workload that keeps rewriting 64 MiB of the guest's RAM while memimage reads it.
    await guest.check(
      "(while :; do dd if=/dev/urandom of=/dev/shm/busy bs=1M count=64 2>/dev/null; done) >/dev/null 2>&1 & echo $! > /dev/shm/busy.pid",
    );
    let path: string;
    try {
      const run = await acquire("busy.lime", "--format lime --smear-sample 4000 --examiner ci");
      assert.ok(run.code === 0 || run.code === 3, run.stderr);
      path = run.path;
    } finally {
      await guest.check(
        "kill $(cat /dev/shm/busy.pid); sleep 0.2; rm -f /dev/shm/busy /dev/shm/busy.pid; true",
      );
    }
    const report = (await readReport(path)) as Report & {
      weaknesses: {
        memorySmear: { sample: { compared: number; changed: number; examples: { address: string }[] } };
      };
    };
    const sample = report.weaknesses.memorySmear.sample;
    assert.ok(sample.compared > 3000, `compared ${sample.compared}`);
    assert.ok(sample.changed > 0, "a busy guest changes while it is read");
    const code = kernelSpans.find((k) => k.name === "Kernel code")?.span as Span;
    for (const e of sample.examples) {
      const a = BigInt(e.address);
      assert.ok(
        a < code.start || a >= code.start + BigInt(code.length),
        `kernel code page ${e.address} changed`,
      );
    }
    t.diagnostic(
      `smear sample: ${sample.changed} of ${sample.compared} sampled pages changed during the pass`,
    );
    // CASE for a physical acquisition (a Computer as the object), made on the host (SHACL needs ~300 MiB, more
    // than this guest can spare), then verify re-reads every range and validates it against the shapes.
    const cased = spawnSync(
      process.execPath,
      [memimage, "case", `${path}.report.json`, "-o", `${path}.case.jsonld`],
      {
        encoding: "utf8",
      },
    );
    assert.equal(cased.status, 0, cased.stderr);
    const verify = spawnSync(process.execPath, [memimage, "verify", "--json", path], { encoding: "utf8" });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    const fields = (JSON.parse(verify.stdout) as { checks: { field: string; ok: boolean }[] }).checks;
    assert.ok(fields.some((c) => c.field === "case (SHACL)" && c.ok));
  });

  test("/dev/mem: used where the kernel offers RAM through it, else refused with STRICT_DEVMEM named", async (t) => {
    const { code, stderr, path } = await acquire("devmem.lime", "--format lime --source devmem");
    if (code === 1) {
      assert.match(stderr, /CONFIG_STRICT_DEVMEM/);
      t.diagnostic(`/dev/mem refused RAM, as a Debian kernel must: ${stderr.trim().split("\n")[0]}`);
      return;
    }
    assert.ok(code === 0 || code === 3, stderr);
    images["devmem.lime"] = { path, report: await readReport(path) };
  });

  test("an output in the guest's tmpfs is refused (exit 2) and nothing is written", async () => {
    const r = await guest.run(
      `${process.execPath} ${memimage} acquire -q -o /dev/shm/in-ram.lime; echo; ls /dev/shm`,
    );
    assert.match(r.stderr, /tmpfs, which lives in RAM/);
    assert.doesNotMatch(r.stdout, /in-ram/);
  });

  test("ground truth: kernel code and rodata byte-identical to QMP dump-guest-memory; smear measured", async (t) => {
    const truthPath = guest.path("truth.elf");
    await guest.qmp.execute("stop");
    try {
      await guest.qmp.execute("dump-guest-memory", { paging: false, protocol: `file:${truthPath}` });
    } finally {
      await guest.qmp.execute("cont");
    }
    const truth = await openImage(truthPath, { format: "elf" });
    try {
      for (const [name, image] of Object.entries(images)) {
        const opened = await openImage(image.path);
        try {
          for (const { name: what, span } of kernelSpans) {
            const d = await diffPages(opened.source, truth.source, [span]);
            assert.equal(d.missing, 0, `${name}: ${what} missing pages`);
            assert.equal(
              d.differing,
              0,
              `${name}: ${what} differs at ${d.examples.map((a) => a.toString(16))}`,
            );
          }
          const holes = image.report.unreadable.map((u) => ({ start: BigInt(u.start), length: u.length }));
          const rest = await diffPages(opened.source, truth.source, readableParts(ram, holes));
          assert.equal(rest.missing, 0, `${name}: pages missing from the image or the dump`);
          t.diagnostic(
            `${name}: smear ${((rest.differing / rest.pages) * 100).toFixed(2)}% of ${rest.pages} pages differ from the dump taken after it`,
          );
        } finally {
          await opened.source.close();
        }
      }
    } finally {
      await truth.source.close();
    }
  });

  test("LiME peer: same System RAM ranges, same bytes on kernel code and rodata", {
    timeout: 15 * MINUTES,
  }, async (t) => {
    const release = (await guest.check("uname -r")).trim();
    assert.equal(release, guest.lab.kernel.release);
    const module = await buildLime(release);
    const peerPath = guest.path("peer.lime");
    const started = Date.now();
    await guest.check(
      `insmod ${module} "path=${peerPath} format=lime timeout=0" && rmmod lime`,
      15 * MINUTES,
    );
    t.diagnostic(`LiME took ${Date.now() - started} ms`);
    const peer = await openImage(peerPath, { format: "lime" });
    const ours = await openImage(images["kcore.lime"]?.path ?? "");
    try {
      // LiME writes one record per System RAM range, inclusive ends, zero-padding a partial last page.
      const peerRanges = (await peer.source.map()).map((r) => ({ start: r.start, length: r.length }));
      assert.deepEqual(peerRanges, ram);
      // memimage: the same ranges, as records read plus the pages it lists as unreadable.
      const report = images["kcore.lime"]?.report as Report;
      const listed = report.map.map((r) => ({ start: BigInt(r.start), length: r.length }));
      assert.equal(totalLength(listed), totalLength(ram));
      for (const { name, span } of kernelSpans) {
        const d = await diffPages(ours.source, peer.source, [span]);
        assert.equal(d.missing + d.differing, 0, `${name} differs from LiME's`);
      }
    } finally {
      await peer.source.close();
      await ours.source.close();
    }
  });
});
