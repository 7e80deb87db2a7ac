// The built CLI, run as a user runs it: info, verify and convert on real files, and their exit codes.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import { cliCommand, memimage, scratchDir } from "../helpers/cli.js";
import { assertValidReport } from "../helpers/schema.js";

const scratch = scratchDir();
after(scratch.cleanup);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// A LiME file as LiME itself writes it: one record per range, end inclusive.
const ranges = [
  { start: 0x1000n, bytes: Buffer.alloc(0x9f000, 0x11) },
  { start: 0x100000n, bytes: Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 7) & 0xff)) },
  { start: 0x40000000n, bytes: Buffer.alloc(4096, 0xee) },
];
const limePath = scratch.path("peer.lime");
before(() => {
  writeFileSync(
    limePath,
    Buffer.concat(ranges.flatMap((r) => [encodeRecordHeader(r.start, r.bytes.length), r.bytes])),
  );
});

const readJson = (path: string) =>
  JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown> & {
    ranges: { sha256: string }[];
    output: { sha256: string };
  };

describe("info", () => {
  test("names format, ranges and sizes of a LiME image", () => {
    const run = memimage(["info", limePath]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /format\s+lime/);
    assert.match(run.stdout, /ranges\s+3, 3801088 bytes stored/);
    assert.match(run.stdout, /0x40000000 - 0x40001000\s+4096 bytes/);
  });

  test("--json --hash gives the ranges and the file's SHA-256", () => {
    const run = memimage(["info", "--json", "--hash", limePath]);
    assert.equal(run.status, 0, run.stderr);
    const info = JSON.parse(run.stdout) as {
      format: string;
      sha256: string;
      ranges: { start: string; length: number }[];
    };
    assert.equal(info.format, "lime");
    assert.equal(info.sha256, sha256(readFileSync(limePath)));
    assert.deepEqual(
      info.ranges.map((r) => [r.start, r.length]),
      ranges.map((r) => [`0x${r.start.toString(16)}`, r.bytes.length]),
    );
  });

  test("a missing file is one clear line, exit 1", () => {
    const run = memimage(["info", scratch.path("nope.lime")]);
    assert.equal(run.status, 1);
    assert.equal(run.stderr.trim(), `memimage: cannot open ${scratch.path("nope.lime")}: no such file`);
  });
});

describe("convert", () => {
  for (const format of ["padded", "raw", "elf", "lime"]) {
    test(`LiME -> ${format} -> LiME keeps every range hash, and the report validates`, () => {
      const out = scratch.path(`converted.${format}`);
      const run = memimage(["convert", limePath, out, "--format", format, "--quiet"]);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(statSync(out).mode & 0o777, 0o600, "images are created 0600");
      const report = readJson(`${out}.report.json`);
      assertValidReport(report);
      assert.equal(report.status, "complete");
      assert.equal(report.output.sha256, sha256(readFileSync(out)));
      assert.deepEqual(
        report.ranges.map((r) => r.sha256),
        ranges.map((r) => sha256(r.bytes)),
      );
      const back = scratch.path(`converted.${format}.lime`);
      assert.equal(memimage(["convert", out, back, "-f", "lime", "-q"]).status, 0);
      assert.deepEqual(
        readJson(`${back}.report.json`).ranges.map((r) => r.sha256),
        ranges.map((r) => sha256(r.bytes)),
      );
      assert.equal(memimage(["verify", out]).status, 0);
    });
  }

  test("padded file offsets are physical addresses", () => {
    const out = scratch.path("offsets.padded");
    assert.equal(memimage(["convert", limePath, out, "-f", "padded", "-q"]).status, 0);
    const padded = readFileSync(out);
    assert.equal(padded.length, 0x40001000);
    assert.equal(padded[0x100000 + 5], (5 * 7) & 0xff);
    assert.equal(padded[0x40000000], 0xee);
    assert.equal(padded[0xfff], 0);
  });

  test("never overwrites: an existing output is refused with exit 1 and left untouched", () => {
    const out = scratch.path("exists.raw");
    writeFileSync(out, "precious");
    const run = memimage(["convert", limePath, out, "-f", "raw"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /exists\.raw already exists; memimage never overwrites/);
    assert.equal(readFileSync(out, "utf8"), "precious");
  });

  test("a missing output directory is exit 1 before anything is written", () => {
    const run = memimage(["convert", limePath, scratch.path("no/such/dir/x.raw"), "-f", "raw"]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /the directory .*no\/such\/dir does not exist/);
  });

  test("an unknown format is a usage error, exit 2", () => {
    const run = memimage(["convert", limePath, scratch.path("x.img"), "-f", "vmdk"]);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /unknown format "vmdk"/);
  });

  test("to stdout: the bytes are the image, the report goes to stderr", () => {
    const result = spawnSync(...cliCommand(["convert", limePath, "-", "-f", "raw"]), {
      maxBuffer: 64 << 20,
    });
    assert.equal(result.status, 0, result.stderr.toString());
    assert.deepEqual(result.stdout, Buffer.concat(ranges.map((r) => r.bytes)));
    const report = JSON.parse(result.stderr.toString()) as { output: { sha256: string; sink: string } };
    assert.equal(report.output.sink, "stdout");
    assert.equal(report.output.sha256, sha256(result.stdout));
  });

  test("a reader that goes away mid-stream: exit 4, report says aborted", async () => {
    const child = spawn(
      ...cliCommand(["convert", limePath, "-", "-f", "raw", "--report", scratch.path("pipe.report.json")]),
    );
    const stderr: Buffer[] = [];
    child.stderr.on("data", (d: Buffer) => stderr.push(d));
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(status, 4, Buffer.concat(stderr).toString());
    assert.match(Buffer.concat(stderr).toString(), /standard output failed after \d+ bytes/);
    const report = readJson(scratch.path("pipe.report.json"));
    assert.equal(report.status, "aborted");
    assert.equal((report.output as unknown as { complete: boolean }).complete, false);
  });
});

describe("verify", () => {
  test("a flipped byte is found: exit 5 and the range named", () => {
    const out = scratch.path("flip.lime");
    assert.equal(memimage(["convert", limePath, out, "-f", "lime", "-q"]).status, 0);
    const bytes = readFileSync(out);
    bytes[32 + 0x9f000 + 32 + 100] = (bytes[32 + 0x9f000 + 32 + 100] ?? 0) ^ 0xff;
    writeFileSync(out, bytes);
    const run = memimage(["verify", out]);
    assert.equal(run.status, 5);
    assert.match(run.stdout, /MISMATCH output\.sha256/);
    assert.match(run.stdout, /MISMATCH ranges\[1\]\.sha256/);
    assert.match(run.stdout, /2 of 3 ranges match/);
  });

  test("--sha256 compares with a given hash", () => {
    const good = sha256(readFileSync(limePath));
    assert.equal(memimage(["verify", "--sha256", good, limePath]).status, 0);
    assert.equal(memimage(["verify", "--sha256", "0".repeat(64), limePath]).status, 5);
  });

  test("nothing to compare with is a usage error", () => {
    const run = memimage(["verify", limePath]);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /nothing to compare .*no report at .*peer\.lime\.report\.json/);
  });

  test("the CASE file beside the report is validated against the shapes and must name the image's hash", () => {
    const out = scratch.path("cased.elf");
    assert.equal(memimage(["convert", limePath, out, "-f", "elf", "-q", "--case"]).status, 0);
    const good = memimage(["verify", "--json", out]);
    assert.equal(good.status, 0, good.stdout);
    const fields = (JSON.parse(good.stdout) as { checks: { field: string; ok: boolean }[] }).checks.map(
      (c) => c.field,
    );
    assert.ok(fields.includes("case (SHACL)") && fields.includes("case (image SHA-256)"));
    const casePath = `${out}.case.jsonld`;
    const tampered = readFileSync(casePath, "utf8").replace(
      /("uco-observable:sizeInBytes":\s*\{\s*"@type":\s*"xsd:integer",\s*"@value":\s*)"\d+"/,
      '$1"lots"',
    );
    assert.notEqual(tampered, readFileSync(casePath, "utf8"));
    writeFileSync(casePath, tampered);
    const bad = memimage(["verify", "--json", out]);
    assert.equal(bad.status, 5);
    const failed = (
      JSON.parse(bad.stdout) as { checks: { field: string; ok: boolean; actual: string }[] }
    ).checks.filter((c) => !c.ok);
    assert.deepEqual(
      failed.map((c) => c.field),
      ["case (SHACL)"],
    );
    assert.match(failed[0]?.actual ?? "", /datatype/);
  });

  for (const [field, edit] of [
    ["output.bytes", (r: Record<string, unknown>) => ((r.output as { bytes: number }).bytes += 1)],
    [
      "ranges[2].sha256",
      (r: Record<string, unknown>) =>
        ((r.ranges as { sha256: string }[])[2] = {
          ...(r.ranges as { sha256: string }[])[2],
          sha256: "0".repeat(64),
        } as never),
    ],
    ["ranges", (r: Record<string, unknown>) => (r.ranges as unknown[]).pop()],
  ] as const) {
    test(`an edited report: verify names the field that disagrees (${field})`, () => {
      const out = scratch.path(`edited-${field.replace(/\W/g, "")}.elf`);
      assert.equal(memimage(["convert", limePath, out, "-f", "elf", "-q"]).status, 0);
      assert.equal(memimage(["verify", out]).status, 0);
      const report = JSON.parse(readFileSync(`${out}.report.json`, "utf8")) as Record<string, unknown>;
      edit(report);
      writeFileSync(`${out}.report.json`, JSON.stringify(report));
      const run = memimage(["verify", "--json", out]);
      assert.equal(run.status, 5, run.stderr);
      const failed = (JSON.parse(run.stdout) as { checks: { field: string; ok: boolean }[] }).checks.filter(
        (c) => !c.ok,
      );
      assert.deepEqual(
        failed.map((c) => c.field),
        [field],
      );
    });
  }
});

describe("full disk", {
  skip: process.getuid?.() !== 0 ? "needs root to mount a small tmpfs" : false,
}, () => {
  const mountPoint = scratch.path("small");
  before(() => {
    mkdirSync(mountPoint);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
    assert.equal(mounted.status, 0, mounted.stderr.toString());
  });
  after(() => spawnSync("umount", [mountPoint]));

  test("disk full: exit 4, the partial image kept as .partial, never as the image", () => {
    const out = `${mountPoint}/full.raw`;
    const run = memimage([
      "convert",
      limePath,
      out,
      "-f",
      "raw",
      "--report",
      scratch.path("full.report.json"),
    ]);
    assert.equal(run.status, 4, run.stderr);
    assert.match(run.stderr, /disk full after \d+ bytes; the partial image is kept as .*full\.raw\.partial/);
    assert.equal(existsSync(out), false);
    assert.equal(existsSync(`${out}.partial`), true);
    const report = readJson(scratch.path("full.report.json"));
    assertValidReport(report);
    assert.equal(report.status, "aborted");
    assert.equal(report.exitCode, 4);
  });
});

describe("signals", () => {
  for (const [signal, status] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    test(`${signal} stops cleanly: exit ${status}, the image kept as .partial, the report says aborted`, async () => {
      // Two ranges 64 GiB apart: the padded gap alone takes far longer to write than the test waits.
      const far = scratch.path(`far-${signal}.lime`);
      writeFileSync(
        far,
        Buffer.concat([
          encodeRecordHeader(0n, 4096),
          Buffer.alloc(4096, 1),
          encodeRecordHeader(64n << 30n, 4096),
          Buffer.alloc(4096, 2),
        ]),
      );
      const out = scratch.path(`far-${signal}.padded`);
      const child = spawn(...cliCommand(["convert", far, out, "-f", "padded", "-q"]));
      const stderr: Buffer[] = [];
      child.stderr.on("data", (d: Buffer) => stderr.push(d));
      // The partial file exists once the signal handlers are in place and the pipeline runs.
      for (let waited = 0; !existsSync(`${out}.partial`) && waited < 20_000; waited += 50)
        await new Promise((resolve) => setTimeout(resolve, 50));
      child.kill(signal);
      const exit = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(exit, status, Buffer.concat(stderr).toString());
      assert.equal(existsSync(out), false);
      assert.equal(existsSync(`${out}.partial`), true);
      const report = readJson(`${out}.partial.report.json`);
      assertValidReport(report);
      assert.equal(report.status, "aborted");
      assert.match(String(report.error), new RegExp(signal));
      // The report's hash and size are those of the partial file as it is: exactly what was written.
      const partial = readFileSync(`${out}.partial`);
      assert.equal(report.output.sha256, sha256(partial));
      assert.equal((report.output as unknown as { bytes: number }).bytes, partial.length);
    });
  }
});

describe("hashing engines", () => {
  test("SHA-256 on the thread pool (native addon) and on the main thread (Node crypto) agree, with BLAKE3 beside", () => {
    const reports = ["native", "fallback"].map((engine) => {
      const out = scratch.path(`engine-${engine}.lime`);
      const run = memimage(
        ["convert", limePath, out, "-f", "lime", "-q", "--blake3"],
        engine === "fallback" ? { env: { MEMIMAGE_NO_NATIVE: "1" } } : {},
      );
      assert.equal(run.status, 0, run.stderr);
      return readJson(`${out}.report.json`);
    });
    const [native, fallback] = reports as [ReturnType<typeof readJson>, ReturnType<typeof readJson>];
    const engines = reports.map((r) => (r.tool as { sha256: string }).sha256);
    assert.equal(engines[1], "Node crypto on the main thread");
    if (process.env.CI)
      assert.equal(engines[0], "OpenSSL on the thread pool (native addon)", "CI builds the addon");
    assert.equal(native.output.sha256, fallback.output.sha256);
    assert.equal(native.output.sha256, sha256(readFileSync(scratch.path("engine-native.lime"))));
    assert.deepEqual(
      native.ranges.map((r) => r.sha256),
      fallback.ranges.map((r) => r.sha256),
    );
    assert.match(String((native.output as unknown as { blake3: string }).blake3), /^[0-9a-f]{64}$/);
    assert.equal(
      (native.output as unknown as { blake3: string }).blake3,
      (fallback.output as unknown as { blake3: string }).blake3,
    );
  });
});
