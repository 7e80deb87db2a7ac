// npm run binary: memimage as one self-contained executable for Linux x86-64 (Node's single executable
// applications). esbuild bundles src/cli/binary.ts and every JavaScript dependency into one CommonJS script; the
// files read at run time (the native addons, the napi-rs codecs, the UCO/CASE ontology, the source of validate's
// QEMU plugin) go in as SEA assets with a manifest (src/core/embedded.ts loads them); postject injects the blob
// into a copy of this Node.
// Usage: node scripts/build-binary.mjs [OUTPUT]   (default dist/memimage)
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { inject } from "postject";
import { buildDate, gitCommit } from "./build-info.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const MANIFEST_ASSET = "memimage/manifest.json"; // as in src/core/embedded.ts
const BUNDLE_URL = "file:///memimage-binary/bundle.cjs";
// The napi-rs packages memimage requires, and the file of each that holds the Linux x86-64 (glibc) binary.
const NATIVE_PACKAGES = {
  snappy: "@napi-rs/snappy-linux-x64-gnu/snappy.linux-x64-gnu.node",
  "@node-rs/crc32": "@node-rs/crc32-linux-x64-gnu/crc32.linux-x64-gnu.node",
};

function fail(message) {
  console.error(`build-binary: ${message}`);
  process.exit(1);
}

if (process.platform !== "linux" || process.arch !== "x64")
  fail("builds for Linux x86-64 only, on Linux x86-64");
const output = resolve(process.argv[2] ?? join(ROOT, "dist", "memimage"));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const work = mkdtempSync(join(tmpdir(), "memimage-binary-"));
const started = Date.now();

try {
  const assets = {};
  const manifest = { natives: {}, files: [] };

  // memimage's own addons: every target of binding.gyp that npm install (node-gyp) built into build/Release. One
  // not built (memimage_snappy without libsnappy-dev) is left out, and the binary uses its fallback, as the package.
  const gyp = JSON.parse(readFileSync(join(ROOT, "binding.gyp"), "utf8"));
  for (const { target_name: name } of gyp.targets) {
    const file = join(ROOT, "build", "Release", `${name}.node`);
    if (!existsSync(file)) {
      console.error(`build-binary: ${relative(ROOT, file)} is not built (npm install builds it): left out`);
      continue;
    }
    assets[`build/Release/${name}.node`] = file;
    manifest.natives[name] = `build/Release/${name}.node`;
  }
  const require = createRequire(join(ROOT, "package.json"));
  for (const [name, binary] of Object.entries(NATIVE_PACKAGES)) {
    if (!pkg.dependencies?.[name]) continue;
    const file = require.resolve(binary);
    assets[`node_modules/${binary}`] = file;
    manifest.natives[name] = `node_modules/${binary}`;
  }
  for (const project of ["uco", "case"]) {
    for (const name of readdirSync(join(ROOT, "ontology", project)).filter((n) => n.endsWith(".ttl"))) {
      const path = `ontology/${project}/${name}`;
      assets[path] = join(ROOT, path);
      manifest.files.push(path);
    }
  }
  // validate builds its QEMU plugin from this source on the host (src/lab/write-log.ts).
  for (const path of ["native/qemu-write-log.c"]) {
    assets[path] = join(ROOT, path);
    manifest.files.push(path);
  }
  writeFileSync(join(work, "manifest.json"), JSON.stringify(manifest));
  assets[MANIFEST_ASSET] = join(work, "manifest.json");

  const info = { version: pkg.version, commit: gitCommit(), date: buildDate() };
  const bundle = join(work, "memimage.cjs");
  await build({
    entryPoints: [join(ROOT, "src", "cli", "binary.ts")],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning",
    // Measured on --version and a 256 MiB convert: without whitespace the script takes ~5 MiB less RSS; renaming
    // identifiers too took more, and it would make stack traces unreadable.
    minifyWhitespace: true,
    minifySyntax: true,
    // import.meta has no meaning in CommonJS. Every module's URL becomes one that names no file: whatever the
    // package reads beside itself the binary carries inside, and a module that checks whether it is the main
    // script (lab/provision.ts) must not take the binary for itself.
    define: { MEMIMAGE_BUILD: JSON.stringify(info), "import.meta.url": JSON.stringify(BUNDLE_URL) },
  });

  const config = join(work, "sea-config.json");
  const blob = join(work, "sea.blob");
  writeFileSync(
    config,
    // V8's code cache of the script: nothing is compiled at start, ~4 MiB less RSS and half the start time.
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets,
    }),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", config], {
    stdio: ["ignore", "ignore", "inherit"],
  });

  rmSync(output, { force: true });
  copyFileSync(process.execPath, join(work, "node"));
  await inject(join(work, "node"), "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SEA_FUSE });
  copyFileSync(join(work, "node"), output);
  execFileSync("chmod", ["755", output]);

  const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `${relative(process.cwd(), output) || output}: ${mib(statSync(output).size)} (Node ${process.version} ` +
      `${mib(statSync(process.execPath).size)}, script ${mib(statSync(bundle).size)}, ` +
      `${Object.keys(assets).length} assets), commit ${info.commit}, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
