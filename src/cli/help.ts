// `memimage help [TOPIC|COMMAND]`: commander's help for a command, plus topics that belong to no one command.
// The topics are also sections of the man page, so the terminal and `man memimage` say the same.
import type { Command } from "commander";
import { MemimageError } from "../core/errors.js";

export interface HelpTopic {
  name: string;
  /** The man page section it becomes. */
  heading: string;
  summary: string;
  text: string;
}

export const HELP_TOPICS: readonly HelpTopic[] = [
  {
    name: "formats",
    heading: "FORMATS",
    summary: "the image formats, their layout, and which tools open each",
    text: `Image formats (choose with -f/--format; convert between them with memimage convert):

  lime    LiME: per range a 32-byte header (magic "EMiL", version 1, first and inclusive last
          address), then the bytes. Unreadable pages are left out. The default.
          Opened by: Volatility 3 (vol -f IMAGE linux.pslist), AVML's avml-convert, LiME tools.
  elf     ELF core (ET_CORE). Physical images: one PT_LOAD per range by p_paddr, as QEMU's
          dump-guest-memory writes; memimage vm keeps QEMU's notes (CPU registers, VMCOREINFO when
          the guest has -device vmcoreinfo). Processes: one PT_LOAD per mapping plus the notes gdb needs.
          Opened by: gdb (gdb -c core.PID), Volatility 3; crash and drgn for a kernel image that
          carries the VMCOREINFO note.
  raw     The ranges' bytes back to back, no headers: addresses live only in the report
          (memimage convert --input-report IMAGE.report.json restores them).
          Opened by: anything that reads bytes (strings, grep, YARA, bulk_extractor).
  padded  Zero-filled from address 0, so file offset = physical address (physical images only).
          Opened by: Volatility 3 as a flat physical file, anything that takes a flat physical file.
  avml    AVML's compressed format: LiME-style headers (magic "AVML", version 2), each record's
          bytes as a Snappy framed stream; all-zero 2 MiB records left out.
          Opened by: Volatility 3, AVML's avml-convert (to LiME).

Every image gets IMAGE.report.json (schema/report.schema.json): the ranges, their SHA-256, what could
not be read and why. memimage info IMAGE shows an image's format and ranges; memimage verify IMAGE
checks it against its report.
`,
  },
  {
    name: "exit",
    heading: "EXIT STATUS",
    summary: "what each exit status means",
    text: `Exit status:

  0         complete
  1         error before any output (bad or truncated image, no such process, no usable source,
            output exists or cannot be created)
  2         usage error
  3         partial image: some ranges unreadable, or the source (a process) vanished while read;
            the report lists what is missing
  4         the output failed (disk full, broken pipe); the partial image is kept as OUT.partial
  5         a check failed: verify or receive found a hash that differs, lab found kernel code that differs
  130, 143  interrupted by SIGINT or SIGTERM; a frozen process or paused guest is resumed, the partial
            image kept as OUT.partial and the report written (status "aborted")
`,
  },
];

export function registerHelp(program: Command): void {
  program.helpCommand(false);
  program.addHelpText(
    "after",
    `\nTopics (memimage help TOPIC):\n${HELP_TOPICS.map((t) => `  ${t.name.padEnd(10)}${t.summary}`).join("\n")}\n\nExamples:\n  sudo memimage acquire -o /mnt/usb/host.lime\n  memimage process 1234 --freeze -o app.core\n  memimage verify host.lime\n  memimage help formats\n`,
  );
  program
    .command("help")
    .description(`help for a command, or a topic: ${HELP_TOPICS.map((t) => t.name).join(", ")}`)
    .argument("[topic]", "a command name or a topic")
    .addHelpText(
      "after",
      "\nExamples:\n  memimage help acquire\n  memimage help formats\n  man memimage      # the same, as a manual page\n",
    )
    .action((topic: string | undefined) => {
      if (topic === undefined) {
        program.outputHelp();
        return;
      }
      const found = HELP_TOPICS.find((t) => t.name === topic);
      if (found) {
        process.stdout.write(found.text);
        return;
      }
      const command = program.commands.find((c) => c.name() === topic || c.aliases().includes(topic));
      if (!command)
        throw new MemimageError(
          "usage",
          `no command or help topic "${topic}"; commands: ${program.commands.map((c) => c.name()).join(", ")}; topics: ${HELP_TOPICS.map((t) => t.name).join(", ")}`,
        );
      command.outputHelp(); // as --help prints it, examples included
    });
}
