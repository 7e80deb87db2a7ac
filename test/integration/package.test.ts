// The published package as npm users get it: `npm pack`, the tarball installed into an empty directory, then
// `npx memimage` run there. Once with the native addons built by the install script, once with the compiler
// failing, which must leave a working package that says it runs on plain Node.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import { scratchDir } from "../helpers/cli.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const scratch = scratchDir("memimage-package-");
after(scratch.cleanup);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
let tarball = "";
const limePath = scratch.path("input.lime");

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 10 * 60_000,
  });
}

before(() => {
  // dist/ is built (these tests run from it); prepack would rebuild it and is left out here.
  const packed = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch.dir], ROOT);
  assert.equal(packed.status, 0, packed.stderr);
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  tarball = join(scratch.dir, filename);
  const data = Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i >> 10) & 0xff));
  writeFileSync(limePath, Buffer.concat([encodeRecordHeader(0x100000n, data.length), data]));
});

/** Installs the tarball into a new empty directory (no package.json, far from this checkout). */
function install(name: string, env: NodeJS.ProcessEnv = {}): string {
  const dir = scratch.path(name);
  mkdirSync(dir);
  const installed = run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], dir, env);
  assert.equal(installed.status, 0, `npm install failed:\n${installed.stdout}\n${installed.stderr}`);
  return dir;
}

function convertAndVerify(dir: string, format: string): { engine: string; sha256: string } {
  const out = join(dir, `out.${format}`);
  const converted = run("npx", ["memimage", "convert", limePath, out, "-f", format, "-q"], dir);
  assert.equal(converted.status, 0, converted.stderr);
  const verified = run("npx", ["memimage", "verify", out], dir);
  assert.equal(verified.status, 0, verified.stderr);
  const report = JSON.parse(readFileSync(`${out}.report.json`, "utf8")) as { tool: { sha256: string } };
  return { engine: report.tool.sha256, sha256: sha256(readFileSync(out)) };
}

describe("npm package", { timeout: 20 * 60_000 }, () => {
  test("the packed tarball carries what installing and running need, and nothing of the checkout's build", () => {
    const listed = run("tar", ["-tzf", tarball], scratch.dir);
    const files = listed.stdout.split("\n");
    for (const needed of [
      "package/dist/src/cli/main.js",
      "package/binding.gyp",
      "package/native/sha256.c",
      "package/ontology/uco/core.ttl",
      "package/schema/report.schema.json",
    ])
      assert.ok(files.includes(needed), needed);
    assert.equal(
      files.some((f) => f.startsWith("package/build/") || f.startsWith("package/node_modules/")),
      false,
    );
    assert.equal(
      files.some((f) => f.startsWith("package/dist/test/")),
      false,
    );
  });

  let withAddons: { engine: string; sha256: string } | undefined;
  test("installed into an empty directory, npx memimage runs: version, convert, verify", () => {
    const dir = install("installed");
    const version = run("npx", ["memimage", "--version"], dir);
    assert.equal(version.status, 0, version.stderr);
    // No prepack ran, so no commit was recorded: the package says so rather than guess.
    assert.equal(version.stdout, `memimage ${pkg.version}\ncommit unknown\nbuilt unknown\n`);
    withAddons = convertAndVerify(dir, "avml");
    if (process.env.CI) assert.equal(withAddons.engine, "OpenSSL on the thread pool (native addon)");
  });

  test("a failed native build still leaves a working package, on plain Node and saying so", () => {
    const dir = install("no-compiler", { CC: "false", CXX: "false" });
    assert.equal(existsSync(join(dir, "node_modules/memimage/build/Release/memimage_sha256.node")), false);
    assert.ok(readdirSync(join(dir, "node_modules/memimage")).includes("dist"));
    const plain = convertAndVerify(dir, "avml");
    assert.equal(plain.engine, "Node crypto on the main thread");
    if (withAddons) assert.equal(plain.sha256, withAddons.sha256, "the same AVML bytes either way");
  });
});
