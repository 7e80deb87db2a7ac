// The guest's write log against pages whose physical frames the guest itself names: a process in the guest maps
// 32 pages, faults them all in, reads their frame numbers from /proc/self/pagemap, and once the log runs stores
// to the first 16 only. The log must hold those 16 and none of the other 16, and far from all of RAM.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { exists } from "../../src/core/exists.js";
import { Guest } from "../../src/lab/guest.js";
import { provisionLab } from "../../src/lab/provision.js";
import { WriteLog, writeLogArgs, writeLogPlugin } from "../../src/lab/write-log.js";
import { guestSkipReason } from "./harness.js";

const skip = await guestSkipReason();
const MEMORY_MIB = 256;
const PAGES = 32;

const PROBE = `import ctypes, mmap, os, struct, sys, time
d, n = sys.argv[1], ${PAGES}
m = mmap.mmap(-1, n * 4096)
for i in range(n):
    m[i * 4096] = 1
base = ctypes.addressof(ctypes.c_char.from_buffer(m)) >> 12
with open("/proc/self/pagemap", "rb") as f:
    frames = []
    for i in range(n):
        f.seek((base + i) * 8)
        entry = struct.unpack("<Q", f.read(8))[0]
        assert entry >> 63, "page not present"
        frames.append(entry & ((1 << 55) - 1))
with open(d + "/frames.tmp", "w") as out:
    out.write(" ".join(map(str, frames)))
os.rename(d + "/frames.tmp", d + "/frames")
while not os.path.exists(d + "/go"):
    time.sleep(0.05)
for i in range(n // 2):
    m[i * 4096 + 100] = 2
open(d + "/done", "w").close()
while not os.path.exists(d + "/exit"):
    time.sleep(0.05)
`;

let guest: Guest | undefined;
let log: WriteLog | undefined;
before(async () => {
  if (skip) return;
  const plugin = await writeLogPlugin((await provisionLab()).qemu, MEMORY_MIB);
  if ("unavailable" in plugin) throw new Error(`no write-log plugin: ${plugin.unavailable}`);
  guest = await Guest.boot({ memoryMiB: MEMORY_MIB, qemuArgs: writeLogArgs(plugin.path, MEMORY_MIB) });
  log = WriteLog.in(guest.runDir);
});
after(async () => {
  if (guest) await writeFile(guest.path("exit"), "");
  await guest?.shutdown();
});

async function until(path: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await exists(path))) {
    if (Date.now() > deadline) throw new Error(`the guest never wrote ${path}`);
    await sleep(100);
  }
}

async function paused<T>(g: Guest, what: () => Promise<T>): Promise<T> {
  await g.qmp.execute("stop");
  try {
    return await what();
  } finally {
    await g.qmp.execute("cont");
  }
}

test("the write log holds the pages the guest stored to, and not the ones it left alone", {
  skip,
  timeout: 10 * 60_000,
}, async () => {
  assert.ok(guest && log);
  const g = guest;
  const l = log;
  await writeFile(g.path("probe.py"), PROBE);
  await g.check(
    `setsid python3 ${g.path("probe.py")} ${g.runDir} > ${g.path("probe.log")} 2>&1 < /dev/null &`,
  );
  await until(g.path("frames"));
  const frames = (await readFile(g.path("frames"), "utf8")).split(" ").map(Number);
  assert.equal(frames.length, PAGES);
  await paused(g, () => l.start());
  await writeFile(g.path("go"), "");
  await until(g.path("done"));
  const { written, count } = await paused(g, async () => {
    const saved = await l.save(g.path("written"));
    await l.stop();
    return saved;
  });
  assert.equal(written.length, (MEMORY_MIB * 2 ** 20) / 4096);
  const stored = frames.slice(0, PAGES / 2);
  const untouched = frames.slice(PAGES / 2);
  assert.deepEqual(
    stored.filter((f) => written[f] !== 1),
    [],
    "every page stored to is in the log",
  );
  assert.deepEqual(
    untouched.filter((f) => written[f] === 1),
    [],
    "no page left alone is in the log",
  );
  assert.equal(
    count,
    written.reduce((n, b) => n + b, 0),
  );
  assert.ok(
    count < written.length / 4,
    `${count} of ${written.length} pages logged: the log is not everything`,
  );
});
