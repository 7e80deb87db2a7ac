import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { badImages } from "../corpus/bad-images.js";
import { memimage, scratchDir } from "../helpers/cli.js";

const scratch = scratchDir();
after(scratch.cleanup);

describe("malformed images: one clear line naming the problem and the offset, exit 1, nothing written", () => {
  for (const bad of badImages) {
    test(bad.name, () => {
      const path = scratch.path(bad.name);
      writeFileSync(path, bad.bytes);
      for (const args of [
        ["info", path],
        ["verify", "--sha256", "00", path],
        ["convert", path, `${path}.out`, "-f", "lime"],
      ]) {
        const run = memimage(args);
        assert.equal(run.status, 1, `${args[0]}: exit status (stderr: ${run.stderr})`);
        const lines = run.stderr.trim().split("\n");
        assert.equal(lines.length, 1, `${args[0]}: one line, got: ${run.stderr}`);
        assert.match(lines[0] as string, bad.message);
        assert.match(lines[0] as string, new RegExp(`^memimage: ${path.replace(/[.]/g, "\\.")}`));
        if (bad.offset !== undefined)
          assert.match(lines[0] as string, new RegExp(`at offset ${bad.offset}\\)$`));
        assert.equal(run.stdout, "");
      }
      assert.equal(existsSync(`${path}.out`), false);
      assert.equal(existsSync(`${path}.out.partial`), false);
    });
  }
});

test("validate refuses an existing --html path at once, before it provisions or boots anything", () => {
  const html = scratch.path("existing.html");
  writeFileSync(html, "kept");
  const started = Date.now();
  const run = memimage(["validate", "--html", html]);
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /^memimage: .*existing\.html already exists \(choose another --html\)$/m);
  assert.doesNotMatch(run.stderr, /provisioning/);
  assert.ok(Date.now() - started < 30_000);
});
