// The man page, memimage(1), rendered in roff from the program's own definition: each command's usage,
// description, options and examples (its --help), and the help topics. One source, so it never drifts from --help.
import type { Command } from "commander";
import { HELP_TOPICS } from "./help.js";

export function renderManPage(program: Command, version: string): string {
  const lines = [
    `.TH MEMIMAGE 1 "" "memimage ${version}" "User Commands"`,
    ".SH NAME",
    `memimage \\- ${roff(program.description())}`,
    ".SH SYNOPSIS",
    ...program.commands.flatMap((c) => [`.B memimage ${c.name()}`, roff(c.usage()), ".br"]),
    ".SH DESCRIPTION",
    roff(
      "memimage copies the memory of a running Linux system, of one process, or of a QEMU guest into the formats analysts open (LiME, ELF core, raw, padded, AVML), hashes it as it streams, and writes a report of what was read, when, from where, and what could not be read.",
    ),
    ".SH COMMANDS",
    ...program.commands.flatMap(commandSection),
    ...HELP_TOPICS.flatMap((topic) => [`.SH "${topic.heading}"`, ...preformatted(topic.text)]),
    ".SH SEE ALSO",
    ".BR gdb (1),",
    ".BR crash (8),",
    ".BR vol (1)",
    "",
  ];
  return lines.join("\n");
}

function commandSection(command: Command): string[] {
  const help = command.createHelp();
  const options = help.visibleOptions(command);
  const args = help.visibleArguments(command);
  return [
    `.SS "memimage ${command.name()} ${roff(command.usage())}"`,
    roff(command.description()),
    ...args.flatMap((a) => [".TP", `.I ${a.name()}`, roff(a.description)]),
    ...options.flatMap((o) => [
      ".TP",
      `.B ${roff(o.flags)}`,
      roff(`${o.description}${o.defaultValue !== undefined ? ` (default: ${String(o.defaultValue)})` : ""}`),
    ]),
    ...preformatted(afterHelp(command)),
  ];
}

/** The text a command's addHelpText('after') adds to --help (examples, exit statuses), as --help prints it. */
function afterHelp(command: Command): string {
  let full = "";
  const previous = command.configureOutput();
  command.configureOutput({
    ...previous,
    writeOut: (text) => {
      full += text;
    },
  });
  try {
    command.outputHelp();
  } finally {
    command.configureOutput(previous);
  }
  return full.slice(command.helpInformation().length).replace(/^\n+/, "");
}

function preformatted(text: string): string[] {
  if (text.trim() === "") return [];
  return [".PP", ".nf", ...text.trimEnd().split("\n").map(roff), ".fi"];
}

/** Text safe in roff: backslashes and hyphens escaped, and no line read as a request. */
function roff(text: string): string {
  const escaped = text.replace(/\\/g, "\\e").replace(/-/g, "\\-");
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}
