// memimage vm: image a QEMU guest from outside, through QMP. The guest is resumed whatever happens (error,
// Ctrl-C, output failure) when memimage paused it, and left as it was when it was paused already.
import type { Command } from "commander";
import { MemimageError } from "../core/errors.js";
import { formatNames } from "../formats/registry.js";
import { vmKernel } from "../kernel/hypervisor.js";
import { FifoReader } from "../sources/fifo.js";
import { type VmMode, VmSession } from "../sources/qmp.js";
import type { Source, SourceDescription } from "../sources/source.js";
import { addOutputOptions } from "./output-options.js";
import { type ImageOutputOptions, writeImage } from "./write-image.js";

interface VmOptions extends Omit<ImageOutputOptions, "output"> {
  qmp: string;
  output?: string;
  pause?: boolean;
  live?: boolean;
}

export function registerVm(program: Command): void {
  addOutputOptions(program.command("vm"))
    .description("image a QEMU guest's RAM from outside, through its QMP socket (nothing runs in the guest)")
    .requiredOption("--qmp <socket>", "the guest's QMP socket (QEMU -qmp unix:SOCKET,server=on,wait=off)")
    .option("--pause", "stop the guest while it is read and resume it after (default): no smear")
    .option(
      "--live",
      "leave the guest running while it is read (smear; QEMU copies each range with pmemsave)",
    )
    .option("-o, --output <path>", "file to write, or - for standard output (default: vm-TIME.FORMAT)")
    .option("-f, --format <name>", `output format: ${formatNames.join(", ")}`, "lime")
    .addHelpText(
      "after",
      "\nExamples:\n  memimage vm --qmp /run/guest.qmp -o guest.lime\n  memimage vm --qmp /run/guest.qmp --live -o guest.elf -f elf\n",
    )
    .action(async (options: VmOptions) => {
      if (options.pause && options.live)
        throw new MemimageError("usage", "choose --pause or --live, not both");
      const mode: VmMode = options.live ? "live" : "pause";
      const output = options.output ?? (options.listen ? "-" : defaultOutput(options.format));
      process.exitCode = await imageVm(options.qmp, mode, { ...options, output });
    });
}

/** Images the guest behind the QMP socket; returns the exit status. Also used by `memimage lab`. */
export async function imageVm(socket: string, mode: VmMode, options: ImageOutputOptions): Promise<number> {
  const session = await VmSession.open(socket, mode);
  // Until the pipeline's own handlers take over, a signal must not kill memimage with the guest paused.
  let early: MemimageError | undefined;
  const onSignal = (name: string) => () => {
    early ??= new MemimageError(name === "SIGINT" ? "interrupted" : "terminated", `interrupted (${name})`);
    fifo?.fail(early);
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  let fifo: FifoReader | undefined;
  try {
    fifo = await FifoReader.create();
    const description: SourceDescription = {
      kind: "qmp",
      path: socket,
      addressSpace: "physical",
      details: session.details,
    };
    await session.pause();
    if (early) throw early;
    if (session.freeze.by === "already paused before memimage")
      process.stderr.write("memimage: the guest was already paused; it is imaged and left paused\n");
    let source: Source;
    let head: Awaited<ReturnType<VmSession["dumpSource"]>>["head"] | undefined;
    let polling: Promise<void> = Promise.resolve();
    if (mode === "pause") {
      const dump = await session.dumpSource(fifo, description);
      polling = session.pollDump();
      head = dump.head;
      source = resumeWhenRead(dump, () => dump.done, session);
    } else source = session.liveSource(fifo, description);
    const map = await source.map();
    const kernel = vmKernel(head);
    const notes = head?.notes ?? [];
    const { exitCode } = await writeImage(
      source,
      map,
      {
        source: description,
        ...(notes.length > 0 ? { notes } : {}),
        ...(head ? { machine: head.machine } : {}),
        virtualMappings: kernel.virtualMappings,
      },
      {
        ...options,
        kernel: kernel.witness,
        beforeReport: async () => {
          await fifo?.close(); // a dump still writing gets EPIPE and ends
          await session.resume();
          await polling;
          await session.recordStatus();
        },
      },
    );
    return exitCode;
  } finally {
    await fifo?.close();
    await session.resume();
    if (session.freeze.resumeError)
      process.stderr.write(
        `memimage: could not resume the guest (${session.freeze.resumeError}); if QEMU still runs, send "cont" on its QMP socket\n`,
      );
    session.close();
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

/** Resumes the guest the moment its last byte has been read, not after the output is flushed. */
function resumeWhenRead(inner: Source, done: () => boolean, session: VmSession): Source {
  return {
    description: inner.description,
    map: () => inner.map(),
    close: () => inner.close(),
    async read(address, into) {
      const n = await inner.read(address, into);
      if (done()) await session.resume();
      return n;
    },
  };
}

function defaultOutput(format: string): string {
  const time = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `vm-${time}.${format}`;
}
