// The shell benchmarks' way to write their result file (bench/lib.sh: bench_result). Usage:
//   node dist/bench/record.js NAME SETUP PEER PEER_MIBPS PEAK_RSS_KIB RSS_GOAL_MIB "CASE|MIBPS|RATIO|GOAL"...
// GOAL and RSS_GOAL_MIB may be "-" (none), PEAK_RSS_KIB "-" (not measured). The load at the start comes from BENCH_LOAD_START (set by lib.sh).
import { loadNow, writeResult } from "./results.js";

const [name, setup, peer, peerMibps, rssKiB, rssGoal, ...cases] = process.argv.slice(2);
if (!name || !setup || !peer || !peerMibps || !rssKiB || !rssGoal || cases.length === 0)
  throw new Error(
    "usage: record NAME SETUP PEER PEER_MIBPS PEAK_RSS_KIB RSS_GOAL_MIB CASE|MIBPS|RATIO|GOAL...",
  );
const number = (text: string, what: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`record: ${what} is not a number: "${text}"`);
  return value;
};
const path = writeResult({
  name,
  setup,
  peer: { name: peer, mibPerSecond: number(peerMibps, "peer MiB/s") },
  cases: cases.map((spec) => {
    const [caseName = "", mibps = "", ratio = "", goal = "-"] = spec.split("|");
    return {
      name: caseName,
      mibPerSecond: number(mibps, `${caseName} MiB/s`),
      ratio: number(ratio, `${caseName} ratio`),
      ...(goal === "-" ? {} : { goal: number(goal, `${caseName} goal`) }),
    };
  }),
  ...(rssKiB === "-" ? {} : { peakRssMiB: Number((number(rssKiB, "peak RSS") / 1024).toFixed(1)) }),
  ...(rssGoal === "-" ? {} : { rssGoalMiB: number(rssGoal, "RSS goal") }),
  loadStart: Number(process.env.BENCH_LOAD_START ?? loadNow()),
});
process.stdout.write(`result: ${path}\n`);
