// s3:// against a real S3-compatible server (s3rver, its own process, 127.0.0.1 only), reached through a small HTTP
// proxy on loopback that counts the requests and can fail or hold chosen part uploads: real network faults.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { encodeRecordHeader } from "../../src/formats/lime.js";
import { cliCommand, memimage, scratchDir } from "../helpers/cli.js";
import { type S3Server, startS3Server } from "../helpers/s3-server.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"; // this test's own client
const scratch = scratchDir();
const BUCKET = "evidence";
const KEY_ID = "MEMIMAGETESTKEY7";
const SECRET = "s3cr3t-Never-Print-This-9f2c";
const WRONG_KEY_ID = "UNKNOWNKEYID0042";
const WRONG_SECRET = "wrong-Secret-Never-Print-5e1a";
const PART = 5 << 20; // the smallest part S3 allows: a 24 MiB image makes five
/** Every byte memimage printed or stored, to check no credential is among them. */
const seen: string[] = [];

function limeImage(name: string, mib: number): string {
  const path = scratch.path(name);
  const data = Buffer.alloc(mib << 20);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761 + 12345) >>> 0, i);
  writeFileSync(path, Buffer.concat([encodeRecordHeader(0x100000n, data.length), data]));
  return path;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function env(keyId = KEY_ID, secret = SECRET): NodeJS.ProcessEnv {
  const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _memimageMustSetIt, ...inherited } = process.env;
  return {
    ...inherited,
    AWS_ACCESS_KEY_ID: keyId,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_REGION: "us-east-1",
    AWS_PROFILE: "",
    AWS_CONFIG_FILE: scratch.path("no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: scratch.path("no-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    MEMIMAGE_S3_PART_SIZE: String(PART),
  };
}

/** Runs memimage without blocking this process (the proxy lives here). */
function run(
  args: string[],
  credentials: [string, string] = [KEY_ID, SECRET],
): { exited: Promise<{ status: number | null; stderr: string }> } {
  const child = spawn(...cliCommand(args), {
    stdio: ["ignore", "ignore", "pipe"],
    env: env(...credentials),
  });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  return {
    exited: new Promise((resolve) =>
      child.on("close", (status) => {
        clearTimeout(timer);
        seen.push(stderr);
        resolve({ status, stderr });
      }),
    ),
  };
}

interface Logged {
  method: string;
  part: number | undefined;
  status: number;
}

/** A forwarding proxy: fails the first `fail[part]` attempts of a part's upload with HTTP 500, or holds them. */
class FaultProxy {
  readonly log: Logged[] = [];
  readonly fail = new Map<number, number>();
  holdPart: number | undefined;
  private held: (() => void)[] = [];
  private readonly server: Server;
  private waiters: (() => void)[] = [];

  constructor(private upstream: number) {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const part = url.searchParams.has("partNumber")
        ? Number(url.searchParams.get("partNumber"))
        : undefined;
      const record = (status: number) => {
        this.log.push({ method: req.method ?? "", part, status });
        for (const wake of this.waiters.splice(0)) wake();
      };
      const left = part === undefined ? 0 : (this.fail.get(part) ?? 0);
      if (req.method === "PUT" && part !== undefined && left > 0) {
        this.fail.set(part, left - 1);
        req.resume();
        req.on("end", () => {
          record(500);
          res.writeHead(500, { "content-type": "application/xml" });
          res.end(
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code><Message>injected fault</Message></Error>",
          );
        });
        return;
      }
      const forward = () => {
        const out = request(
          { host: "127.0.0.1", port: this.upstream, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            record(answer.statusCode ?? 0);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        out.on("error", () => {
          record(-1);
          req.socket.destroy(); // the server is gone: so is the connection
        });
        req.pipe(out);
      };
      if (req.method === "PUT" && part !== undefined && part === this.holdPart) {
        req.pause();
        this.held.push(forward);
        for (const wake of this.waiters.splice(0)) wake();
      } else forward();
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as AddressInfo).port;
  }

  release(): void {
    this.holdPart = undefined;
    for (const go of this.held.splice(0)) go();
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Waits (bounded) until `check` holds, woken by each request the proxy sees. */
  async until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}; proxy saw ${JSON.stringify(this.log)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  partAttempts(part: number): number {
    return this.log.filter((l) => l.method === "PUT" && l.part === part).length;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
  });
}

async function download(s3: S3Client, key: string, path: string): Promise<void> {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  await pipeline(object.Body as NodeJS.ReadableStream, createWriteStream(path));
}

async function text(s3: S3Client, key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const body = await object.Body?.transformToString();
  assert.ok(body !== undefined, `${key} has no body`);
  return body;
}

async function keys(s3: S3Client): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (listed.Contents ?? []).map((c) => c.Key as string).sort();
}

/** The report memimage printed on stderr when it could not upload it. */
function reportOnStderr(stderr: string): { status: string; output: { sink: string } } {
  const start = stderr.indexOf("{\n");
  const end = stderr.lastIndexOf("\n}\n");
  assert.ok(start >= 0 && end > start, `no report on stderr: ${stderr.slice(0, 400)}`);
  return JSON.parse(stderr.slice(start, end + 2));
}

function oneLine(stderr: string): string {
  const text = stderr.trim();
  assert.equal(text.split("\n").length, 1, `expected one line, got:\n${stderr}`);
  return text;
}

describe("s3:// to a real S3-compatible server", { timeout: 240_000 }, () => {
  const image = limeImage("image.lime", 24);
  const asFile = scratch.path("as-file.lime"); // what -o FILE makes of it: the object must be the same bytes
  let server: S3Server;
  let proxy: FaultProxy;
  let endpoint: string;
  let s3: S3Client;

  before(async () => {
    assert.equal(memimage(["convert", image, asFile, "-f", "lime", "-q"]).status, 0);
    mkdirSync(scratch.path("store"));
    server = await startS3Server(scratch.path("store"), [BUCKET], { key: KEY_ID, secret: SECRET });
    proxy = new FaultProxy(server.port);
    endpoint = `http://127.0.0.1:${await proxy.listen()}`;
    s3 = client(server.endpoint);
  });
  after(async () => {
    s3?.destroy();
    await proxy?.close();
    await server?.kill();
    // No credential in anything memimage printed (errors, logs, reports on stderr) or stored (reports).
    for (const text of seen) {
      assert.ok(!text.includes(SECRET), "the secret key appeared");
      assert.ok(!text.includes(WRONG_SECRET), "the (wrong) secret key appeared");
      assert.ok(!text.includes(KEY_ID), "the access key id appeared");
      assert.ok(!text.includes(WRONG_KEY_ID), "the (wrong) access key id appeared");
    }
    scratch.cleanup();
  });

  test("uploads in several parts; KEY and KEY.report.json are there; the SHA-256 matches the bytes", async () => {
    proxy.log.length = 0;
    const { status, stderr } = await run([
      "convert",
      image,
      `s3://${BUCKET}/host1.lime`,
      "-f",
      "lime",
      "--endpoint",
      endpoint,
    ]).exited;
    assert.equal(status, 0, stderr);
    assert.doesNotMatch(stderr, /NodeVersionSupportWarning|AWS SDK/);
    const parts = new Set(
      proxy.log.filter((l) => l.method === "PUT" && l.part !== undefined).map((l) => l.part),
    );
    assert.equal(parts.size, 5, JSON.stringify(proxy.log));
    assert.ok(
      proxy.log.some((l) => l.method === "POST" && l.status === 200),
      "no CompleteMultipartUpload",
    );
    assert.deepEqual(await keys(s3), ["host1.lime", "host1.lime.report.json"]);

    const dir = scratch.path("down");
    mkdirSync(dir);
    await download(s3, "host1.lime", `${dir}/host1.lime`);
    await download(s3, "host1.lime.report.json", `${dir}/host1.lime.report.json`);
    const bytes = readFileSync(`${dir}/host1.lime`);
    const reportText = readFileSync(`${dir}/host1.lime.report.json`, "utf8");
    seen.push(reportText);
    const report = JSON.parse(reportText);
    assert.equal(report.status, "complete");
    assert.equal(report.output.sink, "s3");
    assert.equal(sha256(bytes), sha256(readFileSync(asFile)), "the object differs from what -o FILE writes");
    assert.equal(sha256(bytes), report.output.sha256);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "host1.lime.report.json" }));
    assert.equal(head.Metadata?.["image-sha256"], report.output.sha256);
    const verify = memimage(["verify", `${dir}/host1.lime`]);
    assert.equal(verify.status, 0, verify.stderr);
    const placement = report.weaknesses.toolOverwritesData;
    assert.equal(placement.network, true);
    assert.equal(placement.location, `${BUCKET}/host1.lime`);
  });

  test("an image smaller than one part is one PutObject, byte for byte what -o FILE writes", async () => {
    const small = limeImage("small.lime", 1);
    const smallFile = scratch.path("small-as-file.lime");
    assert.equal(memimage(["convert", small, smallFile, "-f", "lime", "-q"]).status, 0);
    proxy.log.length = 0;
    const { status, stderr } = await run([
      "convert",
      small,
      `s3://${BUCKET}/small.lime`,
      "-f",
      "lime",
      "--endpoint",
      endpoint,
      "-q",
    ]).exited;
    assert.equal(status, 0, stderr);
    assert.ok(!proxy.log.some((l) => l.part !== undefined), JSON.stringify(proxy.log));
    const path = scratch.path("small-down.lime");
    await download(s3, "small.lime", path);
    assert.equal(sha256(readFileSync(path)), sha256(readFileSync(smallFile)));
  });

  test("a part that fails twice is retried and the image is complete", async () => {
    proxy.log.length = 0;
    proxy.fail.set(2, 2);
    const { status, stderr } = await run([
      "convert",
      image,
      `s3://${BUCKET}/retried.lime`,
      "-f",
      "lime",
      "--endpoint",
      endpoint,
      "-q",
    ]).exited;
    assert.equal(status, 0, stderr);
    assert.equal(proxy.partAttempts(2), 3, JSON.stringify(proxy.log));
    assert.deepEqual(
      proxy.log.filter((l) => l.part === 2).map((l) => l.status),
      [500, 500, 200],
    );
    const path = scratch.path("retried.lime");
    await download(s3, "retried.lime", path);
    const report = JSON.parse(await text(s3, "retried.lime.report.json"));
    assert.equal(sha256(readFileSync(path)), report.output.sha256);
    assert.equal(sha256(readFileSync(path)), sha256(readFileSync(asFile)));
  });

  test("a part that fails three times: exit 4, one error line, no object, KEY.partial.report.json says aborted", async () => {
    proxy.log.length = 0;
    proxy.fail.set(3, 3);
    const { status, stderr } = await run([
      "convert",
      image,
      `s3://${BUCKET}/failed.lime`,
      "-f",
      "lime",
      "--endpoint",
      endpoint,
      "-q",
    ]).exited;
    assert.equal(status, 4, stderr);
    assert.equal(proxy.partAttempts(3), 3);
    assert.match(
      oneLine(stderr),
      /^memimage: s3:\/\/evidence\/failed\.lime: upload failed after \d+ bytes: .*InternalError.*; no object was created$/,
    );
    const names = (await keys(s3)).filter((k) => k.startsWith("failed"));
    assert.deepEqual(names, ["failed.lime.partial.report.json"]);
    const partial = await text(s3, "failed.lime.partial.report.json");
    seen.push(partial);
    assert.equal(JSON.parse(partial).status, "aborted");
  });

  test("an existing key is never overwritten", async () => {
    const { status, stderr } = await run([
      "convert",
      image,
      `s3://${BUCKET}/host1.lime`,
      "-f",
      "lime",
      "--endpoint",
      endpoint,
    ]).exited;
    assert.equal(status, 1, stderr);
    assert.match(oneLine(stderr), /^memimage: s3:\/\/evidence\/host1\.lime already exists/);
  });

  test("bucket missing: exit 1, one line naming it, nothing sent", async () => {
    const { status, stderr } = await run([
      "convert",
      image,
      "s3://no-such-bucket/x.lime",
      "-f",
      "lime",
      "--endpoint",
      endpoint,
    ]).exited;
    assert.equal(status, 1, stderr);
    assert.equal(
      oneLine(stderr),
      "memimage: cannot write s3://no-such-bucket/x.lime: bucket no-such-bucket does not exist",
    );
  });

  // s3rver checks the access key id but not a SigV4 signature (its source: "Signature version 4 calculation is
  // unimplemented"), so a wrong secret with a known key id is accepted: only an unknown key id can be refused here.
  test("wrong credentials (unknown access key id): exit 1, one line saying access denied, no key in it", async () => {
    const { status, stderr } = await run(
      ["convert", image, `s3://${BUCKET}/denied.lime`, "-f", "lime", "--endpoint", endpoint],
      [WRONG_KEY_ID, WRONG_SECRET],
    ).exited;
    assert.equal(status, 1, stderr);
    assert.match(
      oneLine(stderr),
      /^memimage: cannot write s3:\/\/evidence\/denied\.lime: access denied \(check the credentials/,
    );
    assert.ok(!stderr.includes(WRONG_KEY_ID));
    assert.ok(!(await keys(s3)).some((k) => k.startsWith("denied")));
  });

  test("nothing listening at the endpoint: exit 1, one line", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { status, stderr } = await run([
      "convert",
      image,
      `s3://${BUCKET}/x.lime`,
      "-f",
      "lime",
      "--endpoint",
      `http://127.0.0.1:${port}`,
    ]).exited;
    assert.equal(status, 1, stderr);
    assert.equal(
      oneLine(stderr),
      `memimage: cannot write s3://${BUCKET}/x.lime: nothing answers at http://127.0.0.1:${port} (connection refused)`,
    );
  });

  test("a bad part size is a usage error", async () => {
    const r = memimage(["convert", image, `s3://${BUCKET}/y.lime`, "-f", "lime", "--endpoint", endpoint], {
      env: { ...env(), MEMIMAGE_S3_PART_SIZE: "1024" },
    });
    assert.equal(r.status, 2, r.stderr);
    seen.push(r.stderr);
  });

  // Last: it kills the server.
  test("the server killed mid-upload: exit 4, no object, the report (on stderr) says aborted", async () => {
    proxy.log.length = 0;
    proxy.holdPart = 3;
    const sent = run([
      "convert",
      image,
      `s3://${BUCKET}/killed.lime`,
      "-f",
      "lime",
      "--endpoint",
      endpoint,
      "-q",
    ]);
    await proxy.until(
      "part 1 stored and part 3 held",
      () => proxy.log.some((l) => l.part === 1 && l.status === 200) && proxy.heldCount > 0,
    );
    await server.kill();
    proxy.release();
    const { status, stderr } = await sent.exited;
    assert.equal(status, 4, stderr);
    assert.equal(reportOnStderr(stderr).status, "aborted");
    const last = stderr.trim().split("\n").at(-1) ?? "";
    assert.match(last, /^memimage: s3:\/\/evidence\/killed\.lime.*report could not be uploaded/);
    assert.match(stderr, /upload failed after \d+ bytes: .*no object was created/);
    // The store, started again on the same directory, has no object under that key.
    server = await startS3Server(scratch.path("store"), [], { key: KEY_ID, secret: SECRET });
    s3.destroy();
    s3 = client(server.endpoint);
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "killed.lime" })), {
      name: "NotFound",
    });
    assert.deepEqual(
      (await keys(s3)).filter((k) => k.startsWith("killed")),
      [],
    );
  });
});
