// The single executable (npm run binary) as a responder uses it: alone in an empty directory, no node_modules
// anywhere near it, it passes the package's CLI suites, writes byte-identical images, and where no tmpfs lets it
// load its native pieces it falls back to plain Node and says so.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import type { RunResult } from "../../src/validate/measure.js";
import { guestSkipReason } from "../guest/harness.js";
import { CLI, scratchDir } from "../helpers/cli.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
// The suites that run memimage only through test/helpers/cli.ts, so they can run against another executable.
const suites = (...names: string[]) =>
  names.map((name) => join(ROOT, "dist", "test", "integration", `${name}.test.js`));

const guestSkip = await guestSkipReason();
const scratch = scratchDir("memimage-binary-");
after(scratch.cleanup);
const alone = scratch.path("alone");
const binary = join(alone, "memimage");
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

// An image with every kind of block AVML treats differently: compressible, incompressible, all zero (left out),
// and a short last record.
const limePath = scratch.path("input.lime");

before(() => {
  chmodSync(scratch.dir, 0o755); // the process suite runs the binary as another user too
  mkdirSync(alone);
  const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build-binary.mjs"), binary], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 10 * 60_000,
  });
  assert.equal(built.status, 0, `npm run binary failed:\n${built.stdout}\n${built.stderr}`);
  const ranges = [
    { start: 0x1000n, bytes: Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i >> 9) & 0xff)) },
    { start: 0x400000n, bytes: randomBytes(1 << 20) },
    { start: 0x600000n, bytes: Buffer.alloc(2 << 20) },
    { start: 0x900000n, bytes: Buffer.from("memimage ".repeat(5000)) },
  ];
  writeFileSync(
    limePath,
    Buffer.concat(ranges.flatMap((r) => [encodeRecordHeader(r.start, r.bytes.length), r.bytes])),
  );
});

function runBinary(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(binary, args, { cwd: alone, encoding: "utf8", env: { ...process.env, ...env } });
}

const readReport = (path: string) =>
  JSON.parse(readFileSync(`${path}.report.json`, "utf8")) as {
    tool: { sha256: string; version: string; build: string };
  };

describe("single executable", { timeout: 30 * 60_000 }, () => {
  test("it is alone in its directory and --version gives version, commit and build date", () => {
    assert.deepEqual(readdirSync(alone), ["memimage"]);
    const run = runBinary(["--version"]);
    assert.equal(run.status, 0, run.stderr);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const [name, commit, built] = run.stdout.trim().split("\n");
    assert.equal(name, `memimage ${pkg.version}`);
    // Built in a checkout, it names a commit of it (marked -dirty if files differed from it); only without git
    // is it unknown.
    const sha = /^commit ([0-9a-f]{40})(-dirty)?$/.exec(String(commit))?.[1];
    if (spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT }).status === 0) {
      assert.ok(sha, String(commit));
      const known = spawnSync("git", ["cat-file", "-e", `${sha}^{commit}`], { cwd: ROOT });
      assert.equal(known.status, 0, `${sha} is not a commit of this repository`);
    } else assert.equal(commit, "commit unknown");
    const date = Date.parse(String(built).replace(/^built /, ""));
    assert.ok(Math.abs(Date.now() - date) < 24 * 3600_000, `build date ${built}`);
  });

  /** Runs test files in a child runner with MEMIMAGE_BIN set; returns its output once it passed. */
  async function runSuites(files: string[], cwd: string): Promise<string> {
    // Without the parent runner's NODE_TEST_CONTEXT, which would make the child skip its files.
    const { NODE_TEST_CONTEXT: _parent, ...env } = process.env;
    const child = spawn(process.execPath, ["--test", "--test-concurrency=1", ...files], {
      cwd,
      env: { ...env, MEMIMAGE_BIN: binary },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    const failed = output.split("\n").filter((line) => /^\s*not ok/.test(line));
    assert.equal(status, 0, `${failed.join("\n")}\n${output.slice(-4000)}`);
    assert.match(output, /^# fail 0$/m);
    return output;
  }

  test("the package's CLI suites pass against it, run from its empty directory", async () => {
    const output = await runSuites(
      suites("cli", "bad-input", "avml-bad-input", "evidence", "transport", "s3"),
      alone,
    );
    assert.ok(Number(/^# pass (\d+)$/m.exec(output)?.[1]) > 20, "the suites ran");
    // Nothing was left beside the binary: the suites write into their own scratch directories.
    assert.deepEqual(readdirSync(alone), ["memimage"]);
  });

  test("the process suite passes against it: registers through its embedded ptrace addon, gdb opens the cores", async () => {
    // From the checkout: one of its tests attaches a tracer with the package's own build/Release addon.
    await runSuites(suites("process"), ROOT);
  });

  test("its images are byte-identical to the package's, AVML included, with the same hashing engine", () => {
    for (const format of ["avml", "lime", "elf", "padded"]) {
      const fromPackage = scratch.path(`package.${format}`);
      const fromBinary = scratch.path(`binary.${format}`);
      const a = spawnSync(process.execPath, [CLI, "convert", limePath, fromPackage, "-f", format, "-q"], {
        encoding: "utf8",
      });
      assert.equal(a.status, 0, a.stderr);
      const b = runBinary(["convert", limePath, fromBinary, "-f", format, "-q"]);
      assert.equal(b.status, 0, b.stderr);
      assert.equal(sha256(readFileSync(fromBinary)), sha256(readFileSync(fromPackage)), format);
      assert.equal(readReport(fromBinary).tool.sha256, readReport(fromPackage).tool.sha256);
      assert.equal(readReport(fromBinary).tool.build, "single executable");
      assert.equal(readReport(fromPackage).tool.build, "package");
      const verified = runBinary(["verify", fromPackage]);
      assert.equal(verified.status, 0, verified.stderr);
    }
  });

  // Where every tmpfs is mounted noexec the embedded addons cannot be loaded from memory; the binary then writes
  // nothing to disk to load them, runs on plain Node and its report says so. AVML, which has no fallback codec,
  // is refused in one line. Needs root and unshare(1) for a private mount namespace.
  const ramBacked = ["/dev/shm", `/run/user/${process.getuid?.() ?? 0}`, "/run", "/tmp"].filter((dir) => {
    try {
      return [0x01021994, 0x858458f6].includes(statfsSync(dir).type);
    } catch {
      return false;
    }
  });
  const canUnshare =
    process.getuid?.() === 0 && spawnSync("unshare", ["--mount", "true"], { stdio: "ignore" }).status === 0;
  test("with every tmpfs noexec it falls back to plain Node, says so, and refuses AVML in one line", {
    skip: !canUnshare && !process.env.CI && "needs root and unshare --mount",
  }, () => {
    const remount = ramBacked.map((dir) => `mount -o remount,noexec ${dir}`).join(" && ");
    const out = scratch.path("noexec.lime");
    const avml = scratch.path("noexec.avml");
    const script = `${remount || "true"} && "$0" convert "$1" "$2" -f lime -q && "$0" convert "$1" "$3" -f avml -q`;
    const run = spawnSync("unshare", ["--mount", "sh", "-c", script, binary, limePath, out, avml], {
      cwd: alone,
      encoding: "utf8",
    });
    assert.equal(readReport(out).tool.sha256, "Node crypto on the main thread");
    const reference = scratch.path("reference.lime");
    assert.equal(runBinary(["convert", limePath, reference, "-f", "lime", "-q"]).status, 0);
    assert.equal(sha256(readFileSync(out)), sha256(readFileSync(reference)), "the same image on plain Node");
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^memimage: the binary's copy of .+ did not load: no RAM-backed directory/m);
    assert.equal(run.stderr.includes("    at "), false, "no stack trace");
  });

  test("validate runs from it: itself measured in the lab guest, the write log built from its embedded source", {
    skip: guestSkip,
    timeout: 20 * 60_000,
  }, () => {
    const html = scratch.path("validate.html");
    const run = spawnSync(binary, ["validate", "--memory", "256M", "--json", "--html", html], {
      cwd: alone,
      encoding: "utf8",
      timeout: 20 * 60_000,
    });
    assert.equal(run.status, 0, `${run.stderr}\n${run.stdout.slice(-2000)}`);
    const out = JSON.parse(run.stdout) as { runs: RunResult[] };
    const [result] = out.runs;
    assert.equal(result?.tool, "memimage");
    assert.match(result?.command ?? "", new RegExp(`^${binary} acquire `), "the guest ran the binary itself");
    assert.match(result?.changesSeenBy ?? "", /write log/);
    assert.equal(result?.pages?.errors, 0);
    assert.equal(result?.passed, true, result?.failures.join("; "));
    assert.deepEqual(readdirSync(alone), ["memimage"]);
  });
});
