// TCP over loopback with a real receiver process, cut from either side; the disk budget on a real filesystem.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import { cliCommand, memimage, scratchDir } from "../helpers/cli.js";

const scratch = scratchDir();
after(scratch.cleanup);

/** A LiME image of `mib` MiB of bytes that do not repeat. */
function limeImage(name: string, mib: number): string {
  const path = scratch.path(name);
  const data = Buffer.alloc(mib << 20);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(path, Buffer.concat([encodeRecordHeader(0x100000n, data.length), data]));
  return path;
}

function start(args: string[]): {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(...cliCommand(args), { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

/** Starts `memimage receive` on a free loopback port; returns it once it listens. */
async function receiver(dir: string, count = 1) {
  const r = start(["receive", "--listen", "127.0.0.1:0", "-o", dir, "--count", String(count)]);
  for (let i = 0; i < 200 && !/receiving on/.test(r.stderr()); i++) await sleep(25);
  const port = Number(/receiving on 127\.0\.0\.1:(\d+)/.exec(r.stderr())?.[1]);
  assert.ok(port > 0, r.stderr());
  return { ...r, port };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);

describe("tcp:// to memimage receive", () => {
  const image = limeImage("send.lime", 48);

  test("an image and its report arrive; the receiver verifies the SHA-256 and names the sending host", async () => {
    const dir = scratch.path("in-ok");
    require_dir(dir);
    const r = await receiver(dir);
    const sent = start(["convert", image, `tcp://127.0.0.1:${r.port}/host1.avml`, "-f", "avml", "-q"]);
    assert.equal(await sent.exited, 0, sent.stderr());
    assert.equal(await r.exited, 0, r.stderr());
    assert.match(
      r.stderr(),
      /complete: .*host1\.avml \(\d+ bytes\) from \S+ at 127\.0\.0\.1:\d+: sha256 [0-9a-f]{64} verified/,
    );
    const report = JSON.parse(readFileSync(`${dir}/host1.avml.report.json`, "utf8"));
    assert.equal(report.output.sink, "tcp");
    const verify = memimage(["verify", `${dir}/host1.avml`]);
    assert.equal(verify.status, 0, verify.stderr);
  });

  test("the sender dies mid-stream: the receiver keeps NAME.partial, never NAME, and exits 4", async () => {
    const dir = scratch.path("in-cut");
    require_dir(dir);
    const r = await receiver(dir);
    const sent = start(["convert", image, `tcp://127.0.0.1:${r.port}/cut.lime`, "-f", "lime", "-q"]);
    await until("the first bytes", () => size(`${dir}/cut.lime.partial`) > 0);
    sent.child.kill("SIGSTOP"); // stopped mid-stream, whatever the speed of the machine
    sent.child.kill("SIGKILL");
    assert.equal(await r.exited, 4, r.stderr());
    assert.match(
      r.stderr(),
      /partial: .*cut\.lime\.partial \(\d+ bytes\) .*connection (ended|failed) after \d+ bytes/,
    );
    assert.deepEqual(readdirSync(dir), ["cut.lime.partial"]);
    assert.ok(size(`${dir}/cut.lime.partial`) < statSync(image).size);
  });

  test("the receiver dies mid-stream: the sender says so in one line and exits 4", async () => {
    const dir = scratch.path("in-gone");
    require_dir(dir);
    const r = await receiver(dir);
    const sent = start(["convert", image, `tcp://127.0.0.1:${r.port}/gone.lime`, "-f", "lime", "-q"]);
    await until("the first bytes", () => size(`${dir}/gone.lime.partial`) > 0);
    r.child.kill("SIGSTOP");
    r.child.kill("SIGKILL");
    assert.equal(await sent.exited, 4, sent.stderr());
    const last = sent.stderr().trim().split("\n").at(-1) ?? "";
    assert.match(
      last,
      /^memimage: tcp:\/\/127\.0\.0\.1:\d+\/gone\.lime: .*after \d+ bytes of the image; the image there is incomplete$/,
    );
  });

  test("nothing listening: exit 1, one line, before any output", () => {
    const run = memimage(["convert", image, "tcp://127.0.0.1:1/x.lime", "-f", "lime", "-q"]);
    assert.equal(run.status, 1);
    assert.match(
      run.stderr.trim(),
      /^memimage: cannot connect to tcp:\/\/127\.0\.0\.1:1\/x\.lime: ECONNREFUSED/,
    );
  });
});

describe("--listen: LiME's TCP mode", () => {
  test("a plain TCP client receives exactly the bytes -o would have written", async () => {
    const image = limeImage("listen.lime", 4);
    const sent = start([
      "convert",
      image,
      "-",
      "-f",
      "lime",
      "--listen",
      "127.0.0.1:0",
      "--report",
      scratch.path("listen.report.json"),
      "-q",
    ]);
    await until("listening", () => /waiting on 127\.0\.0\.1:\d+/.test(sent.stderr()));
    const port = Number(/waiting on 127\.0\.0\.1:(\d+)/.exec(sent.stderr())?.[1]);
    const received: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, "127.0.0.1");
      s.on("data", (b: Buffer) => received.push(b));
      s.on("end", () => resolve());
      s.on("error", reject);
    });
    assert.equal(await sent.exited, 0, sent.stderr());
    const file = scratch.path("listen.file.lime");
    assert.equal(memimage(["convert", image, file, "-f", "lime", "-q"]).status, 0);
    assert.deepEqual(Buffer.concat(received), readFileSync(file));
    const report = JSON.parse(readFileSync(scratch.path("listen.report.json"), "utf8"));
    assert.equal(report.output.sink, "tcp-listen");
  });
});

describe("--max-disk-usage", () => {
  test("stops before the filesystem crosses the budget: image left .partial, exit 4, one line saying why", () => {
    const image = limeImage("budget.lime", 64);
    const fs = statfsSync(scratch.dir);
    const used = (fs.blocks - fs.bfree) * fs.bsize;
    const out = scratch.path("budget.out.lime");
    const run = memimage([
      "convert",
      image,
      out,
      "-f",
      "lime",
      "-q",
      "--max-disk-usage",
      String(used + (8 << 20)),
    ]);
    assert.equal(run.status, 4, run.stderr);
    assert.match(
      run.stderr,
      /budget\.out\.lime\.partial: stopped after \d+ bytes, before the filesystem crosses --max-disk-usage/,
    );
    assert.equal(existsSync(out), false);
    assert.ok(size(`${out}.partial`) <= 8 << 20);
    const report = JSON.parse(readFileSync(`${out}.partial.report.json`, "utf8"));
    assert.equal(report.status, "aborted");
  });

  test("a percentage is checked too, and a bad value is a usage error", () => {
    const image = limeImage("pct.lime", 1);
    assert.equal(
      memimage(["convert", image, scratch.path("pct.out"), "-f", "lime", "-q", "--max-disk-usage", "100%"])
        .status,
      0,
    );
    const bad = memimage([
      "convert",
      image,
      scratch.path("pct2.out"),
      "-f",
      "lime",
      "--max-disk-usage",
      "150%",
    ]);
    assert.equal(bad.status, 2, bad.stderr);
  });
});

function require_dir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
