// --swap on this host with a real swap file (root: mkswap, swapon; always swapoff and removed afterwards).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import type { Report } from "../../src/report/report.js";
import { memimage } from "../helpers/cli.js";
import { assertValidReport } from "../helpers/schema.js";

const root = process.getuid?.() === 0;
const dir = mkdtempSync(join("/var/tmp", "memimage-swap-"));
const swapfile = join(dir, "swapfile");
let on = false;
after(() => {
  if (on) spawnSync("swapoff", [swapfile]);
  rmSync(dir, { recursive: true, force: true });
});

test("--swap copies an active swap file into OUT.swap, hashed per area", {
  skip: root ? false : "needs root",
}, () => {
  writeFileSync(swapfile, Buffer.alloc(16 << 20), { mode: 0o600 });
  assert.equal(spawnSync("mkswap", [swapfile]).status, 0);
  const swapon = spawnSync("swapon", [swapfile], { encoding: "utf8" });
  assert.equal(swapon.status, 0, swapon.stderr);
  on = true;
  const lime = join(dir, "in.lime");
  writeFileSync(lime, Buffer.concat([encodeRecordHeader(0x1000n, 4096), Buffer.alloc(4096, 1)]));
  const out = join(dir, "out.lime");
  const run = memimage(["convert", lime, out, "-f", "lime", "-q", "--swap"]);
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(readFileSync(`${out}.report.json`, "utf8")) as Report;
  assertValidReport(report);
  const swap = report.weaknesses?.swapNotCollected;
  assert.ok(Array.isArray(swap?.active) && swap.active.some((a) => a.path === swapfile));
  const collected = swap?.collected;
  assert.ok(typeof collected === "object", JSON.stringify(collected));
  const area = collected.areas.find((a) => a.path === swapfile);
  assert.ok(area);
  const image = readFileSync(`${out}.swap`);
  assert.equal(collected.sha256, createHash("sha256").update(image).digest("hex"));
  const bytes = image.subarray(area.offset, area.offset + area.length);
  assert.equal(area.sha256, createHash("sha256").update(bytes).digest("hex"));
  assert.equal(bytes.subarray(4086, 4096).toString("latin1"), "SWAPSPACE2", "the swap header is in the copy");
});
