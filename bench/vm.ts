// memimage vm (QEMU's dump streamed through a FIFO, converted to LiME, hashed, fsynced) against QEMU's own
// dump-guest-memory into an ELF file, on the same guest in the same run, alternating. Prints the ratio of
// throughputs (>= 0.9 means the conversion costs at most 10%) and memimage's freeze time.
// Usage: node dist/bench/vm.js [--memory MiB,...] [--runs N]
import { spawnSync } from "node:child_process";
import { readFile, rm, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Guest } from "../src/lab/guest.js";
import { loadNow, writeResult } from "./results.js";

const loadStart = loadNow();

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const sizes = arg("--memory", "512,2048").split(",").map(Number);
const runs = Number(arg("--runs", "3"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;

async function qemuDump(guest: Guest, path: string): Promise<{ seconds: number; synced: number }> {
  const t0 = performance.now();
  guest.qmp.forget("DUMP_COMPLETED");
  await guest.qmp.execute("dump-guest-memory", { paging: false, protocol: `file:${path}`, detach: true });
  const done = await guest.qmp.waitEvent("DUMP_COMPLETED");
  if (done.data?.error) throw new Error(`QEMU's dump failed: ${String(done.data.error)}`);
  const seconds = (performance.now() - t0) / 1000;
  spawnSync("sync", [path]);
  return { seconds, synced: (performance.now() - t0) / 1000 };
}

for (const memoryMiB of sizes) {
  const guest = await Guest.boot({ memoryMiB });
  try {
    const q: number[] = [];
    const qs: number[] = [];
    const m: number[] = [];
    const freeze: number[] = [];
    let bytes = 0;
    for (let run = 0; run < runs; run++) {
      const elf = guest.path("qemu.elf");
      const lime = guest.path("memimage.lime");
      const r = await qemuDump(guest, elf);
      bytes = (await stat(elf)).size;
      q.push(r.seconds);
      qs.push(r.synced);
      await rm(elf);
      const t0 = performance.now();
      const p = spawnSync(CLI, ["vm", "-q", "--qmp", guest.qmpSocket, "-o", lime]);
      if (p.status !== 0) throw new Error(`memimage vm exited ${p.status}: ${p.stderr}`);
      m.push((performance.now() - t0) / 1000);
      const report = JSON.parse(await readFile(`${lime}.report.json`, "utf8")) as {
        source: { details: { freeze: { durationMs: number } } };
      };
      freeze.push(report.source.details.freeze.durationMs);
      await rm(lime);
      await rm(`${lime}.report.json`);
    }
    const mb = (s: number) => (bytes / 1048576 / s).toFixed(0);
    process.stdout.write(
      `${memoryMiB} MiB guest (${bytes} bytes dumped), median of ${runs}: QEMU dump-guest-memory to ELF ${median(q).toFixed(2)} s (${mb(median(q))} MiB/s; ${median(qs).toFixed(2)} s with sync), memimage vm to LiME ${median(m).toFixed(2)} s (${mb(median(m))} MiB/s), ratio ${(median(q) / median(m)).toFixed(2)}x (${(median(qs) / median(m)).toFixed(2)}x against QEMU + sync); freeze ${median(freeze).toFixed(0)} ms (runs: ${freeze.map((f) => f.toFixed(0)).join(", ")})\n`,
    );
    writeResult({
      name: `vm-${memoryMiB}`,
      setup: `${memoryMiB} MiB TCG guest, paused; median of ${runs} alternating runs; memimage streams QEMU's dump to LiME, hashed, fsynced; freeze ${median(freeze).toFixed(0)} ms`,
      peer: { name: "QEMU dump-guest-memory to ELF", mibPerSecond: Number(mb(median(q))) },
      cases: [
        {
          name: "vm --qmp -> LiME",
          mibPerSecond: Number(mb(median(m))),
          ratio: median(q) / median(m),
          goal: 0.9,
        },
      ],
      loadStart,
    });
  } finally {
    await guest.shutdown();
  }
}
