// How the S3 sink sizes its parts: S3 wants parts of at least 5 MiB and at most 10,000 of them; memory is the part
// buffers (in flight and filling), so fewer go at once when parts are large.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { concurrencyFor, MIN_PART_SIZE, partSizeFrom } from "../../src/sinks/s3.js";

const MiB = 2 ** 20;

describe("S3 part size and concurrency", () => {
  test("the smallest part S3 allows for images up to ~44 GiB, then whole MiB for at most 9,000 parts", () => {
    assert.equal(partSizeFrom(undefined, undefined, 2 * 1024 * MiB), MIN_PART_SIZE);
    assert.equal(partSizeFrom(undefined, undefined, 9000 * 5 * MiB), 5 * MiB);
    assert.equal(partSizeFrom(undefined, undefined, 9000 * 5 * MiB + 1), 6 * MiB);
    const fiveTiB = 5 * 2 ** 40;
    const part = partSizeFrom(undefined, undefined, fiveTiB);
    assert.equal(part, 583 * MiB);
    assert.ok(Math.ceil(fiveTiB / part) <= 10_000);
  });

  test("8 MiB when the size is unknown; the option, then the environment, win", () => {
    assert.equal(partSizeFrom(undefined, undefined), 8 * MiB);
    assert.equal(partSizeFrom(undefined, String(6 * MiB), 2 ** 40), 6 * MiB);
    assert.equal(partSizeFrom(7 * MiB, String(6 * MiB), 2 ** 40), 7 * MiB);
    assert.throws(() => partSizeFrom(undefined, "1024"), /at least 5242880/);
    assert.throws(() => partSizeFrom(undefined, "6291456.5"), /whole number/);
  });

  test("four parts in flight, fewer when parts are large, never none", () => {
    assert.equal(concurrencyFor(5 * MiB), 4);
    assert.equal(concurrencyFor(8 * MiB), 4);
    assert.equal(concurrencyFor(10 * MiB), 3);
    assert.equal(concurrencyFor(20 * MiB), 1);
    assert.equal(concurrencyFor(583 * MiB), 1);
    assert.equal(concurrencyFor(583 * MiB, 2), 2);
  });
});
