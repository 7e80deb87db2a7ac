// memimage acquire vs LiME, in the same TCG guest, into the same kind of sink (a file on the host's 9p share).
// Prints throughput, the ratio and memimage's peak RSS. Run: node dist/bench/physical.js [--runs N]
import { fileURLToPath } from "node:url";
import { totalLength } from "../src/core/map.js";
import { Guest } from "../src/lab/guest.js";
import { buildLime } from "../src/lab/lime.js";
import { parseIomem, systemRam } from "../src/sources/iomem.js";
import { loadNow, writeResult } from "./results.js";

const loadStart = loadNow();

const memimage = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 1;

interface Measure {
  seconds: number;
  maxRssKiB: number;
}

/** Runs under GNU time in the guest: elapsed seconds and peak RSS of the command itself. */
async function timed(guest: Guest, command: string, output: string): Promise<Measure> {
  const r = await guest.run(
    `/usr/bin/time -f "%e %M" sh -c '${command}' 2>&1 >/dev/null | tail -1; rm -f ${output}`,
  );
  const [seconds, rss] = r.stdout.trim().split(/\s+/).map(Number);
  if (!seconds) throw new Error(`could not time: ${command}\n${r.stdout}${r.stderr}`);
  return { seconds, maxRssKiB: rss ?? 0 };
}

async function main(): Promise<void> {
  const guest = await Guest.boot({ memoryMiB: 512 });
  try {
    const ram = totalLength(systemRam(parseIomem(await guest.check("cat /proc/iomem"))));
    const lime = await buildLime(guest.lab.kernel.release);
    const rows: { tool: string; m: Measure }[] = [];
    for (let i = 0; i < runs; i++) {
      const ours = guest.path(`bench-${i}.lime`);
      rows.push({
        tool: "memimage acquire --format lime (kcore)",
        m: await timed(
          guest,
          `${process.execPath} ${memimage} acquire -q --source kcore -o ${ours}`,
          `${ours}*`,
        ),
      });
      const peer = guest.path(`bench-lime-${i}.lime`);
      rows.push({
        tool: "LiME format=lime",
        m: await timed(guest, `insmod ${lime} "path=${peer} format=lime timeout=0" && rmmod lime`, peer),
      });
    }
    const best = (tool: string) =>
      Math.min(...rows.filter((r) => r.tool.startsWith(tool)).map((r) => r.m.seconds));
    const ours = best("memimage");
    const peer = best("LiME");
    const mbps = (s: number) => (ram / 1e6 / s).toFixed(1);
    const rss = Math.max(...rows.filter((r) => r.tool.startsWith("memimage")).map((r) => r.m.maxRssKiB));
    process.stdout.write(
      `guest: ${guest.lab.kernel.release}, 512 MiB, TCG, 2 vCPUs; System RAM ${ram} bytes; sink: file on 9p\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `  ${r.tool}: ${r.m.seconds} s, ${mbps(r.m.seconds)} MB/s, peak RSS ${r.m.maxRssKiB} KiB\n`,
      );
    process.stdout.write(
      `best: memimage ${mbps(ours)} MB/s, LiME ${mbps(peer)} MB/s, ratio memimage/LiME ${(peer / ours).toFixed(2)}x; memimage peak RSS ${(rss / 1024).toFixed(1)} MiB\n`,
    );
    const mib = (s: number) => Number((ram / 2 ** 20 / s).toFixed(1));
    writeResult({
      name: "physical",
      setup: `512 MiB TCG guest (${guest.lab.kernel.release}), best of ${runs}, into a file on the host's 9p share`,
      peer: { name: "LiME format=lime", mibPerSecond: mib(peer) },
      cases: [
        { name: "acquire --source kcore -> LiME", mibPerSecond: mib(ours), ratio: peer / ours, goal: 1.2 },
      ],
      peakRssMiB: Number((rss / 1024).toFixed(1)),
      rssGoalMiB: 64,
      loadStart,
    });
  } finally {
    await guest.shutdown();
  }
}

await main();
