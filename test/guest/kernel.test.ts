// Analysis-ready images: ELF images of the lab guest, taken from inside (/proc/kcore) and from outside (vm), opened
// on the host by drgn and crash with Debian's debug vmlinux of the guest kernel; the report's kernel fields checked
// against what the guest itself says; memimage symbols telling the right vmlinux from another build's. One boot.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, unlinkSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeNotes } from "../../src/formats/elf.js";
import { debugVmlinuxPath } from "../../src/lab/debug-kernel.js";
import { Guest } from "../../src/lab/guest.js";
import { provisionLab } from "../../src/lab/provision.js";
import type { Report } from "../../src/report/report.js";
import { assertValidReport } from "../helpers/schema.js";
import { guestSkipReason } from "./harness.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const MINUTES = 60_000;
const PYTHON = "/usr/bin/python3"; // Debian's python3-drgn is installed for the system Python
const skip = await guestSkipReason();

// Lists every task (thread) of the kernel in a core: pid, tgid, comm, one per line.
const DRGN_TASKS = `
import sys, drgn
from drgn.helpers.linux.pid import for_each_task
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
for t in for_each_task(prog):
    print(int(t.pid), int(t.tgid), t.comm.string_().decode())
`;

interface Task {
  pid: number;
  tgid: number;
  comm: string;
}

let guest: Guest;
let vmlinux: string;
let otherVmlinux: string;
const facts = { version: "", buildId: "", kaslr: 0n, release: "" };
const images: Record<
  string,
  { path: string; report: Report; before: Map<number, string>; after: Map<number, string> }
> = {};

function memimage(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The guest's processes now, as ps lists them (pid -> command name). */
async function processes(): Promise<Map<number, string>> {
  const out = await guest.check("ps -e -o pid=,comm=");
  return new Map(
    out
      .trim()
      .split("\n")
      .map((line) => {
        const [pid, ...comm] = line.trim().split(/\s+/);
        return [Number(pid), comm.join(" ")] as const;
      }),
  );
}

function drgnTasks(core: string): Task[] {
  const r = spawnSync(PYTHON, ["-c", DRGN_TASKS, core, vmlinux], { encoding: "utf8", timeout: 5 * MINUTES });
  assert.equal(r.status, 0, `drgn failed on ${core}: ${r.stderr}`);
  return r.stdout
    .trim()
    .split("\n")
    .map((line) => {
      const [pid, tgid, ...comm] = line.split(" ");
      return { pid: Number(pid), tgid: Number(tgid), comm: comm.join(" ") };
    });
}

describe("analysis-ready kernel images", { skip, timeout: 30 * MINUTES }, () => {
  before(async () => {
    const lab = await provisionLab();
    vmlinux = debugVmlinuxPath(lab.kernel.release);
    otherVmlinux = debugVmlinuxPath(lab.kernel.release.replace(/-amd64$/, "-cloud-amd64"));
    for (const path of [vmlinux, otherVmlinux])
      await stat(path).catch(() => {
        throw new Error(`${path} is missing: run node dist/src/lab/provision.js --dbg (as root)`);
      });
    guest = await Guest.boot({ memoryMiB: 512, lab });
    facts.version = (await guest.check("cat /proc/version")).trim();
    facts.release = (await guest.check("uname -r")).trim();
    await guest.check(`cat /sys/kernel/notes > ${guest.path("notes.bin")}`);
    const gnu = decodeNotes(await readFile(guest.path("notes.bin"))).find(
      (n) => n.name === "GNU" && n.type === 3,
    );
    assert.ok(gnu, "the guest's /sys/kernel/notes has a GNU build ID");
    facts.buildId = Buffer.from(gnu.desc).toString("hex");
    // KASLR: where _text is now, minus where the kernel is linked (0xffffffff81000000 on x86-64).
    const text = (await guest.check("grep -w _text /proc/kallsyms")).split(" ")[0] as string;
    facts.kaslr = BigInt(`0x${text}`) - 0xffff_ffff_8100_0000n;

    const inside = guest.path("inside.elf");
    const beforeInside = await processes();
    const r = await guest.run(
      `${process.execPath} ${CLI} acquire -q --format elf --source kcore -o ${inside}`,
      10 * MINUTES,
    );
    const afterInside = await processes();
    assert.ok(r.code === 0 || r.code === 3, `acquire exit ${r.code}: ${r.stderr}`);
    const insideReport = JSON.parse(await readFile(`${inside}.report.json`, "utf8")) as Report;
    images.inside = { path: inside, report: insideReport, before: beforeInside, after: afterInside };

    const outside = guest.path("outside.elf");
    const beforeOutside = await processes();
    const v = memimage(["vm", "-q", "--qmp", guest.qmpSocket, "--format", "elf", "-o", outside]);
    const afterOutside = await processes();
    assert.equal(v.code, 0, v.stderr);
    const outsideReport = JSON.parse(await readFile(`${outside}.report.json`, "utf8")) as Report;
    images.outside = { path: outside, report: outsideReport, before: beforeOutside, after: afterOutside };
  });
  after(async () => {
    await guest?.shutdown();
  });

  test("the reports identify the kernel as the guest does (/proc/version, /sys/kernel/notes, kallsyms)", () => {
    for (const [name, { report }] of Object.entries(images)) {
      assertValidReport(report);
      const k = report.kernel;
      assert.ok(k, `${name}: the report has a kernel section`);
      assert.equal(k.banner, facts.version, `${name}: banner = /proc/version`);
      assert.equal(k.osrelease, facts.release);
      assert.equal(k.buildId, facts.buildId, `${name}: BUILD-ID = the guest's GNU build ID note`);
      assert.equal(
        k.kernelOffset,
        `0x${facts.kaslr.toString(16)}`,
        `${name}: KERNELOFFSET = _text - link address`,
      );
      assert.equal(k.architecture, "x86_64");
      assert.deepEqual(k.debugSymbols, {
        distribution: "Debian",
        package: `linux-image-${facts.release}-dbg`,
        version: /Debian (\S+) \(/.exec(facts.version)?.[1],
      });
      assert.ok(typeof k.pageTableRoot !== "string" && k.pageTableRoot.physical, `${name}: page-table root`);
    }
    const from = (name: string) => {
      const v = images[name]?.report.kernel?.vmcoreinfo;
      return typeof v === "object" ? v.from : String(v);
    };
    assert.match(from("inside"), /\/sys\/kernel\/vmcoreinfo/);
    assert.match(from("outside"), /QEMU's dump/);
  });

  test("drgn lists the guest's tasks from both images: init and kthreadd, and the processes ps saw", (t) => {
    for (const [name, image] of Object.entries(images)) {
      const tasks = drgnTasks(image.path);
      assert.ok(
        tasks.some((x) => x.pid === 1 && x.comm === "init"),
        `${name}: init is pid 1`,
      );
      assert.ok(
        tasks.some((x) => x.pid === 2 && x.comm === "kthreadd"),
        `${name}: kthreadd is pid 2`,
      );
      const inImage = new Map(tasks.filter((x) => x.pid === x.tgid).map((x) => [x.pid, x.comm]));
      // Every process ps saw both before and after the acquisition is in the image...
      const steady = [...image.before.keys()].filter((pid) => image.after.has(pid));
      const missing = steady.filter((pid) => !inImage.has(pid));
      assert.deepEqual(missing, [], `${name}: processes alive throughout but not in the image`);
      // ...and the image holds no process but those, those ps saw once, and the short-lived ones of the lab agent
      // and the acquisition itself (its node, the agent's shell, sleep and ps).
      const extra = [...inImage].filter(([pid]) => !image.before.has(pid) && !image.after.has(pid));
      for (const [pid, comm] of extra)
        assert.ok(
          ["node", "sh", "sleep", "ps", "cat"].includes(comm),
          `${name}: unexpected process ${pid} ${comm}`,
        );
      t.diagnostic(
        `${name}: ${inImage.size} processes (${tasks.length} tasks) in the image; ps saw ${image.before.size} before, ${image.after.size} after; ${extra.length} short-lived`,
      );
    }
  });

  test("crash opens the image from inside in batch mode: sys names the guest's kernel, ps lists tasks", async () => {
    const inside = images.inside as { path: string; report: Report };
    const commands = guest.path("crash-commands");
    await writeFile(commands, "sys\nps\nquit\n");
    // crash 8.0.2 does not read KASLR from the note by itself ("do not match"): the report's offset tells it.
    const kaslr = inside.report.kernel?.kernelOffset as string;
    const r = spawnSync("crash", ["-s", "--kaslr", kaslr, vmlinux, inside.path, "-i", commands], {
      encoding: "utf8",
      timeout: 5 * MINUTES,
    });
    assert.equal(r.status, 0, `crash failed: ${r.stderr}${r.stdout}`);
    assert.match(r.stdout, new RegExp(`RELEASE: ${facts.release.replace(/\./g, "\\.")}`));
    assert.ok(r.stdout.includes(`VERSION: ${facts.version.slice(facts.version.indexOf("#"))}`), r.stdout);
    assert.match(r.stdout, /^\s+0\s+0\s+0\s+\S+\s+RU .*\[swapper\/0\]$/m, "ps lists the idle task of CPU 0");
  });

  test("symbols: the guest's debug vmlinux matches (exit 0), another build's does not (exit 5)", () => {
    const inside = images.inside?.path as string;
    const right = memimage(["symbols", inside, "--vmlinux", vmlinux]);
    assert.equal(right.code, 0, right.stdout + right.stderr);
    assert.match(right.stdout, /^MATCH: /m);
    const wrong = memimage(["symbols", inside, "--vmlinux", otherVmlinux]);
    assert.equal(wrong.code, 5, wrong.stdout + wrong.stderr);
    assert.match(wrong.stdout, /^MISMATCH: .*linux-image-.*-dbg/m);
  });

  test("vm --live (no dump, so no note from QEMU) finds the note and the banner in the guest's memory", async () => {
    const live = guest.path("live.lime");
    const r = memimage(["vm", "-q", "--live", "--qmp", guest.qmpSocket, "--format", "lime", "-o", live]);
    assert.equal(r.code, 0, r.stderr);
    const k = (JSON.parse(await readFile(`${live}.report.json`, "utf8")) as Report).kernel;
    assert.equal(k?.banner, facts.version);
    assert.equal(k?.buildId, facts.buildId);
    assert.equal(k?.kernelOffset, `0x${facts.kaslr.toString(16)}`);
    assert.match(typeof k?.vmcoreinfo === "object" ? k.vmcoreinfo.from : "", /scanning/);
  });

  test("info identifies the kernel of an image with no note and no kernel in its report (LiME), by scanning", () => {
    const lime = guest.path("converted.lime");
    const c = memimage(["convert", "-q", images.outside?.path as string, lime, "--format", "lime"]);
    assert.equal(c.code, 0, c.stderr);
    // The conversion's report names the kernel (from the ELF's note); without it, info must find it alone.
    const converted = JSON.parse(readFileSync(`${lime}.report.json`, "utf8")) as Report;
    assert.equal(converted.kernel?.buildId, facts.buildId);
    unlinkSync(`${lime}.report.json`);
    const info = memimage(["info", "--json", lime]);
    assert.equal(info.code, 0, info.stderr);
    const k = (JSON.parse(info.stdout) as { kernel: NonNullable<Report["kernel"]> }).kernel;
    assert.equal(k.banner, facts.version);
    assert.equal(k.buildId, facts.buildId);
    assert.equal(k.kernelOffset, `0x${facts.kaslr.toString(16)}`);
    assert.match(String((k.vmcoreinfo as { from: string }).from), /scanning/);
  });
});
