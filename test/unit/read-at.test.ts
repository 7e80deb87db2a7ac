import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { after, test } from "node:test";
import { readAt } from "../../src/core/read-at.js";
import { scratchDir } from "../helpers/cli.js";

const scratch = scratchDir();
after(scratch.cleanup);

test("readAt reads at a bigint offset (FileHandle.read in Node 20 reads at the file position instead)", async () => {
  const path = scratch.path("bytes");
  writeFileSync(path, Buffer.from("0123456789abcdef"));
  const file = await open(path, "r");
  try {
    const into = Buffer.alloc(4);
    assert.equal(await readAt(file, into, 4, 10n), 4);
    assert.equal(into.toString(), "abcd");
    assert.equal(await readAt(file, into, 4, 2n), 4);
    assert.equal(into.toString(), "2345");
  } finally {
    await file.close();
  }
});
