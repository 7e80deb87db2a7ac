// memimage validate end to end, as a lab would run it: memimage and LiME measured in the guest against the
// hypervisor's dumps and the guest's write log (idle and busy), then two deliberately broken imagers (one flips
// bytes in kernel rodata, one drops a range) that must be caught. Two guest boots, each by the command itself.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { validate as validateXml } from "fast-xml-parser";
import { exec } from "../../src/lab/exec.js";
import type { RunResult } from "../../src/validate/measure.js";
import type { Summary } from "../../src/validate/summary.js";
import { cliCommand } from "../helpers/cli.js";
import { guestSkipReason } from "./harness.js";

const skip = await guestSkipReason();
const MINUTES = 60_000;
const dir = await mkdtemp(join(tmpdir(), "memimage-validate-test-"));
after(() => rm(dir, { recursive: true, force: true }));

interface Output {
  summaries: Summary[];
  runs: RunResult[];
  html: string;
}

async function validate(args: string[]): Promise<{ code: number; out: Output; stderr: string }> {
  const { code, stdout, stderr } = await exec(
    ...cliCommand(["validate", "--memory", "256M", "--json", ...args]),
    {
      allowFailure: true,
    },
  );
  try {
    return { code, out: JSON.parse(stdout) as Output, stderr };
  } catch {
    throw new Error(`validate exited ${code} without JSON:\n${stderr}\n${stdout}`);
  }
}

function line(r: RunResult): string {
  const p = r.pages;
  return `${r.tool} ${r.workload}: coverage ${((r.coverage ?? 0) * 100).toFixed(4)}%, identical ${p?.identical}, smear ${p?.smear}, errors ${p?.errors}, missing ${p?.missing}, declared ${p?.declaredUnreadable}, kernel ${r.kernelIdentical}, ${r.time.toolSeconds} s, RSS ${r.footprint.peakRssBytes}, changed ${r.footprint.changedPages}, written ${r.pages?.written}, changed without a logged store ${r.pages?.changedUnlogged}`;
}

test("memimage and LiME on an idle and a busy guest: all of RAM, kernel exact, the report a valid XHTML picture", {
  skip,
  timeout: 60 * MINUTES,
}, async (t) => {
  const html = join(dir, "report.html");
  const { out, stderr } = await validate([
    "--tool",
    "memimage",
    "--tool",
    "lime",
    "--workload",
    "idle",
    "--workload",
    "busy",
    "--html",
    html,
  ]);
  for (const r of out.runs) t.diagnostic(line(r));
  assert.equal(out.runs.length, 4, stderr);
  for (const r of out.runs.filter((x) => x.tool === "memimage")) {
    assert.equal(r.toolExit === 0 || r.toolExit === 3, true, `memimage exited ${r.toolExit}`);
    assert.equal(r.pages?.missing, 0, "every page not imaged was declared unreadable by memimage");
    assert.equal(r.kernelIdentical, "yes");
    // All of System RAM but what memimage itself declared unreadable (kcore gives no partial last page).
    const notImaged = r.systemRamBytes - (r.bytesInImage ?? 0);
    assert.ok(notImaged < 4096 * (r.pages?.declaredUnreadable ?? 0) + 1, `${notImaged} bytes not imaged`);
    assert.ok((r.coverage ?? 0) > 0.9999);
    assert.match(r.readTimes, /per-block read times/);
    assert.equal(typeof r.footprint.peakRssBytes, "number");
    assert.match(r.changesSeenBy, /write log/);
    assert.ok((r.pages?.written ?? 0) > 0, "the write log saw memimage's own stores");
    assert.equal(typeof r.pages?.changedUnlogged, "number");
    // Every page memimage wrote is either the page as it was at some moment of the window, or declared.
    assert.equal(r.pages?.errors, 0, r.failures.join("; "));
    assert.equal(r.passed, true, r.failures.join("; "));
  }
  const busy = out.runs.find((r) => r.tool === "memimage" && r.workload === "busy");
  const idle = out.runs.find((r) => r.tool === "memimage" && r.workload === "idle");
  assert.ok(
    (busy?.pages?.smear ?? 0) > (idle?.pages?.smear ?? 0),
    "a busy guest smears more than an idle one",
  );
  for (const r of out.runs.filter((x) => x.tool === "lime")) {
    assert.equal(r.format, "lime");
    assert.ok(r.pages && r.pages.compared > 60000, "every page of LiME's image classified");
    assert.match(String(r.footprint.peakRssBytes), /^unknown: LiME runs in the kernel/);
    assert.match(r.readTimes, /^unknown/);
  }
  assert.equal(out.summaries.length, 4);
  const text = await readFile(html, "utf8");
  assert.equal(validateXml(text), true, "the HTML report is well-formed XHTML");
  assert.equal((text.match(/<svg /g) ?? []).length, 4);
  assert.match(text, /read time/);
});

test("broken imagers are caught: flipped bytes in kernel rodata, a dropped range", {
  skip,
  timeout: 60 * MINUTES,
}, async (t) => {
  const flip = join(dir, "flip.sh");
  const drop = join(dir, "drop.sh");
  // $1 the image, $2 memimage: a padded image (file offset = address), then 4 pages of kernel rodata overwritten.
  await writeFile(
    flip,
    `$2 acquire -q -f padded -o "$1"; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 3 ] || exit $rc
rodata=$(grep "Kernel rodata" /proc/iomem | sed 's/^ *//; s/-.*//')
dd if=/dev/urandom of="$1" bs=4096 seek=$((0x$rodata / 4096 + 16)) count=4 conv=notrunc 2>/dev/null
`,
  );
  // $1 the image, $2 lime.ko: LiME's image without its first record (the range below 640 KiB), copied in blocks of
  // that record's size (busybox tail copies through 9p a few KiB at a time: minutes).
  await writeFile(
    drop,
    `insmod "$2" "path=$1.full format=lime timeout=0" && rmmod lime || exit 1
s=$(od -An -tu8 -j8 -N8 "$1.full"); e=$(od -An -tu8 -j16 -N8 "$1.full")
dd if="$1.full" of="$1" bs=$((32 + e - s + 1)) skip=1 2>/dev/null; rm -f "$1.full"
`,
  );
  const { code, out, stderr } = await validate([
    "--tool",
    `sh ${flip} {out} "{memimage}"`,
    "--tool",
    `sh ${drop} {out} {lime}`,
    "--html",
    join(dir, "broken.html"),
  ]);
  for (const r of out.runs) t.diagnostic(`${line(r)}; ${r.failures.join("; ")}`);
  assert.equal(code, 5, stderr);
  const [flipped, dropped] = out.runs;
  assert.equal(flipped?.passed, false);
  assert.equal(flipped?.kernelIdentical, "no");
  assert.equal(flipped?.kernelPagesDiffering, 4, "the 4 pages of rodata overwritten");
  assert.equal(flipped?.pages?.errors, 4, "the 4 overwritten pages, and no other page of memimage's image");
  assert.match(flipped?.failures.join("\n") ?? "", /rodata identical to the dumps: no \(4 pages differ\)/);
  assert.equal(dropped?.passed, false);
  assert.equal(dropped?.pages?.missing, 159, "0x1000-0x9fbff: 158 pages and a partial one");
  assert.match(dropped?.failures.join("\n") ?? "", /159 pages of System RAM are not in the image/);
  assert.ok(out.summaries.every((s) => s.passed === 0));
});

test("a guest that dies mid-way: validate reports the runs that finished, says why it stopped, exits 1", {
  skip,
  timeout: 20 * MINUTES,
}, async () => {
  const { code, out, stderr } = await validate([
    "--tool",
    "head -c 4096 /dev/zero > {out}",
    "--tool",
    "echo o > /proc/sysrq-trigger; sleep 60 # {out}",
    "--tool-format",
    "raw",
    "--no-write-log",
    "--html",
    join(dir, "stopped.html"),
  ]);
  assert.equal(code, 1, stderr);
  const stopped = out as Output & { stopped?: string; runsPlanned?: number };
  assert.equal(stopped.runs.length, 1, "the first run finished and is reported");
  assert.equal(stopped.runs[0]?.passed, false, "an image of 4096 zero bytes is not the guest's RAM");
  assert.equal(stopped.runsPlanned, 2);
  assert.match(
    stopped.stopped ?? "",
    /^run 1\/1 of echo o .* did not finish: the guest stopped while running/,
  );
  assert.match(stderr, /stopped after 1 of 2 runs/);
  assert.match(await readFile(join(dir, "stopped.html"), "utf8"), /Stopped early: run 1\/1 of echo o/);
});
