// `memimage acquire` on the host: where no physical source exists, and the refusal of RAM-backed output.
// Acquisition itself is tested in a guest (test/guest/physical.test.ts): this machine has no /proc/kcore.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { MemimageError } from "../../src/core/errors.js";
import { openPhysical } from "../../src/sources/physical.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const acquire = (...args: string[]) =>
  spawnSync(process.execPath, [main, "acquire", "-q", ...args], { encoding: "utf8" });
const scratch = mkdtempSync(join(tmpdir(), "memimage-acquire-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const noDevices = ["/proc/kcore", "/dev/mem", "/dev/crash"].every((p) => !existsSync(p));
const TMPFS = 0x01021994;
const shmIsTmpfs = existsSync("/dev/shm") && statfsSync("/dev/shm").type === TMPFS;

describe("acquire without a physical source", () => {
  test("one message names each source's obstacle and points at process and vm", async () => {
    const missing = join(scratch, "absent");
    await assert.rejects(
      openPhysical("auto", {
        crash: `${missing}/crash`,
        kcore: `${missing}/kcore`,
        devmem: `${missing}/mem`,
        iomem: "/proc/iomem",
      }),
      (error: unknown) => {
        assert.ok(error instanceof MemimageError);
        assert.match(error.message, /crash: .*absent/);
        assert.match(error.message, /kcore: .*absent/);
        assert.match(error.message, /devmem: .*absent/);
        assert.match(error.message, /memimage process PID/);
        assert.match(error.message, /memimage vm --qmp/);
        return true;
      },
    );
  });

  test("an empty /proc/kcore (a container masks it with /dev/null) is named as such", async () => {
    const empty = join(scratch, "kcore-masked");
    writeFileSync(empty, "");
    await assert.rejects(
      openPhysical("kcore", { crash: "", devmem: "", kcore: empty, iomem: "/proc/iomem" }),
      /is empty: a container masks it/,
    );
  });

  test("the CLI exits 1 with the message and writes no image", {
    skip: noDevices ? false : "this machine has a physical memory device",
  }, () => {
    const out = join(scratch, "none.lime");
    const r = acquire("-o", out);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no physical memory source works here/);
    assert.equal(existsSync(out), false);
    assert.equal(existsSync(`${out}.partial`), false);
  });
});

describe("RAM-backed output", () => {
  test("refused in tmpfs by default (exit 2), before any source is opened", {
    skip: shmIsTmpfs ? false : "/dev/shm is not tmpfs here",
  }, () => {
    const r = acquire("-o", "/dev/shm/memimage-refused.lime");
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /tmpfs, which lives in RAM/);
    assert.match(r.stderr, /--allow-ram-backed-output/);
    assert.equal(existsSync("/dev/shm/memimage-refused.lime.partial"), false);
  });

  test("--allow-ram-backed-output passes the check (here it then finds no source)", {
    skip: shmIsTmpfs && noDevices ? false : "needs tmpfs /dev/shm and no memory device",
  }, () => {
    const r = acquire("-o", "/dev/shm/memimage-allowed.lime", "--allow-ram-backed-output");
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /lives in RAM/);
  });
});
