import type { Command } from "commander";
import { ExitCode, MemimageError } from "../core/errors.js";
import { parseListen } from "../sinks/listen.js";
import { type Received, runReceiver } from "../sinks/tcp-receiver.js";
import { receiveProgress } from "./receive-progress.js";
import { stopOnSignals } from "./signals.js";

interface ReceiveOptions {
  listen: string;
  output: string;
  count?: string;
  quiet?: boolean;
}

const exitFor: Record<Received["status"], number> = {
  complete: ExitCode.complete,
  partial: ExitCode.sink,
  mismatch: ExitCode.mismatch,
};

export function registerReceive(program: Command): void {
  program
    .command("receive")
    .description(
      "receive images sent with -o tcp://HOST:PORT, verify their SHA-256 and store each with its report",
    )
    .requiredOption("--listen <[host:]port>", "address to listen on (default host 0.0.0.0)")
    .option("-o, --output <dir>", "directory to store images in", ".")
    .option("--count <n>", "stop after this many images (default: until SIGINT or SIGTERM)")
    .option("-q, --quiet", "print nothing but errors")
    .addHelpText(
      "after",
      "\nExamples:\n  memimage receive --listen 9000 -o /cases/42/   # then, on the suspect machine:\n  sudo memimage acquire -o tcp://collector:9000/host1.lime\n\nExit: 0 every image complete and verified, 4 an image arrived incomplete (kept as NAME.partial),\n      5 an image's SHA-256 differs from its report, 2 usage (cannot listen).\n",
    )
    .action(async (options: ReceiveOptions) => {
      const { host, port } = parseListen(options.listen);
      const count = options.count === undefined ? undefined : Number(options.count);
      if (count !== undefined && !(Number.isInteger(count) && count > 0))
        throw new MemimageError("usage", `--count ${options.count}: give a positive whole number`);
      const signals = stopOnSignals();
      const progress = await receiveProgress(options);
      try {
        const results = await runReceiver(
          {
            host,
            port,
            directory: options.output,
            ...(count ? { count } : {}),
            onListening: (address) => progress.say(`memimage: receiving on ${address}\n`),
            onData: (r) => progress.onData(r),
            onReceived: (r) => {
              progress.done(r.location.replace(/\.partial$/, ""), r.bytes);
              if (options.quiet && r.status === "complete") return;
              progress.say(
                `memimage: ${r.status}: ${r.location} (${r.bytes} bytes) from ${r.host} at ${r.from}: ${r.message}\n`,
              );
            },
          },
          signals.signal,
        );
        process.exitCode = results.reduce((worst, r) => Math.max(worst, exitFor[r.status]), 0);
      } finally {
        progress.stop();
        signals.dispose();
      }
    });
}
