// What every way of running memimage does first (main.ts from the package, binary.ts in the single executable).
// V8's optimising compiler is turned off before anything else loads: memimage's JavaScript only orchestrates
// (reading, hashing and writing run in native code), and the compiler's code and zones cost ~10 MiB of RSS, memory
// taken from the machine being imaged, for no measured speed (see docs/benchmarks.md).
import { setFlagsFromString } from "node:v8";

export async function start(): Promise<void> {
  // libuv's pool (4 threads by default) runs a block's read, its write and its two hashes at once; a blocked FIFO
  // read (memimage vm) must not starve them. Read when the pool first starts: after this line in the single
  // binary; in the package the ESM loader has started it already, so main.ts's #! line sets it.
  process.env.UV_THREADPOOL_SIZE ??= "6";

  setFlagsFromString("--no-opt");
  // A reader that stops early (memimage info | head) is not an error of memimage's.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
  });
  const { main } = await import("./program.js");
  process.exitCode = await main(process.argv);
}
