// memimage lab end to end, as the README's first command runs it: provision (cached), boot, image the guest from
// outside and inside, compare. A fresh guest of its own (the command boots it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { exec } from "../../src/lab/exec.js";
import { cliCommand } from "../helpers/cli.js";
import { guestSkipReason } from "./harness.js";

const skip = await guestSkipReason();

test("memimage lab: both images made and the kernel code identical in both", {
  skip,
  timeout: 20 * 60_000,
}, async (t) => {
  const { code, stdout, stderr } = await exec(...cliCommand(["lab", "--memory", "256M"]), {
    allowFailure: true,
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /256 MiB guest under QEMU TCG/);
  assert.match(stdout, /guest frozen \d+\.\d s/);
  const pages = /kernel code (\d+) of (\d+) pages identical/.exec(stdout);
  assert.ok(pages, stdout);
  assert.equal(pages[1], pages[2]);
  assert.ok(Number(pages[2]) > 100);
  assert.match(stdout, /100\.000% of System RAM/);
  // Both sides found the kernel in memory, and the same one at the same place.
  const kernel = /^kernel {2,}(\S+, KASLR 0x[0-9a-f]+) +(\S+, KASLR 0x[0-9a-f]+)$/m.exec(stdout);
  assert.ok(kernel, stdout);
  assert.equal(kernel[1], kernel[2]);
  t.diagnostic(stdout);
});
