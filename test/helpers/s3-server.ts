// A real S3-compatible server (s3rver) for tests, in its own process so a test can kill it; bound to 127.0.0.1
// only. Run with `--serve DIR BUCKET...` it stores objects in DIR, creates the buckets, accepts the key pair in
// $S3_TEST_KEY/$S3_TEST_SECRET (besides s3rver's own), and prints "listening PORT" once it listens.
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface S3Server {
  child: ChildProcess;
  port: number;
  endpoint: string;
  /** Kills the server and waits until it has exited. */
  kill: () => Promise<void>;
}

/** Starts a server storing in `dir`, with `buckets`; resolves once it listens (bounded: 20 s). */
export function startS3Server(
  dir: string,
  buckets: string[],
  credentials: { key: string; secret: string },
): Promise<S3Server> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--serve", dir, ...buckets], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, S3_TEST_KEY: credentials.key, S3_TEST_SECRET: credentials.secret },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  let out = "";
  let err = "";
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill();
      reject(new Error(`s3rver did not start in 20 s: ${err}`));
    }, 20_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const port = Number(/listening (\d+)/.exec(out)?.[1]);
      if (port > 0) {
        clearTimeout(timer);
        resolve({ child, port, endpoint: `http://127.0.0.1:${port}`, kill });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}) before listening: ${err}`));
    });
  });
}

async function serve(dir: string, buckets: string[]): Promise<void> {
  const require = createRequire(import.meta.url);
  const S3rver = require("s3rver");
  const account = require("s3rver/lib/models/account.js");
  if (process.env.S3_TEST_KEY && process.env.S3_TEST_SECRET)
    account.DUMMY_ACCOUNT.createKeyPair(process.env.S3_TEST_KEY, process.env.S3_TEST_SECRET);
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const address = (await server.run()) as { port: number };
  process.stdout.write(`listening ${address.port}\n`);
}

// Only when run as a server: `node --test dist/test` loads every file under test/, this one too.
if (process.argv[2] === "--serve" && process.argv[1] === fileURLToPath(import.meta.url)) {
  serve(process.argv[3] as string, process.argv.slice(4)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
